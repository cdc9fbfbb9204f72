"""Checkpoints: a SIGTERM saves and the resume is bit-identical; a SIGKILL during a save leaves the
previous checkpoint whole; an optimizer without state resumes. (Damaged checkpoints, locks and the
resume contract: test_run_dir.py.)"""

import json
import subprocess
import sys
import time

import pytest
import torch
import yaml
from helpers.train import final_weights, make_cfg, sigterm_during_step

from tracesft.train import loop as loop_module
from tracesft.train import train


def test_sigterm_saves_and_resume_is_bit_identical(setup_dir, tmp_path, monkeypatch, capsys):
    ref = tmp_path / "ref"
    train(make_cfg(setup_dir, ref, eval_n=1))
    expected = final_weights(ref)

    out = tmp_path / "int"
    real = sigterm_during_step(monkeypatch, 3)
    result = train(make_cfg(setup_dir, out, eval_n=1))
    assert result["interrupted"] == "SIGTERM" and result["step"] == 3
    printed = capsys.readouterr().out
    assert f"resume with: tracesft train --resume {out}" in printed
    assert (out / "checkpoints" / "step-00000003").is_dir()
    monkeypatch.setattr(loop_module, "train_step", real)
    train(make_cfg(setup_dir, out, eval_n=1), resume=True)
    got = final_weights(out)
    assert got.keys() == expected.keys()
    for k in expected:
        assert torch.equal(got[k], expected[k]), k
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]


PAUSE_IN_SAVE_DRIVER = """
import sys, time
from tracesft.train import checkpoint

publish = checkpoint._publish

def slow_publish(tmp, final):
    if final.name == "step-00000004":
        print("checkpoint 4 written, pausing before its rename", flush=True)
        time.sleep(60)
    publish(tmp, final)

checkpoint._publish = slow_publish
from tracesft.cli import main
sys.exit(main(["train", "--config", sys.argv[1]]))
"""


@pytest.mark.slow
def test_sigkill_during_save_leaves_previous_checkpoint_whole(setup_dir, tmp_path):
    ref = tmp_path / "ref"
    train(make_cfg(setup_dir, ref, eval_n=1))
    out = tmp_path / "killed"
    cfg_path = tmp_path / "cfg.yaml"
    cfg = make_cfg(setup_dir, out, eval_n=1, checkpoint_every=2)
    cfg_path.write_text(yaml.safe_dump(cfg.to_dict()))
    # A driver that pauses after checkpoint 4 is written and synced, before it gets its name.
    driver = tmp_path / "pause_in_save.py"
    driver.write_text(PAUSE_IN_SAVE_DRIVER)
    proc = subprocess.Popen([sys.executable, str(driver), str(cfg_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if "pausing" in line or time.monotonic() > deadline:
            break
    proc.kill()  # SIGKILL in the middle of writing checkpoint 4
    proc.wait()
    ckpts = out / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir() if not p.name.startswith(".")) == ["step-00000002"]
    assert any(p.name.startswith(".tmp-step-00000004") for p in ckpts.iterdir())
    train(make_cfg(setup_dir, out, eval_n=1, checkpoint_every=2), resume=True)
    assert not any(p.name.startswith(".tmp") for p in ckpts.iterdir())
    expected, got = final_weights(ref), final_weights(out)
    for k in expected:
        assert torch.equal(got[k], expected[k]), k


def test_stateless_sgd_checkpoint_resumes(setup_dir, tmp_path):
    """SGD without momentum has no optimizer tensors (torch's full-state loader needs one)."""
    common = dict(optimizer="sgd", adam_beta1=0.0, lr=0.05, lr_schedule="constant", warmup_steps=0, eval_data=None)
    train(make_cfg(setup_dir, tmp_path / "ref", max_steps=4, **common))
    train(make_cfg(setup_dir, tmp_path / "cut", max_steps=2, **common))
    train(make_cfg(setup_dir, tmp_path / "cut", max_steps=4, **common), resume=True, force=True)
    expected, got = final_weights(tmp_path / "ref"), final_weights(tmp_path / "cut")
    assert all(torch.equal(expected[k], got[k]) for k in expected)
