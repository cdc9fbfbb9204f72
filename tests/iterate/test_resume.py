"""A SIGKILL in round 2's sampling or in its training, then --resume: the same kept traces and the
same final weights as the uninterrupted run, and round 1 is not redone."""

import json
import signal
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tracesft.iterate.config import config_from_mapping
from tracesft.iterate.loop import run_iterate

KILL_DRIVER = """
import os, signal, sys
from pathlib import Path

point = sys.argv[3]
if point == "sample":  # after round 2's first chunk of samples is written
    from tracesft.iterate import loop

    real = loop.write_text_atomic

    def write(path, text):
        real(path, text)
        if Path(path).name == "chunk-00000.json" and Path(path).parent.parent.name == "round-2":
            os.kill(os.getpid(), signal.SIGKILL)

    loop.write_text_atomic = write
else:  # after round 2's training published its checkpoint at step 2 (of 4)
    from tracesft.train import checkpoint

    publish = checkpoint._publish

    def kill_after(tmp, final):
        publish(tmp, final)
        if final.name == "step-00000002" and "round-2" in str(final):
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoint._publish = kill_after
from tracesft.cli import main

sys.exit(main(["iterate", "--config", sys.argv[1], "--out", sys.argv[2]]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("point", ["sample", "train"])
def test_resume_after_sigkill_gives_the_same_kept_traces_and_weights(reference_run, tmp_path, point):
    ref, _ = reference_run
    values = yaml.safe_load((ref / "iterate.yaml").read_text())
    config_path = tmp_path / "it.yaml"
    config_path.write_text(yaml.safe_dump(values))
    out = tmp_path / "out"
    driver = tmp_path / "kill.py"
    driver.write_text(KILL_DRIVER)
    proc = subprocess.run([sys.executable, str(driver), str(config_path), str(out), point], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    r2 = out / "round-2"
    if point == "sample":
        assert (r2 / "samples" / "chunk-00000.json").is_file() and not (r2 / "samples" / "chunk-00001.json").exists()
        assert not (r2 / "done-sample.json").exists()
    else:
        assert (r2 / "sft" / "checkpoints" / "step-00000002").is_dir() and not (r2 / "sft" / "final").exists()
        assert (r2 / "done-keep.json").is_file() and not (r2 / "done-train.json").exists()
    stamps = {p: p.stat().st_mtime_ns for p in (out / "round-1").glob("done-*.json")}
    assert len(stamps) == 4
    chunk0 = (r2 / "samples" / "chunk-00000.json").stat().st_mtime_ns
    run_iterate(config_from_mapping(values), str(out), resume=True, quiet=True)
    assert {p: p.stat().st_mtime_ns for p in (out / "round-1").glob("done-*.json")} == stamps  # not redone
    assert (r2 / "samples" / "chunk-00000.json").stat().st_mtime_ns == chunk0  # the finished chunk is kept
    for n in (1, 2):
        assert (out / f"round-{n}" / "kept.jsonl").read_text() == (ref / f"round-{n}" / "kept.jsonl").read_text()
    expected = load_file(str(ref / "round-2" / "sft" / "final" / "model.safetensors"))
    got = load_file(str(out / "round-2" / "sft" / "final" / "model.safetensors"))
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in expected)
    assert json.loads((out / "summary.json").read_text())["accuracy_per_round"] == \
        json.loads((ref / "summary.json").read_text())["accuracy_per_round"]
