"""Every regular expression in tracesft.grading stays linear on adversarial input.

Untrusted text (model output, dataset answers) is matched by these patterns; one that backtracks
exponentially or polynomially hangs a run or turns a long correct trace into a timeout.
``regex_probe.py`` times each pattern (``finditer``, the costliest use) on strings built from its own
building blocks; a pattern fails this test by name when a search takes more than BUDGET_S of CPU
time, grows more than linearly with the input (x2 length -> more than x3 time, timed on CPU so load
does not count), or has to be killed.
"""

import json
import re
import selectors
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("regex_probe.py")
LENGTH = 10_000
BUDGET_S = 0.5  # CPU seconds for one search over LENGTH characters; linear patterns take milliseconds
GROWTH = 3.0  # time(2n) / time(n) above which a pattern is super-linear (linear: ~2, quadratic: ~4)
MIN_SLOW_S = 0.02  # growth is judged only on searches at least this slow (below it, timer noise)
STALL_S = 15.0  # wall seconds one search may take before the probe is killed (load inflates wall time)


def probe_all(length=LENGTH):
    """Run the probe, restarting past any pattern it has to be killed on: {key: row, or None if killed}."""
    results: dict[str, dict | None] = {}
    while True:
        proc = subprocess.Popen([sys.executable, str(PROBE), str(length), *results],
                                stdout=subprocess.PIPE, text=True, bufsize=1)
        current = None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            if not sel.select(timeout=STALL_S):
                proc.kill()
                proc.wait()
                results[current] = None
                break
            line = proc.stdout.readline()
            if not line:
                proc.wait()
                assert proc.returncode == 0, f"the regex probe failed (exit {proc.returncode})"
                return results
            if line.startswith("start "):
                current = json.loads(line[6:])
            elif line != ".\n":
                row = json.loads(line)
                results[row["pattern"]] = row


def too_slow(row) -> bool:
    return row is None or row["worst_s"] > BUDGET_S or (row["worst_s"] > MIN_SLOW_S and row["growth"] > GROWTH)


@pytest.mark.slow
def test_every_grading_regex_is_linear_on_adversarial_input():
    results = probe_all()
    assert len(results) > 50, f"the probe found only {len(results)} patterns"
    slow = {k: v for k, v in results.items() if too_slow(v)}
    assert not slow, "backtracking patterns (None: killed):\n" + "\n".join(f"  {k}: {v}" for k, v in slow.items())


def test_the_probe_flags_backtracking_patterns(monkeypatch):
    spec_dir = str(PROBE.parent)
    monkeypatch.syspath_prepend(spec_dir)
    import regex_probe as probe

    exponential = re.compile(r"^(\d+)\s*((?:[a-z]{2,}\.?\s*)+)$")  # the unit pattern that hung the grader

    def slowest(length):
        return max(probe._cpu_time(exponential, s) for s in probe.adversarial_strings(exponential, length))

    short, long = slowest(20), slowest(32)  # its own blocks after the "1 " prefix: exponential in the length
    assert long > 0.02 and long > 20 * max(short, 1e-3), (short, long)

    quadratic = re.compile(r"\s*no\s+[A-Za-z]")  # a search starts at every space and scans to the end
    t1 = probe._cpu_time(quadratic, " " * 3000 + "!")
    t4 = probe._cpu_time(quadratic, " " * 12000 + "!")
    assert t4 / t1 > 8  # x4 length: x16 time for a quadratic pattern, x4 for a linear one
