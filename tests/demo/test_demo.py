"""`tracesft demo` (fast) end to end, its sweep, and the synthetic task's teachers."""

import json

import pytest


@pytest.mark.slow
def test_demo_fast(tmp_path, capsys):
    from tracesft.demo.run import run_demo

    run_dir = run_demo(str(tmp_path / "demo"), fast=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("accuracy_before", "accuracy_after", "format_rate_after", "n_eval", "wall_seconds"):
        assert key in summary
    assert summary["n_eval"] == 10 and summary["samples_per_prompt"] == 4
    for side in ("before", "after"):
        assert set(summary[side]) >= {"avg@4", "pass@1", "pass@4", "maj@4", "hit_max_new_tokens_rate",
                                      "unclosed_think_rate", "no_answer_rate", "repetition_rate"}
        assert summary[side]["pass@1"] == pytest.approx(summary[side]["avg@4"])
    assert summary["after"]["avg@4"] == summary["accuracy_after"]
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("pass@4") for line in lines) and any("repetition loop" in line for line in lines)
    assert lines[-1] == str(run_dir.resolve())
    assert (run_dir / "train" / "loss.png").is_file()


@pytest.mark.slow
def test_demo_sweep_fast(tmp_path, capsys):
    from tracesft.demo.run import run_demo_sweep

    run_dir = run_demo_sweep(str(tmp_path / "ds"), fast=True)
    rows = json.loads((run_dir / "sweep" / "sweep.json").read_text())
    assert [(r["size"], r["filter"]) for r in rows] == [(64, "off"), (128, "off"), (64, "on"), (128, "on")]
    assert all(r["kept"] < r["examples"] for r in rows if r["filter"] == "on")  # the grader dropped the carry slips
    assert all(r["kept"] == r["examples"] for r in rows if r["filter"] == "off")
    out = capsys.readouterr().out
    assert "forget a carry or borrow" in out and out.strip().splitlines()[-1] == str(run_dir.resolve())


def test_carry_teacher_is_wrong_exactly_where_a_carry_is_forgotten():
    from tracesft.demo.task import make_dataset

    records = make_dataset(400, seed=0, wrong_share=1.0, max_digits=2, word_problems=False, mistake="carry")
    for r in records:
        a, op, b = r["prompt"].removeprefix("What is ").rstrip("?").split(" ")
        a, b = int(a), int(b)
        needs_carry = (a % 10 + b % 10 >= 10) if op == "plus" else (a % 10 < b % 10)
        needs_carry = needs_carry or (op == "plus" and (a // 10 % 10 + b // 10 % 10 >= 10)) or \
            (op == "minus" and (a // 10 % 10 < b // 10 % 10))
        assert r["teacher_correct"] == (not needs_carry), r
    # The main demo's data is what it was before the carry teacher existed (digest of the earlier code's output).
    import hashlib

    digest = hashlib.sha256(json.dumps(make_dataset(200, seed=1)).encode()).hexdigest()
    assert digest == "5958c4c230602a53de3b2f9d4d113ad7b018615b507223dab9d756f37c2458ed"


def test_demo_packing_config(setup_dir):
    """`tracesft demo --packing`: micro-batches of micro_batch_size x the mean example length in tokens,
    in a config that validates with packing on."""
    from transformers import AutoTokenizer

    from tracesft.demo.run import FAST, _packing_budget, _train_config
    from tracesft.demo.task import DEMO_TEMPLATE

    tok = AutoTokenizer.from_pretrained(setup_dir / "model")
    records = [json.loads(line) for line in (setup_dir / "train.jsonl").read_text().splitlines()]
    mean = sum(len(tok(DEMO_TEMPLATE.replace("{question}", r["prompt"]) + r["response"])["input_ids"])
               for r in records) / len(records)
    budget = _packing_budget(setup_dir, setup_dir / "model", FAST)
    assert budget == max(128, round(FAST.micro_batch_size * mean))
    cfg = _train_config(setup_dir, setup_dir / "model", FAST, 0, packing_tokens=budget)
    assert cfg.packing and cfg.max_tokens_per_micro_batch == budget
