"""Owning a run directory: damaged checkpoints, interrupted double saves, locks, the resume contract,
signals during the final evaluation, a full disk."""

import json
import os
import shutil
import signal

import pytest
import torch
from helpers.train import final_weights, make_cfg, unfinish

from tracesft.errors import TrainingError, UserInputError
from tracesft.train import loop as loop_module
from tracesft.train import train
from tracesft.train.run_dir import RunLock


@pytest.fixture(scope="module")
def reference(setup_dir, tmp_path_factory):
    """An uninterrupted run with checkpoints at steps 2, 4 and 6, and its final weights."""
    out = tmp_path_factory.mktemp("ref") / "run"
    train(make_cfg(setup_dir, out, eval_data=None, checkpoint_every=2, keep_last=5))
    return out, final_weights(out)


def assert_same(a, b):
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


DAMAGE = {
    "truncated weights": ("model.safetensors", lambda p: p.write_bytes(p.read_bytes()[:100])),
    "empty scheduler": ("scheduler.pt", lambda p: p.write_bytes(b"")),
    "garbage rng": ("rng.pt", lambda p: p.write_bytes(b"\x80\x04garbage")),
    "empty state": ("state.json", lambda p: p.write_text("{}")),
    "truncated state": ("state.json", lambda p: p.write_text(p.read_text()[:20])),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(setup_dir, reference, tmp_path, kind, caplog):
    ref_dir, expected = reference
    run = tmp_path / "run"
    unfinish(ref_dir, run)
    name, damage = DAMAGE[kind]
    damage(run / "checkpoints" / "step-00000006" / name)
    with caplog.at_level("WARNING"):
        summary = train(make_cfg(setup_dir, run, eval_data=None, checkpoint_every=2, keep_last=5), resume=True)
    assert summary["steps"] == 6
    assert any(f"step-00000006/{name}" in r.getMessage() for r in caplog.records)  # the damaged file, named
    assert_same(final_weights(run), expected)  # resumed from step 4, same result


def test_every_checkpoint_damaged_is_one_line_naming_the_files(setup_dir, reference, tmp_path):
    run = tmp_path / "run"
    unfinish(reference[0], run, drop_steps=(2, 4))
    (run / "checkpoints" / "step-00000006" / "scheduler.pt").write_bytes(b"")
    with pytest.raises(UserInputError, match=r"no checkpoint .* can be read: .*step-00000006/scheduler.pt"):
        train(make_cfg(setup_dir, run, eval_data=None, checkpoint_every=2, keep_last=5), resume=True)


def test_a_kill_between_the_two_renames_of_a_resave_loses_nothing(setup_dir, reference, tmp_path):
    ref_dir, expected = reference
    run = tmp_path / "run"
    unfinish(ref_dir, run, drop_steps=(6,))
    ckpts = run / "checkpoints"
    # What a kill leaves while step 4 is saved again: the whole old one renamed away, the new one unnamed.
    os.rename(ckpts / "step-00000004", ckpts / ".old-step-00000004-12345")
    shutil.copytree(ckpts / ".old-step-00000004-12345", ckpts / ".tmp-step-00000004-12345")
    (ckpts / ".tmp-step-00000004-12345" / "state.json").unlink()
    train(make_cfg(setup_dir, run, eval_data=None, checkpoint_every=2, keep_last=5), resume=True)
    assert not any(p.name.startswith(".") for p in ckpts.iterdir())
    assert_same(final_weights(run), expected)


def test_a_second_writer_is_refused_and_a_dead_holder_does_not_block(setup_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lock = RunLock(run)
    with pytest.raises(UserInputError, match=rf"{run} is in use by process {os.getpid()} on "):
        train(make_cfg(setup_dir, run, eval_data=None, max_steps=1))
    lock.release()  # as when its process dies: the kernel drops the lock, the file stays
    assert (run / ".lock").is_file()
    assert train(make_cfg(setup_dir, run, eval_data=None, max_steps=1))["steps"] == 1


def test_resume_refuses_trajectory_changes_unless_forced(setup_dir, tmp_path):
    run = tmp_path / "run"
    cfg = dict(eval_data=None, checkpoint_every=2, max_steps=6, lr_schedule="constant", warmup_steps=0, lr=3e-3)
    train(make_cfg(setup_dir, run, **cfg))
    shutil.rmtree(run / "checkpoints" / "step-00000006")
    with pytest.raises(UserInputError, match=r"lr 0.003 -> 0.01 would not continue the same run.*--force"):
        train(make_cfg(setup_dir, run, **{**cfg, "lr": 1e-2}), resume=True)
    with pytest.raises(UserInputError, match="the run is at step 4, past max_steps=3"):
        train(make_cfg(setup_dir, run, **{**cfg, "max_steps": 3}), resume=True)
    train(make_cfg(setup_dir, run, **{**cfg, "eval_n": 2, "keep_last": 3}), resume=True)  # safe keys: fine
    shutil.rmtree(run / "checkpoints" / "step-00000006")
    train(make_cfg(setup_dir, run, **{**cfg, "lr": 1e-2}), resume=True, force=True)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"kind": "resume", "step": 4, "changed": {"lr": [0.003, 0.01]}} in \
        [{**r, "changed": {k: list(v) for k, v in r["changed"].items()}} for r in rows if r["kind"] == "resume"]
    lrs = {r["step"]: r["lr"] for r in rows if r["kind"] == "train"}
    assert lrs[4] == pytest.approx(3e-3) and lrs[6] == pytest.approx(1e-2)  # used, not only recorded


def test_sigterm_during_the_final_evaluation_saves_and_says_how_to_resume(setup_dir, tmp_path, monkeypatch, capsys):
    real = loop_module.evaluate_during_training

    def signal_at_final(cfg, c, info, step):
        if step == 6:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(cfg, c, info, step)

    monkeypatch.setattr(loop_module, "evaluate_during_training", signal_at_final)
    run = tmp_path / "run"
    result = train(make_cfg(setup_dir, run, eval_n=1))
    assert result == {"interrupted": "SIGTERM", "step": 6, "run_dir": str(run)}
    assert f"resume with: tracesft train --resume {run}" in capsys.readouterr().out
    monkeypatch.setattr(loop_module, "evaluate_during_training", real)
    assert train(make_cfg(setup_dir, run, eval_n=1), resume=True)["steps"] == 6


def test_a_full_disk_is_said_as_such_and_keeps_the_previous_checkpoint(setup_dir, tmp_path, monkeypatch):
    run = tmp_path / "run"
    real_save = torch.save
    calls = {"n": 0}

    def failing_save(obj, path, *a, **kw):
        if "step-00000004" in str(path):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 7424 vs 7316")
        calls["n"] += 1
        return real_save(obj, path, *a, **kw)

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(TrainingError, match=r"cannot write checkpoint .*step-00000004: no space left on device"):
        train(make_cfg(setup_dir, run, eval_data=None, checkpoint_every=2))
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["step-00000002"]  # whole, and no temporary directory left behind


def test_train_refuses_a_directory_it_does_not_own(setup_dir, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    files = {"config.yaml": "my: own\n", "metrics.jsonl": '{"mine": 1}\n', "notes.txt": "keep me\n"}
    for name, text in files.items():
        (out / name).write_text(text)
    with pytest.raises(UserInputError, match="not empty and was not made by tracesft train"):
        train(make_cfg(setup_dir, out, eval_data=None))
    assert {p.name: p.read_text() for p in out.iterdir() if p.name in files} == files


def test_a_finished_run_is_trained_over_only_with_overwrite(setup_dir, reference, tmp_path):
    src, _ = reference
    out = tmp_path / "run"
    shutil.copytree(src, out)
    shutil.rmtree(out / "checkpoints")  # the user deleted the checkpoints to save space
    before = (out / "summary.json").read_text()
    with pytest.raises(UserInputError, match="holds a finished run"):
        train(make_cfg(setup_dir, out, eval_data=None))
    assert (out / "summary.json").read_text() == before
    train(make_cfg(setup_dir, out, eval_data=None), overwrite=True)
    assert json.loads((out / "summary.json").read_text())["steps"] > 0


def test_a_symlinked_lock_is_refused_and_its_target_untouched(setup_dir, reference, tmp_path):
    src, _ = reference
    out = tmp_path / "run"
    shutil.copytree(src, out)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (out / ".lock").unlink(missing_ok=True)
    (out / ".lock").symlink_to(victim)
    with pytest.raises(UserInputError, match="symbolic link"):
        train(make_cfg(setup_dir, out, eval_data=None, checkpoint_every=2, keep_last=5), resume=True)
    assert victim.read_text() == "precious\n"


def test_overwrite_never_deletes_the_runs_own_inputs(setup_dir, reference, tmp_path):
    src, _ = reference
    out = tmp_path / "run"
    shutil.copytree(src, out)
    shutil.copy(setup_dir / "train.jsonl", out / "mydata.jsonl")  # the data kept inside the run directory
    with pytest.raises(UserInputError, match="overlaps the input"):
        train(make_cfg(setup_dir, out, eval_data=None, train_data=str(out / "mydata.jsonl")), overwrite=True)
    assert (out / "mydata.jsonl").is_file() and (out / "final").is_dir()
