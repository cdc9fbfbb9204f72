import json
import logging

import pytest

from tracesft.data import (
    R1_ZERO,
    Example,
    apply_template,
    filter_correct,
    load_examples,
    load_template,
    read_examples,
    to_r1_zero_response,
)
from tracesft.errors import DataError
from tracesft.grading import free_form_reward_fn


def write(tmp_path, lines, name="data.jsonl"):
    path = tmp_path / name
    path.write_bytes(b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n")
    return path


def test_load_all_three_forms(tmp_path):
    chat = {"messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": "1+1?", "info": {"reference_answer": "2", "level": 1}},
                         {"role": "assistant", "content": "2 </think> <answer> 2 </answer>"}], "model": "m1"}
    prompt = {"prompt": "2+2?", "completion": "4", "answer": "4", "id": 7}
    gsm = {"question": "3+3?", "answer": "3 and 3 make 6\n#### 6"}
    path = write(tmp_path, [json.dumps(chat), "", json.dumps(prompt), json.dumps(gsm)])
    ex = load_examples(path)
    assert [e.prompt for e in ex] == ["1+1?", "2+2?", "3+3?"]
    assert ex[0].response.startswith("2 </think>") and ex[0].ground_truth == "2"
    assert ex[0].meta["model"] == "m1" and ex[0].meta["level"] == 1
    assert ex[0].meta["source"] == f"{path}:1"
    assert (ex[1].response, ex[1].ground_truth, ex[1].meta["id"]) == ("4", "4", 7)
    assert ex[1].meta["source"] == f"{path}:3"  # the blank line 2 is skipped, numbering kept
    # GSM8K: the worked solution (with its #### line) is the response, a human-written trace; the number the truth
    assert ex[2].ground_truth == "6" and ex[2].response == "3 and 3 make 6\n#### 6" and "solution" not in ex[2].meta


@pytest.mark.parametrize(
    "line,message",
    [
        ('{"prompt": "a", ', "malformed JSON"),
        ('["a"]', "expected a JSON object"),
        ('{"prompt": 3}', "field 'prompt' must be a string"),
        ('{"response": "x"}', "unrecognised record"),
        ('{"messages": [{"role": "assistant", "content": "x"}]}', "no message with role 'user'"),
        ('{"messages": [{"role": "user"}]}', "missing field 'content'"),
        ('{"messages": [{"role": "bot", "content": "x"}]}', "role must be"),
        ('{"prompt": "a", "ground_truth": true}', "ground_truth"),
        (b'{"prompt": "caf\xe9"}', "invalid UTF-8"),
    ],
)
def test_bad_lines_name_file_line_and_problem(tmp_path, line, message):
    path = write(tmp_path, ['{"prompt": "ok", "response": "r"}', line])
    with pytest.raises(DataError, match=message) as info:
        load_examples(path)
    assert str(info.value).startswith(f"{path}:2: ")
    assert info.value.line == 2


def test_skip_invalid_reports_how_many_and_why(tmp_path, caplog):
    path = write(tmp_path, ['{"prompt": "ok"}', "not json", '{"prompt": 1}', '{"prompt": "ok2"}'])
    with caplog.at_level(logging.WARNING):
        examples, skipped = read_examples(path, skip_invalid=True)
    assert [e.prompt for e in examples] == ["ok", "ok2"]
    assert [s.line for s in skipped] == [2, 3]
    assert "skipped 2 invalid line(s)" in caplog.text


def test_required_fields_and_missing_file(tmp_path):
    path = write(tmp_path, ['{"prompt": "no response"}'])
    with pytest.raises(DataError, match=":1: no response"):
        load_examples(path, require_response=True)
    with pytest.raises(DataError, match="no ground truth"):
        load_examples(path, require_ground_truth=True)
    with pytest.raises(DataError, match="cannot read"):
        load_examples(tmp_path / "absent.jsonl")


def test_templates(tmp_path):
    assert R1_ZERO.endswith("User: {question}\nAssistant: <think>")  # responses continue inside <think>
    assert load_template("r1_zero") == R1_ZERO
    assert apply_template(load_template("question_only"), "What is {x}?") == "What is {x}?"
    custom = tmp_path / "t.txt"
    custom.write_text("Q: {question}\nA:\n")
    assert apply_template(load_template(str(custom)), "1+1") == "Q: 1+1\nA:"
    bad = tmp_path / "bad.txt"
    bad.write_text("no placeholder")
    with pytest.raises(ValueError, match="exactly once"):
        load_template(str(bad))
    with pytest.raises(ValueError, match="unknown template"):
        load_template("nope")


def test_filter_correct_report():
    def r1(a):
        return f"x </think> <answer> {a} </answer>"

    examples = [
        Example("p1", r1("4"), "4", {"model": "A", "source": "f:1"}),
        Example("p2", r1("5"), "4", {"model": "A", "source": "f:2"}),
        Example("p3", "no tags 4", "4", {"model": "B", "source": "f:3"}),
        Example("p4", r1("4"), None, {"model": "B", "source": "f:4"}),
        Example("p5", None, "4", {"model": "B", "source": "f:5"}),
        Example("p6", r1(r"\frac{1}{2}"), "0.5", {"model": "B", "source": "f:6"}),
    ]
    kept, report = filter_correct(examples, workers=2)
    assert [e.prompt for e in kept] == ["p1", "p6"]
    assert kept[1].meta["extracted_answer"] == r"\frac{1}{2}"
    assert (report.n_before, report.n_after) == (6, 2)
    assert report.rejected == {"no_response": 1, "no_ground_truth": 1, "bad_format": 1, "wrong_answer": 1,
                               "timed_out": 0}
    assert report.by_group == {"A": {"total": 2, "kept": 1}, "B": {"total": 4, "kept": 1}}
    assert report.samples["wrong_answer"][0] == {"source": "f:2", "answer": "5", "ground_truth": "4"}
    assert any("kept 2 of 6" in line for line in report.lines())


def test_filter_with_custom_reward_and_free_form():
    examples = [Example("p", "The answer is 12.", "12"), Example("q", "The answer is 13.", "12")]
    kept, _ = filter_correct(examples, free_form_reward_fn)
    assert [e.prompt for e in kept] == ["p"]
    kept, report = filter_correct(examples, lambda r, g: {"format_reward": 1.0, "answer_reward": 0.0, "reward": 0.0})
    assert kept == [] and report.rejected["wrong_answer"] == 2


def test_to_r1_zero_response_is_graded_correct():
    from tracesft.grading import r1_zero_reward_fn

    resp = to_r1_zero_response("We add. The answer is 12.\n", "12")
    assert resp == "We add. The answer is 12. </think> <answer> 12 </answer>"
    assert r1_zero_reward_fn(resp, "12")["reward"] == 1.0


def test_champ_import_and_reference_answers():
    pytest.importorskip("champ_dataset", reason="the 'champ' extra is not installed")
    from collections import Counter

    from tracesft.data.champ import champ_records, split_reference_answer

    assert split_reference_answer("C(10, 5), or equivalently 252") == ["C(10, 5)", "252"]
    assert split_reference_answer("5/14, or approximately 35.7%") == ["5/14"]
    stats = Counter()
    records = champ_records(stats)
    assert len({r["problem_id"] for r in records}) == 270
    assert stats["imported"] == len(records) > 15_000
    assert sum(v for k, v in stats.items() if k.startswith("skipped_")) + len(records) == 270 * 72
    assert {r["model"] for r in records} == {"GPT-3.5", "GPT-4", "GPT-4 Turbo", "PaLM 2 Medium"}
    r = records[0]
    assert r["messages"][0]["role"] == "user" and r["messages"][1]["role"] == "assistant"
    assert isinstance(r["messages"][0]["info"]["reference_answer"], list)


def test_partial_reward_keeps_detailed_fields():
    import functools

    from tracesft.grading import detailed_grader, grade_free_form

    examples = [Example("p", "The answer is 12.", "12"), Example("q", "The answer is 13.", "12")]
    reward = functools.partial(free_form_reward_fn, timeout=0.5)
    kept, report = filter_correct(examples, reward)
    assert [e.prompt for e in kept] == ["p"]
    assert kept[0].meta["extracted_answer"] == "12"  # the answer survives the partial
    assert report.samples["wrong_answer"][0]["answer"] == "13"
    grader = detailed_grader(reward)
    assert grader.func is grade_free_form and grader.keywords == {"timeout": 0.5}  # the bound is kept too


def test_chat_records_with_system_message_and_several_turns(tmp_path):
    ok = {"messages": [{"role": "system", "content": "Be brief."},
                       {"role": "user", "content": "1+1?", "info": {"reference_answer": "2"}},
                       {"role": "assistant", "content": "2"}]}
    two_turns = {"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"},
                              {"role": "user", "content": "and 2+2?", "info": {"reference_answer": "4"}},
                              {"role": "assistant", "content": "4"}]}
    late_system = {"messages": [{"role": "user", "content": "1+1?"}, {"role": "system", "content": "x"}]}
    two_users = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    path = write(tmp_path, [json.dumps(r) for r in (ok, two_turns, late_system, two_users)])
    examples, skipped = read_examples(path, skip_invalid=True)
    assert len(examples) == 2
    ex = examples[0]
    assert (ex.prompt, ex.response, ex.ground_truth, ex.meta["system"]) == ("1+1?", "2", "2", "Be brief.")
    assert "context" not in ex.meta
    multi = examples[1]  # the last user turn is the prompt, its reply the response, the rest context
    assert (multi.prompt, multi.response, multi.ground_truth) == ("and 2+2?", "4", "4")
    assert multi.meta["context"] == [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]
    assert [s.line for s in skipped] == [3, 4]
    assert "messages[1]: a system message must come first" in skipped[0].reason
    assert "messages[1]: expected an assistant turn, got user" in skipped[1].reason
    with pytest.raises(DataError, match=rf"{path}:3: messages\[1\]: a system message must come first"):
        load_examples(path)


def test_math_schema_and_aliases(tmp_path):
    rows = [
        {"problem": "What is 1+1?", "solution": "1+1=2, so \\boxed{2}", "level": "Level 1", "type": "Algebra"},
        {"problem": "What is 2+3?", "solution": "so \\boxed{5}", "answer": "5.0"},
        {"query": "q?", "response": "r", "answer": "7"},
        {"instruction": "Add.", "input": "2 and 2", "output": "4", "ground_truth": "4"},
        {"instruction": "Say hi.", "input": "", "output": "hi"},
        {"input": "3+3", "target": "6"},
        {"prompt": "p", "problem": "ignored: prompt wins", "response": "x"},
    ]
    path = write(tmp_path, [json.dumps(r) for r in rows])
    ex = load_examples(path)
    assert (ex[0].prompt, ex[0].response, ex[0].ground_truth) == ("What is 1+1?", "1+1=2, so \\boxed{2}", "2")
    assert ex[0].meta["level"] == "Level 1" and ex[0].meta["type"] == "Algebra"
    assert ex[1].ground_truth == "5.0"  # the answer field wins over the boxed solution
    assert (ex[2].prompt, ex[2].response, ex[2].ground_truth) == ("q?", "r", "7")
    assert (ex[3].prompt, ex[3].response, ex[3].ground_truth) == ("Add.\n\n2 and 2", "4", "4")
    assert (ex[4].prompt, ex[4].response) == ("Say hi.", "hi")
    assert (ex[5].prompt, ex[5].response, ex[5].ground_truth) == ("3+3", "6", None)
    assert (ex[6].prompt, ex[6].meta["problem"]) == ("p", "ignored: prompt wins")


def test_unrecognised_record_lists_what_was_expected_and_found(tmp_path):
    path = write(tmp_path, ['{"text": "a", "label": 1}'])
    with pytest.raises(DataError, match=r":1: unrecognised record: expected one of the fields messages, prompt, "
                                        r"question, problem, query, instruction, input; got \['label', 'text'\]"):
        load_examples(path)


def test_math_file_filters_to_r1_zero_and_inspects(tmp_path, capsys):
    from tracesft.cli import main
    from tracesft.grading import r1_zero_reward_fn

    rows = [{"problem": "What is 1+1?", "solution": "1+1=2, so \\boxed{2}"},
            {"problem": "What is 2+2?", "solution": "2+2=5, so \\boxed{5}", "answer": "4"}]
    path = write(tmp_path, [json.dumps(r) for r in rows], name="math.jsonl")
    out = tmp_path / "kept.jsonl"
    assert main(["filter", str(path), "--out", str(out), "--template", "question_only", "--to-r1-zero",
                 "--quiet"]) == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(kept) == 1 and r1_zero_reward_fn(kept[0]["response"], kept[0]["ground_truth"])["reward"] == 1.0
    capsys.readouterr()
    assert main(["data", "inspect", str(path), "--json", str(tmp_path / "i.json")]) == 0
    printed = capsys.readouterr().out
    assert "2 rows" in printed and "schema math: 2 rows" in printed and "ground truth: 2 (100.0%)" in printed
    report = json.loads((tmp_path / "i.json").read_text())
    assert report["unit"] == "characters" and report["truncated_at"]["256"] == 2  # the r1_zero prompt is long
    assert report["max_length_for_99_percent"] == report["total_length"]["max"]


def test_inspect_counts_tokens_and_truncation(tmp_path, qwen_tok):
    from tracesft.data.inspect import inspect_data

    rows = [{"prompt": "x " * n, "response": "y " * n, "ground_truth": "1"} for n in (10, 100, 1000)]
    path = write(tmp_path, [json.dumps(r) for r in rows])
    r = inspect_data(path, qwen_tok, template="question_only")
    prompt_tokens = [len(qwen_tok("x " * n)["input_ids"]) for n in (10, 100, 1000)]
    assert r["prompt_length"]["max"] == prompt_tokens[-1] and r["unit"] == "tokens"
    assert r["truncated_at"][256] == 1 and r["truncated_at"][4096] == 0


def test_inspect_splits_reasoning_and_answer(tmp_path, qwen_tok):
    from tracesft.data.inspect import format_inspection, inspect_data

    think = "step " * 300  # about 300 tokens of reasoning
    rows = [{"prompt": "Q", "response": f"{think}</think> <answer> {a} </answer>", "ground_truth": "1"}
            for a in ("1", "word " * 400)] + [{"prompt": "Q", "response": "no tags", "ground_truth": "1"}]
    r = inspect_data(write(tmp_path, [json.dumps(x) for x in rows]), qwen_tok, template="question_only")
    n_think = len(qwen_tok(think + "</think>", add_special_tokens=False)["input_ids"])
    assert r["with_think_end"] == 2 and r["think_length"]["max"] == n_think and 256 < n_think < 512
    assert r["answer_length"]["max"] > 400
    # at 256 both traces are cut inside the reasoning; at 512 only the long answer is over, cut inside it
    assert r["cut_at"][256] == {"over": 2, "in_reasoning": 2, "in_answer": 0}
    assert r["cut_at"][512] == {"over": 1, "in_reasoning": 0, "in_answer": 1}
    assert r["cut_at"][1024]["over"] == 0
    assert "cut inside the reasoning (</think> and the answer lost) / inside the answer: 256: 2/0, 512: 0/1" in \
        format_inspection(r)
