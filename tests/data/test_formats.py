"""Template and grader chosen from the data (auto), overrides, the all-bad-format stop, to_r1_zero."""

import json
import logging

import pytest

from tracesft.cli import main
from tracesft.data import Example
from tracesft.data.formats import convert_to_r1_zero, detect_format, format_hint, resolve_format
from tracesft.grading import r1_zero_reward_fn

TAGGED = Example("1+1?", "1 plus 1 </think> <answer> 2 </answer>", "2")
FREE = Example("1+1?", "We add: $1+1=2$, so the answer is \\boxed{2}.", "2")
PROMPT_ONLY = Example("1+1?", None, "2")


def math_rows(n=6):
    return [{"problem": f"What is {i}+{i}?", "solution": f"Adding, {i}+{i} = {2 * i}, so \\boxed{{{2 * i}}}."}
            for i in range(n)]


def test_detect_format_from_responses():
    assert (detect_format([FREE, TAGGED]).template, detect_format([FREE, TAGGED]).reward) == ("r1_zero", "r1_zero")
    assert (detect_format([FREE]).template, detect_format([FREE]).reward) == ("question_only", "free_form")
    none = detect_format([PROMPT_ONLY])
    assert (none.template, none.reward) == ("r1_zero", "r1_zero") and "no responses" in none.reason


def test_resolve_format_user_choice_wins_and_logs_one_line(caplog):
    with caplog.at_level(logging.INFO, logger="tracesft.data.formats"):
        fmt = resolve_format("auto", "auto", [FREE], what="math.jsonl")
    assert (fmt.template, fmt.reward) == ("question_only", "free_form")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "template question_only, reward free_form, from math.jsonl" in lines[0]
    assert (resolve_format("r1_zero", "free_form", [FREE]).template, resolve_format("r1_zero", "free_form", [FREE])
            .reward) == ("r1_zero", "free_form")
    assert resolve_format("r1_zero", "auto", [FREE]).reward == "r1_zero"  # the grader follows an explicit template
    assert resolve_format("question_only", "auto", [TAGGED]).reward == "free_form"
    assert resolve_format("auto", "free_form", [TAGGED]) .template == "r1_zero"


def test_convert_to_r1_zero_keeps_tagged_and_drops_unanswered():
    no_answer = Example("q", "I do not know.", "2")
    out, tagged, dropped = convert_to_r1_zero([FREE, TAGGED, no_answer])
    assert (tagged, dropped, len(out)) == (1, 1, 2)
    assert out[0].response.endswith("</think> <answer> 2 </answer>") and out[1] is TAGGED
    assert r1_zero_reward_fn(out[0].response, "2")["reward"] == 1.0


def test_format_hint_only_when_every_graded_response_fails_format():
    assert format_hint("r1_zero", 3, 4, flag="--reward") is None
    assert format_hint("r1_zero", 0, 0, flag="--reward") is None
    assert "set --reward free_form" in str(format_hint("r1_zero", 4, 4, flag="--reward"))


def test_filter_math_jsonl_with_defaults_keeps_the_right_ones(tmp_path, capsys):
    rows = math_rows()
    rows[0]["answer"] = "7"  # wrong
    src = tmp_path / "math.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "kept.jsonl"
    assert main(["filter", str(src), "--out", str(out), "--quiet"]) == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(kept) == 5 and json.loads((tmp_path / "kept.report.json").read_text())["reward"] == "free_form"


def test_filter_that_would_drop_everything_for_format_stops_with_the_fix(tmp_path, capsys):
    src = tmp_path / "math.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in math_rows()))
    rc = main(["filter", str(src), "--out", str(tmp_path / "kept.jsonl"), "--reward", "r1_zero", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "all 6 responses fail the r1_zero format check" in err[0] and "set --reward free_form" in err[0]


def test_gsm8k_records_filter_on_their_worked_solutions(tmp_path, capsys):
    rows = [{"question": "Ann has 3 apples and buys 4. How many?", "answer": "3 + 4 = <<3+4=7>>7 apples.\n#### 7"},
            {"question": "Bob has 2 pens and loses 1. How many?", "answer": "2 - 1 = <<2-1=1>>1 pen.\n#### 1"}]
    src = tmp_path / "gsm8k.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "kept.jsonl"
    assert main(["filter", str(src), "--out", str(out), "--quiet"]) == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [k["response"] for k in kept] == [r["answer"] for r in rows]
    assert [k["ground_truth"] for k in kept] == ["7", "1"]


@pytest.mark.parametrize("to_r1_zero", [False, True])
def test_train_resolves_auto_and_to_r1_zero(setup_dir, tmp_path, to_r1_zero, caplog):
    from helpers.train import make_cfg

    from tracesft.models.loading import load_tokenizer
    from tracesft.train.builders import build_train_data, resolve_run_format
    from tracesft.train.distributed import DistInfo

    cfg = make_cfg(setup_dir, tmp_path / "run", template="auto", filter_correct=True, to_r1_zero=to_r1_zero,
                   max_length=2048)
    examples = [Example(f"What is {i}+{i}?", f"{i}+{i}={2 * i}, so \\boxed{{{2 * i}}}.", str(2 * i))
                for i in range(8)]
    report = {}
    resolved, filter_reward = resolve_run_format(cfg, examples, report)
    assert filter_reward == "free_form"
    expect = "r1_zero" if to_r1_zero else "question_only"
    assert (resolved.template, report["template"]) == (expect, expect)
    data = build_train_data(resolved, examples, report, load_tokenizer(cfg.model), DistInfo(), progress=False,
                            filter_reward=filter_reward)
    assert report["filter"]["n_after"] == 8 and len(data.train_set) == 8
    if to_r1_zero:
        assert report["n_converted_r1_zero"] == 8


@pytest.mark.parametrize("record,truth", [
    ({"messages": [{"role": "user", "content": "q", "info": {"reference_answer": "1"}},
                   {"role": "assistant", "content": "r"}], "answer": "2"}, "1"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}],
      "info": {"reference_answer": "3", "level": 2}}, "3"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}], "ground_truth": "4"}, "4"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}], "answer": "5"}, "5"),
])
def test_chat_ground_truth_where_people_put_it(tmp_path, record, truth):
    from tracesft.data import load_examples

    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (ex,) = load_examples(path, require_ground_truth=True)
    assert ex.ground_truth == truth
    assert "answer" not in ex.meta or truth == "1"  # the field used is not repeated in meta


def test_missing_ground_truth_error_names_the_fields_read(tmp_path):
    from tracesft.data import load_examples
    from tracesft.errors import DataError

    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n"
                    + json.dumps({"prompt": "q"}) + "\n")
    with pytest.raises(DataError) as e:
        load_examples(path, require_ground_truth=True)
    assert str(e.value).endswith(":1: no ground truth (read from messages[user].info.reference_answer, "
                                 "info.reference_answer, ground_truth or answer)")
    path.write_text(json.dumps({"prompt": "q"}) + "\n")
    with pytest.raises(DataError, match=r":1: no ground truth \(read from 'ground_truth' or 'answer'\)"):
        load_examples(path, require_ground_truth=True)
    with pytest.raises(DataError, match=r":1: no response \(read from 'response' or 'completion'\)"):
        load_examples(path, require_response=True)


def test_prompt_only_eval_data_takes_the_format_the_model_was_trained_with(tmp_path):
    from tracesft.data.formats import trained_format

    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "checkpoints" / "step-00000002").mkdir(parents=True)
    assert trained_format(run / "final") is None
    (run / "summary.json").write_text(json.dumps({"template": "question_only", "reward": "free_form"}))
    for model in (run / "final", run / "checkpoints" / "step-00000002"):
        fallback = trained_format(model)
        fmt = resolve_format("auto", "auto", [PROMPT_ONLY], fallback=fallback)
        assert (fmt.template, fmt.reward) == ("question_only", "free_form") and str(run) in fmt.reason
    assert resolve_format("auto", "auto", [TAGGED], fallback=fallback).template == "r1_zero"  # responses decide first
