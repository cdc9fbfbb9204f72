"""The CLI: filter, eval and plot end to end in-process; `python -m tracesft` exits 2 with one line;
real bugs keep their traceback; choices come from the registries. (Bad input per subcommand:
test_cli_errors.py.)"""

import json
import subprocess
import sys

import pytest
from helpers.train import make_cfg

from tracesft.cli import main
from tracesft.train import train


def test_filter_cli_writes_kept_and_report(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    rows = [
        {"prompt": "1+1?", "response": "The answer is 2.", "ground_truth": "2", "model": "A"},
        {"prompt": "2+2?", "response": "The answer is 5.", "ground_truth": "4", "model": "A"},
    ]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "kept.jsonl"
    rc = main(["filter", str(src), "--out", str(out), "--template", "question_only", "--to-r1-zero", "--quiet"])
    assert rc == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(kept) == 1
    assert kept[0]["response"] == "The answer is 2. </think> <answer> 2 </answer>"
    assert kept[0]["model"] == "A"
    report = json.loads((tmp_path / "kept.report.json").read_text())
    assert report["n_before"] == 2 and report["n_after"] == 1 and report["rejected"]["wrong_answer"] == 1
    assert "kept 1 of 2" in capsys.readouterr().out


def test_filter_keeps_conversations_whole(tmp_path):
    """A kept conversation with tool calls, earlier turns or reasoning_content is written as a chat
    record that reads back to the same example; a plain one-turn chat record as prompt/response."""
    from tracesft.data.loaders import iter_examples

    call = {"type": "function", "function": {"name": "calc", "arguments": {"x": "2+2"}}, "id": "c1"}
    rows = [
        {"messages": [{"role": "system", "content": "brief"}, {"role": "user", "content": "2+3?"},
                      {"role": "assistant", "content": "It is \\boxed{5}."}], "ground_truth": "5"},
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "", "tool_calls": [call]},
                      {"role": "tool", "content": "4", "tool_call_id": "c1"},
                      {"role": "assistant", "content": "It is \\boxed{4}."}], "ground_truth": "4",
         "tools": [{"type": "function", "function": {"name": "calc"}}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                      {"role": "user", "content": "1+1?"},
                      {"role": "assistant", "content": "\\boxed{2}", "reasoning_content": "one and one"}],
         "ground_truth": "2"},
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "", "tool_calls": [call]},
                      {"role": "tool", "content": "4", "tool_call_id": "c1"},
                      {"role": "assistant", "content": "It is \\boxed{5}."}], "ground_truth": "4"},
    ]
    src, out = tmp_path / "in.jsonl", tmp_path / "kept.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["filter", str(src), "--out", str(out), "--reward", "free_form", "--quiet"]) == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(kept) == 3 and "response" in kept[0] and kept[0]["system"] == "brief"
    assert kept[1]["messages"][1]["tool_calls"][0]["function"]["name"] == "calc" and kept[1]["tools"]
    assert kept[2]["messages"][-1]["reasoning_content"] == "one and one" and "context" not in kept[2]
    before, after = list(iter_examples(str(src)))[:3], list(iter_examples(str(out)))
    assert after[0].messages is None and [a.messages for a in before[1:]] == [b.messages for b in after[1:]]
    for a, b in zip(before, after):
        assert (a.prompt, a.response, a.ground_truth) == (b.prompt, b.response, b.ground_truth)
        assert a.meta.get("system") == b.meta.get("system") and a.meta.get("context") == b.meta.get("context")
    assert main(["filter", str(src), "--out", str(tmp_path / "r1.jsonl"), "--reward", "free_form",
                 "--to-r1-zero", "--quiet"]) == 0
    last = json.loads((tmp_path / "r1.jsonl").read_text().splitlines()[2])["messages"][-1]
    assert last == {"role": "assistant", "content": "one and one\n\n\\boxed{2} </think> <answer> 2 </answer>"}


@pytest.mark.slow
def test_cli_bad_line_gives_one_line_error(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"prompt": "a", "response": "b", "ground_truth": "c"}\n{oops\n')
    proc = subprocess.run([sys.executable, "-m", "tracesft", "filter", str(src), "--out", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {src}:2: malformed JSON (Expecting property name "
                                                "enclosed in double quotes at column 2)"]
    assert "Traceback" not in proc.stderr


def test_eval_cli_writes_generations_and_summary(tmp_path, capsys):
    from helpers.train import tiny_model_dir

    model_dir = tiny_model_dir(tmp_path / "m")
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "1 + 2", "ground_truth": "3"}\n{"question": "2 + 2", "answer": "#### 4"}\n')
    out = tmp_path / "run"
    rc = main(["eval", "--model", str(model_dir), "--data", str(data), "--max-new-tokens", "4", "--out", str(out)])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_examples"] == 2 and 0.0 <= summary["accuracy"] <= 1.0
    gens = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert [g["ground_truth"] for g in gens] == ["3", "4"]
    assert gens[0]["prompt"].endswith("User: 1 + 2\nAssistant: <think>")
    assert "accuracy" in capsys.readouterr().out
    # K samples per prompt: indices, the multi-sample metrics in summary.json and the table; --limit.
    out = tmp_path / "run8"
    rc = main(["eval", "--model", str(model_dir), "--data", str(data), "--max-new-tokens", "4", "--out", str(out),
               "--samples", "8", "--temperature", "1.0", "--seed", "3", "--limit", "1"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_examples"] == 1 and summary["n_responses"] == 8 and summary["samples_per_prompt"] == 8
    for key in ("avg@8", "pass@1", "pass@8", "maj@8", "hit_max_new_tokens_rate", "unclosed_think_rate",
                "no_answer_rate", "repetition_rate", "length_buckets", "length_percentiles", "solve_rate_histogram"):
        assert key in summary
    assert summary["hit_max_new_tokens_rate"] > 0  # 4 tokens of a random model: cut off
    gens = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert [(g["prompt_index"], g["sample_index"]) for g in gens] == [(0, s) for s in range(8)]
    printed = capsys.readouterr().out
    assert "pass@8" in printed and "maj@8" in printed and "responses by length in tokens" in printed


def test_real_bugs_keep_their_traceback_and_debug_shows_user_errors(tmp_path, monkeypatch, capsys):
    from tracesft import cli

    def buggy(args):
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(cli, "_cmd_plot", buggy)
    with pytest.raises(RuntimeError, match="a bug"):  # not turned into a one-line "error:"
        cli.main(["plot", str(tmp_path)])
    monkeypatch.undo()
    assert cli.main(["plot", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    from tracesft.errors import UserInputError

    with pytest.raises(UserInputError, match="metrics.jsonl not found"):
        cli.main(["--debug", "plot", str(tmp_path / "nothing")])


def test_missing_extra_is_one_error_type_naming_the_extra(monkeypatch):
    import builtins

    from tracesft.errors import MissingExtraError, TracesftError
    from tracesft.plots import plot_run

    real_import = builtins.__import__

    def no_matplotlib(name, *a, **kw):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(MissingExtraError, match=r"pip install 'tracesft\[plots\]'") as e:
        plot_run("anywhere")
    assert isinstance(e.value, TracesftError) and isinstance(e.value, ImportError) and e.value.extra == "plots"


def test_reward_choices_come_from_the_registry():
    from tracesft.cli import build_parser
    from tracesft.grading import REWARDS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for command in ("filter", "eval"):
        reward = next(a for a in sub.choices[command]._actions if a.dest == "reward")
        assert list(reward.choices) == list(REWARDS)


def test_plot_cli(setup_dir, tmp_path, capsys):
    out = tmp_path / "p"
    train(make_cfg(setup_dir, out, max_steps=2))
    assert main(["plot", str(out)]) == 0
    assert (out / "loss.png").stat().st_size > 1000
    assert main(["plot", str(tmp_path / "nothing")]) == 2
