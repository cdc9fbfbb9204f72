"""`tracesft filter` under its grading bound: workers capped at the cores, timeouts counted apart,
and a filter where too many grades timed out ends non-zero."""

import json
import os

from tracesft.cli import main


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_workers_above_the_cores_are_capped(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    _write(data, [{"prompt": "p", "response": "</think> <answer>4</answer>", "ground_truth": "4"}] * 3)
    assert main(["filter", str(data), "--out", str(tmp_path / "kept.jsonl"), "--workers", "400", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"using {os.cpu_count()}" in out and "kept 3 of 3" in out


def test_a_filter_whose_grades_time_out_ends_nonzero(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    hostile = "</think> <answer> 10^{10^{10}} + 9^{9^{9^{9}}} </answer>"  # symbolic work without end
    _write(data, [{"prompt": "p", "response": hostile, "ground_truth": "7"},
                  {"prompt": "p", "response": "</think> <answer>7</answer>", "ground_truth": "7"}])
    out = tmp_path / "kept.jsonl"
    assert main(["filter", str(data), "--out", str(out), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 grades timed out" in captured.err and "results are incomplete" in captured.err
    report = json.loads((tmp_path / "kept.report.json").read_text())
    assert report["rejected"]["timed_out"] == 1 and len(out.read_text().splitlines()) == 1


def test_eval_records_count_timeouts_apart():
    from tracesft.evaluate.records import grade_records
    from tracesft.grading import r1_zero_reward_fn

    hostile = "</think> <answer> 10^{10^{10}} + 9^{9^{9^{9}}} </answer>"
    records = [{"prompt": "p", "response": r, "ground_truth": "7", "response_length": 5, "mean_token_entropy": 0.0,
                "prompt_index": i,
                "sample_index": 0} for i, r in enumerate([hostile, "</think> <answer>7</answer>"])]
    out = grade_records(records, r1_zero_reward_fn, generated_tokens=10, seconds=1.0)
    assert [r["timed_out"] for r in out["records"]] == [True, False]
    assert out["summary"]["timed_out_rate"] == 0.5
