"""Which samples a round keeps: per question, up to M distinct correct responses.

Pure Python (no torch): graded records in, verdicts out. A sample is correct when its reward is 1
(right answer in the right format, as ``filter_correct`` keeps). Two responses are the same when
they are equal after collapsing whitespace. ``prefer`` picks among a question's distinct correct
responses: ``shortest`` (fewest generated tokens, then characters, then sample order) or
``random`` (seeded by the round and the question).
"""

from __future__ import annotations

import random
import re
from collections import defaultdict

__all__ = ["VERDICTS", "is_correct", "verdict_of", "select_kept", "solve_counts", "dedup_key"]

#: every sample's verdict, in samples.jsonl's ``why``
VERDICTS = ("kept", "duplicate", "beyond_keep_per_prompt", "wrong_answer", "bad_format", "timed_out")

_SPACE = re.compile(r"\s+")


def dedup_key(response: str) -> str:
    """What two responses must share to count as one: the text with whitespace runs collapsed."""
    return _SPACE.sub(" ", response).strip()


def is_correct(record: dict) -> bool:
    return record["reward"]["reward"] == 1.0


def _failure(record: dict) -> str:
    if record.get("timed_out"):
        return "timed_out"
    if not record["reward"]["format_reward"]:
        return "bad_format"
    return "wrong_answer"


def verdict_of(record: dict) -> str:
    """The verdict of a sample not kept: duplicate/beyond... are set by :func:`select_kept`."""
    return "kept" if is_correct(record) else _failure(record)


def select_kept(records: list[dict], keep_per_prompt: int, prefer: str, seed) -> list[dict]:
    """Mark every record with ``why`` (one of :data:`VERDICTS`) and return the kept ones, in
    question order (and, within a question, in preference order).

    ``records`` carry ``prompt_index``, ``sample_index``, ``response``, ``response_length`` and
    ``reward``; ``seed`` (any hashable) seeds ``prefer: random``.
    """
    if keep_per_prompt < 1:
        raise ValueError(f"keep_per_prompt must be >= 1, got {keep_per_prompt}")
    by_question: dict[int, list[dict]] = defaultdict(list)
    for r in records:
        r["why"] = verdict_of(r)
        if r["why"] == "kept":
            by_question[r["prompt_index"]].append(r)
    kept = []
    for q in sorted(by_question):
        distinct, seen = [], set()
        for r in sorted(by_question[q], key=lambda r: r["sample_index"]):
            key = dedup_key(r["response"])
            if key in seen:
                r["why"] = "duplicate"
                continue
            seen.add(key)
            distinct.append(r)
        if prefer == "shortest":
            distinct.sort(key=lambda r: (r["response_length"], len(r["response"]), r["sample_index"]))
        elif prefer == "random":
            random.Random(f"keep:{seed}:{q}").shuffle(distinct)
        else:
            raise ValueError(f"prefer must be shortest or random, got {prefer!r}")
        for r in distinct[keep_per_prompt:]:
            r["why"] = "beyond_keep_per_prompt"
        kept += distinct[:keep_per_prompt]
    return kept


def solve_counts(records: list[dict]) -> dict[int, tuple[int, int]]:
    """``{prompt_index: (correct samples, samples)}``."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        c = counts[r["prompt_index"]]
        c[0] += is_correct(r)
        c[1] += 1
    return {q: (c[0], c[1]) for q, c in sorted(counts.items())}
