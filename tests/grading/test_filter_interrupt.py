"""Ctrl-C stops `tracesft filter` at once, even while its graders are busy on hostile answers, and
leaves no temporary file and no grader process behind."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_sigint_stops_filter_within_a_second(tmp_path):
    data = tmp_path / "d.jsonl"
    hostile = "</think> <answer> 10^{10^{10}} + 9^{9^{9^{9}}} </answer>"  # each grade runs to its bound
    data.write_text("".join(json.dumps({"prompt": "p", "response": hostile, "ground_truth": "7"}) + "\n"
                            for _ in range(50)))
    proc = subprocess.Popen([sys.executable, "-m", "tracesft", "filter", str(data), "--out", str(tmp_path / "k.jsonl"),
                             "--workers", "2", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    workers = []
    while time.monotonic() < deadline and len(workers) < 2:  # wait until both graders are busy
        workers = [p for p in os.listdir("/proc") if p.isdigit() and _child_of(int(p), proc.pid)]
        time.sleep(0.2)
    assert workers, "no grader process started"
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 3.0, err  # a second of work, and slack for a loaded machine
    assert proc.returncode == 130 and "interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k.jsonl.lock", "d.jsonl"]
    time.sleep(0.5)
    assert not [w for w in workers if os.path.exists(f"/proc/{w}")], "grader processes left running"


def _child_of(pid: int, parent: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1]) == parent
    except OSError:
        return False
