"""The style probe (benchmarks/data/style_probe.py: 270 hand-written, labelled traces in other styles:
GSM8K plain text, markdown chat, R1-Zero tags, MATH, multiple choice, traps) as a floor: the grader's
figures of 2026-11-23 may rise, never fall, and every case it got right stays right."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sympy")
from tracesft.grading import grade_free_form, grade_r1_zero  # noqa: E402

PROBE = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "style_probe.py"
# The cases the grader gets wrong today (labelled debatable in the probe's notes, or open failures):
KNOWN_WRONG = {"gsm19", "trap06", "trap07", "trap20", "r1z35", "r1z37", "hedge03", "sup02", "tail06"}


def _cases():
    spec = importlib.util.spec_from_file_location("style_probe", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def test_style_probe_floor():
    cases = _cases()
    wrong = []
    for c in cases:
        grade = grade_free_form if c["grader"] == "ff" else grade_r1_zero
        if grade(c["response"], c["truth"]).correct != c["label"]:
            wrong.append(c["id"])
    pos = [c for c in cases if c["label"]]
    neg = [c for c in cases if not c["label"]]
    accepted = len(pos) - sum(1 for c in pos if c["id"] in wrong)
    rejected = len(neg) - sum(1 for c in neg if c["id"] in wrong)
    assert (len(pos), len(neg)) == (165, 105)
    assert accepted >= 159 and rejected >= 102, (accepted, rejected, wrong)
    assert set(wrong) <= KNOWN_WRONG, f"newly wrong: {sorted(set(wrong) - KNOWN_WRONG)}"
