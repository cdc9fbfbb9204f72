"""Outputs whole or absent, directories owned, never an input (tracesft.outputs and the CLI)."""

import json

import pytest

from tracesft.cli import main
from tracesft.errors import UserInputError
from tracesft.outputs import MARKER, OutputLock, atomic_dir, atomic_writer, check_output, claim_dir, clean_stale


def test_atomic_writer_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as f:
            f.write("half of the new")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_atomic_dir_is_whole_or_absent(tmp_path):
    target = tmp_path / "final"
    with pytest.raises(RuntimeError):  # a failure before the first version is whole: no final/ at all
        with atomic_dir(target) as tmp:
            (tmp / "model.safetensors").write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b").write_text("2")
    assert (target / "sub" / "b").read_text() == "2" and oct(target.stat().st_mode & 0o777) == "0o755"
    with pytest.raises(KeyboardInterrupt):  # a failure while replacing it: the old one stays, whole
        with atomic_dir(target) as tmp:
            (tmp / "a").write_text("new")
            raise KeyboardInterrupt
    assert (target / "a").read_text() == "1" and [p.name for p in tmp_path.iterdir()] == ["final"]
    with atomic_dir(target) as tmp:  # replaced whole: nothing of the old one is left
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c"] and [p.name for p in tmp_path.iterdir()] == ["final"]


def test_clean_stale_removes_temporaries_and_puts_back_a_replaced_directory(tmp_path):
    (tmp_path / ".final.dirtmp-x1").mkdir()  # a kill during the write
    (tmp_path / ".final.dirold-123").mkdir()  # a kill between the two renames: final/ is gone
    (tmp_path / ".final.dirold-123" / "model").write_text("whole")
    (tmp_path / ".summary.json.ab_12.tmp").write_text("{")
    (tmp_path / ".hidden").write_text("the user's")
    assert sorted(clean_stale(tmp_path)) == [".final.dirold-123", ".final.dirtmp-x1", ".summary.json.ab_12.tmp"]
    assert (tmp_path / "final" / "model").read_text() == "whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "final"]


def test_sigterm_during_filter_leaves_no_temporary_file(tmp_path, capsys, monkeypatch):
    import os
    import signal

    import tracesft.data as data_module

    data = tmp_path / "in.jsonl"
    data.write_text('{"prompt": "1+1?", "response": "<answer>2</answer>", "ground_truth": "2"}\n' * 3)
    real = data_module.filter_correct

    def graded_then_killed(*a, **kw):
        result = real(*a, **kw)
        os.kill(os.getpid(), signal.SIGTERM)
        return result

    monkeypatch.setattr(data_module, "filter_correct", graded_then_killed)
    monkeypatch.setattr("tracesft.cli._FILTER_CHUNK", 1)  # the signal comes after the first chunk is written
    rc = main(["filter", str(data), "--out", str(tmp_path / "kept.jsonl"), "--workers", "1", "--quiet"])
    assert rc == 130 and "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kept.jsonl.lock", "in.jsonl"]


def test_outputs_inside_an_input_directory_are_refused(tmp_path):
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "data-00000-of-00001.arrow").write_bytes(b"x")
    for out in (dataset / "data-00000-of-00001.arrow", dataset / "state.json"):
        with pytest.raises(UserInputError, match="overlaps the input"):
            check_output(out, [dataset])
    with pytest.raises(UserInputError, match="overlaps the input"):
        check_output(dataset, [dataset], directory=True)
    with pytest.raises(UserInputError, match="overlaps the input"):  # a directory output holding an input
        check_output(tmp_path, [dataset / "data-00000-of-00001.arrow"], directory=True)
    check_output(tmp_path / "kept.jsonl", [dataset])


def test_claim_dir_owns_empty_and_own_directories_only(tmp_path):
    assert claim_dir(tmp_path / "new", "eval") == tmp_path / "new"
    assert json.loads((tmp_path / "new" / MARKER).read_text()) == {"kind": "eval"}
    claim_dir(tmp_path / "new", "eval")  # its own again
    with pytest.raises(UserInputError, match="is a tracesft eval directory, not a train one"):
        claim_dir(tmp_path / "new", "train")
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "summary.json").write_text("{}")
    with pytest.raises(UserInputError, match=r"not empty and was not made by tracesft eval \(it holds summary.json\)"):
        claim_dir(tmp_path / "user", "eval")
    assert not (tmp_path / "user" / MARKER).exists()


def test_a_second_writer_of_one_output_is_refused(tmp_path):
    out = tmp_path / "kept.jsonl"
    with OutputLock(out):
        with pytest.raises(UserInputError, match="another tracesft process is writing it"):
            OutputLock(out)
    with OutputLock(out):  # released
        pass


def test_inspect_json_onto_its_input_is_refused(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "p", "response": "r", "ground_truth": "1"}) + "\n")
    before = data.read_bytes()
    assert main(["data", "inspect", str(data), "--json", str(data)]) != 0
    assert "overlaps the input" in capsys.readouterr().err and data.read_bytes() == before


def test_eval_out_onto_its_own_data_or_a_training_run_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    claim_dir(run, "train")
    (run / "summary.json").write_text('{"steps": 3}')
    data = run / "generations.jsonl"
    data.write_text(json.dumps({"prompt": "p", "response": "r", "ground_truth": "1"}) + "\n")
    assert main(["eval", "--model", str(tmp_path / "nomodel"), "--data", str(data), "--out", str(run)]) != 0
    assert "overlaps the input" in capsys.readouterr().err
    other = tmp_path / "d.jsonl"
    other.write_text(data.read_text())
    assert main(["eval", "--model", str(tmp_path / "nomodel"), "--data", str(other), "--out", str(run)]) != 0
    assert "is a tracesft train directory" in capsys.readouterr().err
    assert (run / "summary.json").read_text() == '{"steps": 3}'


def test_a_damaged_marker_is_claimed_afresh_or_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / MARKER).write_text("")  # a kill between creating the marker and writing it
    claim_dir(tmp_path / "empty", "train")
    assert json.loads((tmp_path / "empty" / MARKER).read_text()) == {"kind": "train"}
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / MARKER).write_text("[1, 2]")
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match="not empty and was not made by tracesft train"):
        claim_dir(tmp_path / "full", "train")


def test_atomic_files_get_the_mode_a_plain_open_gives(tmp_path):
    import os

    from tracesft.outputs import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.json", "{}")
        (tmp_path / "b.json").write_text("{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == (tmp_path / "b.json").stat().st_mode & 0o777 == 0o644


def test_json_files_hold_no_nan_literal(tmp_path):
    """JSON has no NaN or infinity: a non-finite metric is written as null in summaries and in
    metrics.jsonl (Python's json would write the literal NaN, which JSON.parse and jq reject)."""
    from tracesft.outputs import json_text, write_json_atomic
    from tracesft.train.metrics import MetricsLog

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON literal {c}"))

    value = {"loss": float("nan"), "rows": [float("inf"), -float("inf"), 1.5], "n": 2}
    assert strict(json_text(value)) == {"loss": None, "rows": [None, None, 1.5], "n": 2}
    write_json_atomic(tmp_path / "summary.json", value)
    assert strict((tmp_path / "summary.json").read_text())["loss"] is None
    log = MetricsLog(tmp_path)
    log.write({"kind": "train", "step": 1, "loss": float("nan")})
    assert strict((tmp_path / "metrics.jsonl").read_text().splitlines()[-1]) == {"kind": "train", "step": 1,
                                                                                "loss": None}
