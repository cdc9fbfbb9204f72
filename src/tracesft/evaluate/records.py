"""Grading generated records and summarising them: shared by every evaluation backend."""

from __future__ import annotations

from typing import Callable

from ..grading.rewards import grade_many

__all__ = ["grade_records", "summarize_records"]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def summarize_records(records: list[dict], generated_tokens: int | None = None, seconds: float | None = None) -> dict:
    """Summary statistics of evaluation records.

    accuracy = mean answer_reward; format_rate = mean format_reward; mean_reward; mean response
    length overall / for correct (answer_reward 1) / for incorrect responses (None when there are
    none); mean_token_entropy (mean over records of their per-token mean); n_examples; and, when
    given, generation throughput in tokens per second.
    """
    correct = [r for r in records if r["reward"]["answer_reward"] == 1.0]
    incorrect = [r for r in records if r["reward"]["answer_reward"] != 1.0]
    summary = {
        "n_examples": len(records),
        "accuracy": _mean([r["reward"]["answer_reward"] for r in records]),
        "format_rate": _mean([r["reward"]["format_reward"] for r in records]),
        "mean_reward": _mean([r["reward"]["reward"] for r in records]),
        "mean_response_length": _mean([r["response_length"] for r in records]),
        "mean_response_length_correct": _mean([r["response_length"] for r in correct]),
        "mean_response_length_incorrect": _mean([r["response_length"] for r in incorrect]),
        "mean_token_entropy": _mean([r["mean_token_entropy"] for r in records]),
    }
    if generated_tokens is not None and seconds:
        summary["generated_tokens"] = generated_tokens
        summary["generation_seconds"] = seconds
        summary["tokens_per_second"] = generated_tokens / seconds
    return summary


def grade_records(records: list[dict], reward_fn: Callable, generated_tokens: int, seconds: float,
                  workers: int | None = None) -> dict:
    """Add each record's ``reward`` (graded in parallel) and return ``{"records", "summary"}``.

    Every backend calls this, so all produce the same records and summary.
    """
    rewards = grade_many([r["response"] for r in records], [r["ground_truth"] for r in records],
                         workers=workers, reward_fn=reward_fn, progress=False)
    for r, rw in zip(records, rewards):
        r["reward"] = dict(rw)
    return {"records": records, "summary": summarize_records(records, generated_tokens, seconds)}
