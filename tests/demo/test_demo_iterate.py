"""`tracesft demo --iterate --fast`: the loop's demo end to end (a smoke run: a tiny model that
memorises four problems, so its figures say nothing about expert iteration)."""

import json

import pytest


@pytest.mark.slow
def test_demo_iterate_fast(tmp_path, capsys):
    from tracesft.cli import main

    assert main(["demo", "--iterate", "--fast", "--out", str(tmp_path / "d")]) == 0
    run_dir = tmp_path / "d"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(summary["accuracy_per_round"]) == 3 and len(summary["kept_per_round"]) == 2
    assert summary["accuracy_per_round"] == json.loads((run_dir / "iterate" / "summary.json").read_text())[
        "accuracy_per_round"]
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == str(run_dir.resolve())
    assert any(line.split()[:1] == ["2"] for line in out)  # the table's row of round 2
    assert (run_dir / "iterate" / "round-2" / "kept.jsonl").is_file()


def test_demo_iterate_flags_conflict(capsys):
    from tracesft.cli import main

    assert main(["demo", "--iterate", "--sweep"]) == 2
    assert "--sweep and --iterate: choose one" in capsys.readouterr().err
