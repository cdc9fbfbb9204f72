"""The free-form grader on real CHAMP traces labelled by reading (benchmarks/data/champ_labelled.jsonl):
recall >= 90% of the correct ones at <= 1% accepted of the incorrect ones (issue #12's targets)."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("sympy")
sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from grading import LABELLED, load_labelled, tracesft_accepts  # noqa: E402


def test_labelled_champ_traces_meet_the_targets():
    rows = load_labelled(LABELLED)
    pos = [r for r in rows if r["label"]]
    neg = [r for r in rows if not r["label"]]
    assert len(pos) >= 200 and len(neg) >= 300
    recall = sum(tracesft_accepts(r["text"], r["truths"]) for r in pos) / len(pos)
    false_accepts = sum(tracesft_accepts(r["text"], r["truths"]) for r in neg) / len(neg)
    assert recall >= 0.90 and false_accepts <= 0.01, (recall, false_accepts)
