"""Outputs whole or absent and resume checks (issue 28, items 4 and 5): final/ written atomically, the
checkpoint's own config copy, metrics.jsonl with a partial last line, a bogus state.json step, --force lr from
the first resumed step, sweep cells that cannot be trusted, moved runs, a LoRA adapter over another base."""

import errno
import json
import shutil

import pytest
import yaml
from helpers.train import final_weights, make_cfg, unfinish

from tracesft.errors import TrainingError, UserInputError
from tracesft.train import loop as loop_module
from tracesft.train import train


def cfg4(setup_dir, out, **kw):
    return make_cfg(setup_dir, out, **{"eval_data": None, "max_steps": 4, "checkpoint_every": 2, "keep_last": 5,
                                       **kw})


@pytest.fixture(scope="module")
def finished(setup_dir, tmp_path_factory):
    """A finished 4-step run with checkpoints at steps 2 and 4."""
    out = tmp_path_factory.mktemp("rel") / "run"
    train(cfg4(setup_dir, out))
    return out


def disk_full(kind):
    if kind == "OSError":
        return OSError(errno.ENOSPC, "No space left on device")
    from safetensors import SafetensorError

    return SafetensorError("Error while serializing: IoError(No space left on device)")


@pytest.mark.parametrize("kind", ["OSError", "SafetensorError"])
def test_a_failure_while_final_is_written_leaves_no_half_final(setup_dir, finished, tmp_path, monkeypatch, kind):
    run = unfinish(finished, tmp_path / "run")
    real = loop_module.save_final

    def half_then_disk_full(model, state, directory):
        real(model, state, directory)  # the weights are written ... then the disk fills
        raise disk_full(kind)

    monkeypatch.setattr(loop_module, "save_final", half_then_disk_full)
    with pytest.raises(TrainingError, match=r"cannot write .*final: .*No space left.* resume with --resume"):
        train(cfg4(setup_dir, run), resume=True)
    assert not (run / "final").exists() and not (run / "summary.json").exists()
    assert not [p.name for p in run.iterdir() if p.name.startswith(".final")]  # no temporary directory left
    monkeypatch.setattr(loop_module, "save_final", real)
    train(cfg4(setup_dir, run), resume=True)  # the next resume writes it whole
    expected = final_weights(finished)
    assert final_weights(run).keys() == expected.keys()


def test_a_kill_while_final_is_written_is_tidied_on_the_next_start(setup_dir, finished, tmp_path):
    run = unfinish(finished, tmp_path / "run")
    # what SIGKILL during the write leaves: a temporary sibling holding part of final/
    (run / ".final.dirtmp-abc123").mkdir()
    (run / ".final.dirtmp-abc123" / "model.safetensors").write_bytes(b"half")
    (run / ".config.yaml.x1y2z3.tmp").write_text("model: half")
    train(cfg4(setup_dir, run), resume=True)
    assert (run / "final" / "model.safetensors").stat().st_size > 1000
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp") or "dirtmp" in p.name]


def test_the_checkpoint_carries_its_config_and_a_truncated_config_yaml_is_caught(setup_dir, finished, tmp_path):
    assert yaml.safe_load((finished / "checkpoints" / "step-00000004" / "config.yaml").read_text())["lr"] == 3e-3
    run = unfinish(finished, tmp_path / "run")
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text[: text.index("\nlr:") + 1])  # a kill at a line boundary
    from tracesft.train import load_config

    cfg = load_config(str(run / "config.yaml"), [f"output_dir={run}"])  # what --resume RUN loads
    with pytest.raises(UserInputError, match=r"lr 0.003 -> 0.0001.*differs from the checkpoint's copy"):
        train(cfg, resume=True)


def test_an_unreadable_config_yaml_at_resume_names_the_checkpoint_copy(finished, tmp_path, capsys):
    from tracesft.cli import main

    run = unfinish(finished, tmp_path / "run")
    (run / "config.yaml").write_text("model: [unclosed\n")  # a kill mid-write left garbage
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid YAML" in err[0] and "step-00000004/config.yaml holds the config" in err[0]


def test_metrics_with_a_partial_last_line_or_bad_utf8_resume_with_a_warning(setup_dir, finished, tmp_path, caplog):
    run = unfinish(finished, tmp_path / "run")
    with (run / "metrics.jsonl").open("ab") as f:
        f.write(b'{"kind": "train", "step": 5, "lo\xff')  # a kill during an append, and a stray byte
    with caplog.at_level("WARNING"):
        summary = train(cfg4(setup_dir, run), resume=True)
    assert summary["steps"] == 4
    assert any("dropped 1 unreadable line" in r.getMessage() for r in caplog.records)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4]


def test_a_state_step_that_disagrees_with_its_directory_is_damaged(setup_dir, finished, tmp_path, caplog):
    run = unfinish(finished, tmp_path / "run")
    state = run / "checkpoints" / "step-00000004" / "state.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "step": 3}))
    with caplog.at_level("WARNING"):
        summary = train(cfg4(setup_dir, run), resume=True)
    assert any("says step 3, but the checkpoint is step-00000004" in r.getMessage() for r in caplog.records)
    assert summary["steps"] == 4
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4]  # resumed at 2, steps 3-4 again


def test_force_applies_a_new_lr_from_the_first_resumed_step(setup_dir, tmp_path):
    run = tmp_path / "run"
    common = dict(lr_schedule="constant", warmup_steps=0)
    train(cfg4(setup_dir, run, **common))
    unfinish(run, tmp_path / "again", drop_steps=(4,))
    train(cfg4(setup_dir, tmp_path / "again", **common, lr=1e-2), resume=True, force=True)
    rows = [json.loads(line) for line in (tmp_path / "again" / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["step"]: r["lr"] for r in rows if r["kind"] == "train"}
    assert lrs == {1: 3e-3, 2: 3e-3, 3: 1e-2, 4: 1e-2}


def test_a_moved_run_resumes(setup_dir, finished, tmp_path):
    run = unfinish(finished, tmp_path / "somewhere" / "run", drop_steps=(4,))
    moved = tmp_path / "moved"
    shutil.move(run, moved)
    assert train(cfg4(setup_dir, moved), resume=True)["steps"] == 4


def test_a_lora_adapter_is_not_resumed_over_another_base(setup_dir, tmp_path):
    pytest.importorskip("peft")
    from safetensors.torch import load_file, save_file

    base = tmp_path / "base"
    shutil.copytree(setup_dir / "model", base)
    run = tmp_path / "run"
    train(cfg4(setup_dir, run, model=str(base), lora={"r": 2, "alpha": 4}, max_steps=2))
    state = json.loads((run / "checkpoints" / "step-00000002" / "state.json").read_text())
    assert len(state["base_fingerprint"]) == 64
    shutil.rmtree(run / "final")
    (run / "summary.json").unlink()
    weights = load_file(str(base / "model.safetensors"))
    name = next(k for k in weights if k.endswith("q_proj.weight"))
    weights[name] = weights[name] + 0.01  # a base fine-tuned since (same names and shapes)
    save_file(weights, str(base / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(UserInputError, match="trained on other base weights"):
        train(cfg4(setup_dir, run, model=str(base), lora={"r": 2, "alpha": 4}, max_steps=2), resume=True)


def sweep_with_cell(setup_dir, tmp_path, cell_files: dict):
    """A sweep directory (made by tracesft sweep) whose cell unfiltered-16 holds ``cell_files``."""
    from tracesft.outputs import claim_dir

    values = {k: v for k, v in cfg4(setup_dir, tmp_path / "x", test_size=8, max_steps=None).to_dict().items()
              if k != "output_dir"}
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(values))
    out = claim_dir(tmp_path / "sweep", "sweep")
    (out / "unfiltered-16").mkdir()
    for name, text in cell_files.items():
        (out / "unfiltered-16" / name).write_text(text)
    return str(config), out


FORGED = '{"n_train_examples": 16, "n_train": 16, "steps": 4, "seconds": 1, "eval_accuracy": 0.99}'


@pytest.mark.parametrize("files, message", [
    ({"summary.json": FORGED}, "holds files but no config.yaml"),
    ({"summary.json": FORGED, "config.yaml": "foo: 1\n"}, "config.yaml: lacks"),
    ({"summary.json": FORGED, "config.yaml": "[1, 2"}, "config.yaml: not a readable config"),
], ids=["summary without config", "config {foo: 1}", "garbage config"])
def test_a_sweep_never_trusts_a_cell_it_cannot_check(setup_dir, tmp_path, files, message):
    from tracesft.train.sweep import run_sweep

    config, out = sweep_with_cell(setup_dir, tmp_path, files)
    with pytest.raises(UserInputError, match=message):
        run_sweep(config, [], [16], "off", str(out))


def test_a_cell_with_its_config_and_a_garbage_summary_is_one_line(setup_dir, tmp_path):
    from tracesft.train import load_config
    from tracesft.train.config import save_config
    from tracesft.train.sweep import run_sweep

    config, out = sweep_with_cell(setup_dir, tmp_path, {"summary.json": '{"accuracy": '})
    save_config(load_config(config, ["subset=16", "filter_correct=false", f"output_dir={out / 'unfiltered-16'}"]),
                out / "unfiltered-16" / "config.yaml")
    with pytest.raises(UserInputError, match=r"summary.json: not a readable summary"):
        run_sweep(config, [], [16], "off", str(out))


def test_a_moved_sweep_goes_on(setup_dir, tmp_path):
    from tracesft.train.sweep import run_sweep

    config, out = sweep_with_cell(setup_dir, tmp_path, {})
    rows = run_sweep(config, [], [16], "off", str(out))
    stamp = (out / "unfiltered-16" / "summary.json").stat().st_mtime_ns
    moved = tmp_path / "moved"
    shutil.move(out, moved)
    again = run_sweep(config, [], [16], "off", str(moved))  # finished cell skipped, not refused
    assert [r["accuracy"] for r in again] == [r["accuracy"] for r in rows]
    assert (moved / "unfiltered-16" / "summary.json").stat().st_mtime_ns == stamp


def test_a_non_finite_loss_names_the_last_checkpoint_with_finite_weights(setup_dir, tmp_path, monkeypatch):
    from tracesft.train.checkpoint import last_finite_checkpoint

    real, calls = loop_module.train_step, {"n": 0}

    def step_that_ruins_the_weights(module, *a, **kw):  # step 2's loss is finite, its update is not
        stats = real(module, *a, **kw)
        calls["n"] += 1
        if calls["n"] == 2:
            next(p for p in module.parameters() if p.grad is not None).grad.fill_(float("nan"))
        return stats

    monkeypatch.setattr(loop_module, "train_step", step_that_ruins_the_weights)
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"non-finite loss .* at step 3.*finite weights: .*step-00000001 "):
        train(cfg4(setup_dir, run, checkpoint_every=1, max_grad_norm=0))
    assert last_finite_checkpoint(run).name == "step-00000001"
    assert (run / "checkpoints" / "step-00000002").is_dir()  # the newest, ruined one is not named
