"""Metrics of a multi-sample evaluation: pass@k, maj@K, avg@K, solve rates and failure modes.

Pure Python (no torch): records in, numbers out. One evaluation draws K samples per prompt; its
records carry ``prompt_index`` and ``sample_index`` (records without them count as one sample of
their own prompt each). Definitions, also on docs/evaluation.md:

- avg@K: mean correctness over all K x prompts responses (the mean pass@1 estimate; equals
  ``accuracy``).
- pass@k: the mean over prompts of the unbiased estimator ``1 - C(n-c, k) / C(n, k)`` (n samples,
  c of them correct; Chen et al. 2021), for each k <= K.
- maj@K: a prompt counts as solved when the majority answer of its samples (:func:`majority_vote`
  over the grader's extracted answers, normalised) is a correct one.
- failure modes, each the share of responses: ``hit_max_new_tokens`` (the response ended at the
  token limit: no EOS, stop string or stop token), ``unclosed_think`` (prompt + response open a
  ``<think>`` that no ``</think>`` closes), ``no_answer`` (the grader found no answer), ``repetition``
  (:func:`is_repetitive`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Hashable, Iterable, Sequence

__all__ = ["pass_at_k", "majority_vote", "is_repetitive", "repetition_period", "unclosed_think",
           "normalized_answer", "multi_sample_metrics", "failure_rates", "length_buckets", "REPEAT_MIN_CHARS",
           "REPEAT_MIN_REPEATS", "REPEAT_MAX_PERIOD", "LENGTH_BUCKETS", "PERCENTILES", "summary_rows", "headline",
           "detail_lines"]

REPEAT_MIN_CHARS = 48  #: a loop's tail covers at least this many characters
REPEAT_MIN_REPEATS = 3  #: ... and at least this many periods
REPEAT_MAX_PERIOD = 128  #: the longest loop unit looked for, in characters
_REPEAT_WINDOW = 4096  #: only the response's last characters are examined (bounded time per response)
LENGTH_BUCKETS = 4  #: response-length buckets: equal quarters of max_new_tokens
PERCENTILES = (10, 50, 90)


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
    """Unbiased pass@k of one prompt: ``1 - C(n-c, k) / C(n, k)``, the chance that k samples drawn
    without replacement from the n generated hold at least one of the c correct ones.

    Computed as the product ``prod_{i=n-c+1}^{n} (1 - k/i)`` (no large binomials, no overflow).
    Raises ValueError unless ``0 <= num_correct <= num_samples`` and ``1 <= k <= num_samples``.
    """
    n, c = num_samples, num_correct
    if not 0 <= c <= n:
        raise ValueError(f"num_correct must be in [0, num_samples], got {c} of {n}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, num_samples], got k={k} with {n} samples")
    if n - c < k:
        return 1.0
    prob_all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_wrong *= 1.0 - k / i
    return 1.0 - prob_all_wrong


def majority_vote(answers: Iterable[Hashable | None]) -> Hashable | None:
    """The most common answer; ``None`` (no answer) does not vote; a tie goes to the answer that
    occurs first; ``None`` when no answer voted.

    Pass answers as the grader normalises them (:func:`normalized_answer`), so that ``"1/2"`` and
    ``"\\frac{1}{2}"`` count as one.
    """
    answers = [a for a in answers if a is not None]
    if not answers:
        return None
    counts = Counter(answers)
    best = max(counts.values())
    return next(a for a in answers if counts[a] == best)


def normalized_answer(answer: str | None) -> str | None:
    """The grader's canonical form of an extracted answer (whitespace-free), None for no answer."""
    if answer is None or not str(answer).strip():
        return None
    from ..grading.normalize import compact, normalize_answer

    return compact(normalize_answer(str(answer))) or None


def repetition_period(text: str, min_chars: int = REPEAT_MIN_CHARS, min_repeats: int = REPEAT_MIN_REPEATS,
                      max_period: int = REPEAT_MAX_PERIOD) -> int | None:
    """The smallest period p <= ``max_period`` of a loop at the end of ``text``, or None.

    ``text`` (trailing whitespace removed) ends in a loop of period p when its longest suffix with
    period p (``s[i] == s[i + p]`` throughout; the last unit may be cut off) is at least
    ``max(min_chars, min_repeats * p)`` characters long. Only the last 4096 characters are read.
    """
    s = text.rstrip()[-_REPEAT_WINDOW:]
    n = len(s)
    for p in range(1, min(max_period, n // max(min_repeats, 1)) + 1):
        need = max(min_chars, min_repeats * p)
        if need > n:
            break
        k = 0  # characters matching their copy one period earlier, from the end
        while k + p < n and s[n - 1 - k] == s[n - 1 - k - p]:
            k += 1
            if k + p >= need:
                return p
    return None


def is_repetitive(text: str) -> bool:
    """Whether ``text`` ends in a repetition loop (:func:`repetition_period` with the defaults:
    a tail of >= 48 characters that repeats a unit of <= 128 characters at least 3 times)."""
    return repetition_period(text) is not None


_THINK_TAG = re.compile(r"<(/?)think>")


def unclosed_think(prompt: str, response: str) -> bool:
    """Whether the last ``<think>`` of prompt + response is not followed by a ``</think>`` (an
    R1-style prompt ends in ``<think>``, so its response must close it)."""
    text = prompt + response
    opened = text.rfind("<think>")
    return opened >= 0 and text.rfind("</think>") < opened


def _percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _correct(record: dict) -> bool:
    return record["reward"]["answer_reward"] == 1.0


def _groups(records: list[dict]) -> list[list[dict]]:
    """Records grouped by prompt, in order of first appearance."""
    groups: dict = {}
    for i, r in enumerate(records):
        groups.setdefault(r.get("prompt_index", ("record", i)), []).append(r)
    return list(groups.values())


def multi_sample_metrics(records: list[dict], pass_k: Sequence[int] = (), max_new_tokens: int | None = None) -> dict:
    """The multi-sample metrics of graded records (keys on docs/evaluation.md).

    ``samples_per_prompt`` K is the smallest number of samples of any prompt; ``avg@K``,
    ``pass@k`` for each k in ``pass_k`` that is <= K (always ``pass@1`` and ``pass@K``), ``maj@K``,
    ``solve_rate_histogram`` (entry c: the prompts with c of their K samples correct; present when
    every prompt has K samples), the four failure-mode rates, ``length_buckets`` (count and
    accuracy per quarter of ``max_new_tokens``, default the longest response) and
    ``length_percentiles`` (p10/p50/p90 of the response length, in tokens, of correct and of
    incorrect responses).
    """
    if not records:
        return {}
    groups = _groups(records)
    k_max = min(len(g) for g in groups)
    ks = sorted({1, k_max, *[k for k in pass_k if 1 <= k <= k_max]})
    out: dict = {"n_prompts": len(groups), "n_responses": len(records), "samples_per_prompt": k_max}
    out[f"avg@{k_max}"] = sum(_correct(r) for r in records) / len(records)
    counts = [(len(g), sum(_correct(r) for r in g)) for g in groups]
    for k in ks:
        out[f"pass@{k}"] = sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)
    maj = 0
    for g in groups:
        winner = majority_vote(r.get("answer_normalized") for r in g)
        maj += winner is not None and _correct(next(r for r in g if r.get("answer_normalized") == winner))
    out[f"maj@{k_max}"] = maj / len(groups)
    if all(n == k_max for n, _ in counts):
        hist = [0] * (k_max + 1)
        for _, c in counts:
            hist[c] += 1
        out["solve_rate_histogram"] = hist
    out.update(failure_rates(records))
    out["length_buckets"] = length_buckets(records, max_new_tokens)
    out["length_percentiles"] = {
        name: {f"p{q}": _percentile(sorted(r["response_length"] for r in part), q) for q in PERCENTILES}
        for name, part in (("correct", [r for r in records if _correct(r)]),
                           ("incorrect", [r for r in records if not _correct(r)]))}
    return out


def failure_rates(records: list[dict]) -> dict:
    """Shares of responses per failure mode (a record without the field counts as not failing)."""
    n = len(records)
    return {
        "hit_max_new_tokens_rate": sum(bool(r.get("hit_max_new_tokens")) for r in records) / n,
        "unclosed_think_rate": sum(unclosed_think(r.get("prompt", ""), r.get("response", "")) for r in records) / n,
        "no_answer_rate": sum(bool(r.get("no_answer")) for r in records) / n,
        "repetition_rate": sum(is_repetitive(r.get("response", "")) for r in records) / n,
    }


def length_buckets(records: list[dict], max_new_tokens: int | None = None, buckets: int = LENGTH_BUCKETS) -> list:
    """``[{"lo", "hi", "count", "accuracy"}]``: responses by length in tokens, ``buckets`` equal
    ranges ``lo..hi`` (inclusive) covering 1..max_new_tokens (default: the longest response)."""
    top = max_new_tokens or max((r["response_length"] for r in records), default=0)
    top = max(top, buckets)
    edges = [round(top * i / buckets) for i in range(buckets + 1)]
    rows = []
    for i in range(buckets):
        lo, hi = (edges[i] + 1 if i else 0), edges[i + 1]
        last = i == buckets - 1
        part = [r for r in records if lo <= r["response_length"] and (r["response_length"] <= hi or last)]
        rows.append({"lo": lo, "hi": hi, "count": len(part),
                     "accuracy": sum(_correct(r) for r in part) / len(part) if part else None})
    return rows


_HEADLINE = re.compile(r"^(accuracy|avg@\d+|pass@\d+|maj@\d+|samples_per_prompt|n_examples|n_responses"
                       r"|hit_max_new_tokens_rate|unclosed_think_rate|no_answer_rate|repetition_rate)$")


def summary_rows(summary: dict, prefix: str = "") -> list[tuple[str, object]]:
    """The scalar entries of an evaluation summary, headline metrics first (avg@K, pass@k, maj@K,
    failure-mode rates), then the rest in their order; ``prefix`` (``eval_`` in a training
    summary) is stripped for matching only."""
    scalars = [(k, v) for k, v in summary.items() if not isinstance(v, (dict, list))]
    head = [(k, v) for k, v in scalars if _HEADLINE.match(k.removeprefix(prefix))]
    return head + [(k, v) for k, v in scalars if not _HEADLINE.match(k.removeprefix(prefix))]


def headline(summary: dict, prefix: str = "") -> str:
    """``accuracy 0.5, avg@4 0.5, pass@1 0.5, ...``: the headline numbers of a summary on one line."""
    return ", ".join(f"{k} {v:.3f}" for k, v in summary.items()
                     if isinstance(v, float) and _HEADLINE.match(k.removeprefix(prefix)))


def detail_lines(summary: dict, prefix: str = "") -> list[str]:
    """Text lines for the non-scalar parts of an evaluation summary: the solve-rate histogram,
    accuracy by response-length bucket and the length percentiles of correct vs incorrect."""
    lines = []
    hist = summary.get(prefix + "solve_rate_histogram")
    if hist:
        k = len(hist) - 1
        counts = ", ".join(f"{c}: {n}" for c, n in enumerate(hist))
        lines.append(f"  prompts by samples correct (of {k}): {counts}")
    buckets = summary.get(prefix + "length_buckets")
    if buckets:
        parts = [f"{b['lo']}-{b['hi']}: {b['count']}" + (f" ({b['accuracy']:.0%} correct)" if b["count"] else "")
                 for b in buckets]
        lines.append("  responses by length in tokens: " + ", ".join(parts))
    pct = summary.get(prefix + "length_percentiles")
    if pct:
        def fmt(d):
            return " / ".join("-" if v is None else f"{v:.0f}" for v in d.values()) if d else "-"
        names = "/".join(f"p{q}" for q in PERCENTILES)
        lines.append(f"  response length {names}: correct {fmt(pct.get('correct'))}, "
                     f"incorrect {fmt(pct.get('incorrect'))}")
    return lines
