"""Outputs whole or absent, directories owned, never an input (tracesft.outputs and the CLI)."""

import json

import pytest

from tracesft.cli import main
from tracesft.errors import UserInputError
from tracesft.outputs import MARKER, OutputLock, atomic_writer, check_output, claim_dir


def test_atomic_writer_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as f:
            f.write("half of the new")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


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
