"""Grading generated records and summarising them: shared by every evaluation backend."""

from __future__ import annotations

from typing import Callable

from ..grading.rewards import grade_many
from .metrics import multi_sample_metrics, normalized_answer

__all__ = ["grade_records", "summarize_records"]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def summarize_records(records: list[dict], generated_tokens: int | None = None, seconds: float | None = None,
                      *, pass_k=(), max_new_tokens: int | None = None) -> dict:
    """Summary statistics of evaluation records.

    accuracy = mean answer_reward over all responses (avg@K with K samples per prompt);
    format_rate = mean format_reward; mean_reward; mean response length overall / for correct
    (answer_reward 1) / for incorrect responses (None when there are none); mean_token_entropy
    (mean over records of their per-token mean); n_examples (prompts); when given, generation
    throughput in tokens per second; and the multi-sample metrics and failure modes of
    :func:`tracesft.evaluate.metrics.multi_sample_metrics` (pass@k for each k in ``pass_k``).
    """
    correct = [r for r in records if r["reward"]["answer_reward"] == 1.0]
    incorrect = [r for r in records if r["reward"]["answer_reward"] != 1.0]
    multi = multi_sample_metrics(records, pass_k, max_new_tokens)
    summary = {
        "n_examples": multi.get("n_prompts", 0),
        "accuracy": _mean([r["reward"]["answer_reward"] for r in records]),
        "format_rate": _mean([r["reward"]["format_reward"] for r in records]),
        "mean_reward": _mean([r["reward"]["reward"] for r in records]),
        "mean_response_length": _mean([r["response_length"] for r in records]),
        "mean_response_length_correct": _mean([r["response_length"] for r in correct]),
        "mean_response_length_incorrect": _mean([r["response_length"] for r in incorrect]),
        "mean_token_entropy": _mean([r["mean_token_entropy"] for r in records]),
        **{k: v for k, v in multi.items() if k != "n_prompts"},
    }
    if generated_tokens is not None and seconds:
        summary["generated_tokens"] = generated_tokens
        summary["generation_seconds"] = seconds
        summary["tokens_per_second"] = generated_tokens / seconds
    return summary


def _registered_grader(reward_fn: Callable):
    """The detailed grader (extracted answers) of a registered reward function, else None."""
    import functools

    from ..grading.registry import REWARDS, detailed_grader

    base = reward_fn
    while isinstance(base, functools.partial):
        base = base.func
    return detailed_grader(reward_fn) if any(base is r.fn for r in REWARDS.values()) else None


def grade_records(records: list[dict], reward_fn: Callable, generated_tokens: int, seconds: float,
                  workers: int | None = None, *, pass_k=(), max_new_tokens: int | None = None) -> dict:
    """Add each record's ``reward`` (graded in parallel), ``answer`` (the grader's extracted answer,
    None for none or for a reward function outside the registry), ``answer_normalized`` (its
    canonical form, what majority votes count), ``no_answer``, ``timed_out`` (the grade hit its
    CPU-time bound, after one retry alone), and for a registered reward ``answer_rule`` and ``comparator``
    (the extraction rule that read the answer and the comparison that decided); return
    ``{"records", "summary"}`` (with ``timed_out_rate``).

    Every backend calls this, so all produce the same records and summary.
    """
    responses, truths = [r["response"] for r in records], [r["ground_truth"] for r in records]
    grader = _registered_grader(reward_fn)
    if grader is not None:
        grades = grade_many(responses, truths, workers=workers, reward_fn=grader, progress=False)
        for r, g in zip(records, grades):
            r["reward"] = g.reward()
            r["answer"] = g.answer
            r["answer_normalized"] = normalized_answer(g.answer)
            r["no_answer"] = r["answer_normalized"] is None
            r["timed_out"] = g.timed_out
            r["answer_rule"], r["comparator"] = g.rule, g.comparator  # provenance: docs/grading.md
    else:  # a reward function of its own: its dict as it is; "no answer" is a format reward of 0
        rewards = grade_many(responses, truths, workers=workers, reward_fn=reward_fn, progress=False)
        for r, rw in zip(records, rewards):
            r["reward"] = dict(rw)
            r["answer"] = r["answer_normalized"] = None
            r["no_answer"] = not rw["format_reward"]
    summary = summarize_records(records, generated_tokens, seconds, pass_k=pass_k, max_new_tokens=max_new_tokens)
    summary["timed_out_rate"] = _mean([float(r.get("timed_out", False)) for r in records])  # grades past the bound
    return {"records": records, "summary": summary}
