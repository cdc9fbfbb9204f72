"""The free-form grader on real CHAMP traces labelled by reading (benchmarks/data/champ_labelled.jsonl):
recall >= 90% of the correct ones at <= 1% accepted of the incorrect ones (issue #12's targets)."""

import json
from pathlib import Path

import pytest

pytest.importorskip("sympy")
from tracesft.data.champ import split_reference_answer  # noqa: E402
from tracesft.grading import grade_free_form  # noqa: E402

LABELLED = Path(__file__).parent.parent / "benchmarks" / "data" / "champ_labelled.jsonl"


def test_labelled_champ_traces_meet_the_targets():
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    own = {r["id"]: r for r in rows if r["kind"] == "own"}

    def accepted(r):  # graded as `tracesft filter` grades a champ record: the solution, a blank line, the summary
        src = own[r.get("response_of", r["id"])]  # a "swapped" row: another problem's response, this one's truth
        text = src["response"].strip() + "\n\n" + src["summary"].strip()
        return grade_free_form(text, split_reference_answer(r["ground_truth"])).correct

    pos = [r for r in rows if r["label"]]
    neg = [r for r in rows if not r["label"]]
    assert len(pos) >= 200 and len(neg) >= 300
    recall = sum(map(accepted, pos)) / len(pos)
    false_accepts = sum(map(accepted, neg)) / len(neg)
    assert recall >= 0.90 and false_accepts <= 0.01, (recall, false_accepts)
