"""Reward functions (R1-Zero format and free-form) and parallel grading."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .claims import _prose_only, claim_matches, prose_matches
from .equivalence import DEFAULT_TIMEOUT_S, Comparator, answers_equivalent
from .rules import Extraction, extract_r1_zero, extract_view
from .view import ResponseView

__all__ = ["Grade", "free_form_reward_fn", "grade_free_form", "grade_many", "grade_r1_zero", "r1_zero_reward_fn"]


@dataclass(frozen=True)
class Grade:
    """Detailed outcome of grading one response, with its provenance: ``rule``, the extraction rule
    that read the answer (a name of :data:`.rules.EXTRACTION_RULES`, ``"answer_tag"`` for an R1-Zero
    answer block; None when no rule found anything), and ``comparator``, the comparison that decided
    (a name of :data:`.equivalence.COMPARATORS`, or ``"claim"``/``"prose_statement"`` for a statement
    matched against a claim truth; None when there was nothing to compare)."""

    format_ok: bool
    correct: bool
    answer: str | None
    timed_out: bool = False
    rule: str | None = None
    comparator: str | None = None

    def reward(self) -> dict[str, float]:
        fmt, ans = float(self.format_ok), float(self.correct)
        return {"format_reward": fmt, "answer_reward": ans, "reward": fmt * ans}

    def explain(self) -> str:
        """One line for a person: what was read, by which rule, and which comparison decided."""
        if self.timed_out:
            return f"timed out (rule {self.rule or '-'}, comparator {self.comparator or '-'})"
        if self.answer is None:
            return f"no answer (rule {self.rule})" if self.rule else "no answer (no rule applied)"
        verdict = "equal" if self.correct else "not equal"
        return f"answer {self.answer[:80]!r} (rule {self.rule}); {verdict} (comparator {self.comparator})"


# Two prose words (not LaTeX commands) in a row: the answer tag holds a sentence, not a bare value.
_SENTENCE_WORDS = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}[,:]?\s+[A-Za-z]{2,}\b")


def _grade(format_ok: bool, found: Extraction, ground_truth, timeout: float) -> Grade:
    if found.answer is None or not found.answer.strip():
        return Grade(format_ok, False, found.answer, rule=found.rule)
    eq = answers_equivalent(found.answer, ground_truth, timeout)
    return Grade(format_ok, eq.equal, found.answer, eq.timed_out, found.rule, eq.comparator)


def _grade_in_worker(kind: str, response: str, ground_truth, timeout: float) -> Grade | None:
    """The whole grade (extraction, normalisation, comparison) in a worker process, bounded by
    ``timeout`` seconds of its CPU time; None inside a worker, where the grade runs directly."""
    from .sandbox import _IN_WORKER, TIMED_OUT, run_bounded

    if _IN_WORKER:
        return None
    result = run_bounded("grade", (kind, response, ground_truth, timeout), timeout)
    if result == TIMED_OUT:
        return Grade(False, False, None, timed_out=True)
    return Grade(*result) if isinstance(result, list) else Grade(False, False, None)


def grade_r1_zero(response: str, ground_truth, timeout: float = DEFAULT_TIMEOUT_S) -> Grade:
    """Grade an R1-Zero response (see :func:`r1_zero_reward_fn`) with details."""
    graded = _grade_in_worker("r1_zero", response, ground_truth, timeout)
    if graded is not None:
        return graded
    start = time.perf_counter()
    format_ok, found = extract_r1_zero(response)
    graded = _grade(format_ok, found, ground_truth, timeout)
    answer = found.answer
    left = timeout - (time.perf_counter() - start)  # one bound for both readings
    if graded.correct or not answer or left <= 0 or not _SENTENCE_WORDS.search(_prose_only(answer)):
        return graded
    # The tag holds a sentence ("The answer is 72.", "No, 91 is not prime."): grade it as free-form text
    # (answer extraction and claim matching); the format reward is unchanged.
    inner = grade_free_form(answer, ground_truth, left)
    return Grade(format_ok, inner.correct, inner.answer, graded.timed_out or inner.timed_out,
                 f"answer_tag_sentence:{inner.rule}" if inner.rule else "answer_tag_sentence", inner.comparator)


# A truth that is a claim or a prose phrase, matched against the response's final statement when the
# extracted value does not match (rule "final_statement").
STATEMENT_COMPARATORS = (
    Comparator("claim", "a claim truth (\"No\", \"No integer solutions\"): the final statement has its polarity "
               "and every content word", claim_matches,
               (("There are no integer solutions to the equation.", "No integer solutions", True),)),
    Comparator("prose_statement", "a prose truth (\"Monotonically increasing\"): the final statement's \"is/are\" "
               "is followed by exactly that phrase", prose_matches,
               (("The sequence is monotonically increasing.", "Monotonically increasing", True),)),
)


def grade_free_form(response: str, ground_truth, timeout: float = DEFAULT_TIMEOUT_S) -> Grade:
    """Grade a response without tags (see :func:`free_form_reward_fn`) with details."""
    graded = _grade_in_worker("free_form", response, ground_truth, timeout)
    if graded is not None:
        return graded
    view = ResponseView(response)
    found = extract_view(view)
    graded = _grade(found.answer is not None, found, ground_truth, timeout)
    if graded.correct:
        return graded
    # A claim truth ("No", "It is not possible", "No integer solutions") is matched against the
    # response's final statement (polarity and content words; see .claims).
    golds = [g for g in (ground_truth if isinstance(ground_truth, (list, tuple)) else [ground_truth])
             if isinstance(g, str)]
    for rule, statement in (("final_statement", view.statement), ("conclusion", view.conclusion)):
        for gold in golds if statement else ():
            for comparator in STATEMENT_COMPARATORS:
                if comparator.decide(statement, gold):
                    return Grade(True, True, statement[:200], graded.timed_out, rule, comparator.name)
    return graded


def r1_zero_reward_fn(response: str, ground_truth, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, float]:
    """Reward of a response in R1-Zero format (the prompt ends with ``<think>``).

    ``format_reward`` is 1.0 when ``</think>``, optional whitespace of any kind, then an
    ``<answer> ... </answer>`` block follow; ``answer_reward`` is 1.0 when the last answer block
    (its last ``\\boxed{}`` if any, joined with the boxes before it in the same sentence) is
    equivalent to ``ground_truth`` (a string, number or list of acceptable answers; a block that
    holds a sentence -- two prose words in a row: "The answer is 72.", "No, 91 is not prime." -- and
    does not match as a whole is graded like a free-form response, claims included);
    ``reward = format_reward * answer_reward``. Bounded by ``timeout``
    seconds from any thread; never raises on any response text.
    """
    return grade_r1_zero(response, ground_truth, timeout).reward()


def free_form_reward_fn(response: str, ground_truth, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, float]:
    """Reward of a free-form response: the answer is the last ``\\boxed{}``, else the final
    paragraph's answer sentence ("answer is ...", else the object of its main "is"/"are"/"="),
    else the last "answer is ...", else the last ``$...$`` or number (precedence and rules:
    :mod:`.extract`). A claim truth ("No", "It is not possible", "No integer solutions") or a prose
    one ("Monotonically increasing") is matched against the final statement (:mod:`.claims`).
    ``format_reward`` is 1.0 when an answer was found; same equivalence and bounds as R1-Zero.
    """
    return grade_free_form(response, ground_truth, timeout).reward()


RETRY_MIN, RETRY_SHARE = 5, 0.01  # timed-out grades retried alone: at most max(5, 1% of the grades)


def grade_many(
    responses: Sequence[str],
    ground_truths: Sequence,
    workers: int | None = None,
    reward_fn: Callable = r1_zero_reward_fn,
    progress: bool | None = None,
) -> list[dict[str, float]]:
    """Grade many responses in parallel; results (whatever ``reward_fn`` returns) in input order.

    ``workers`` (default: CPU count) threads each drive their own worker process, where the grade
    runs under its CPU-time bound, so grading is parallel over processes. A grade that timed out
    (a :class:`Grade` with ``timed_out``) is retried once alone before it stands, when at most
    max(5, 1%) of the grades timed out. An interrupt kills
    the workers and stops at once. A progress bar shows for more than 200 responses unless
    ``progress=False``.
    """
    if len(responses) != len(ground_truths):
        raise ValueError(f"responses and ground_truths differ in length: {len(responses)} vs {len(ground_truths)}")
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    show = progress if progress is not None else len(responses) > 200
    from tqdm.auto import tqdm

    from . import sandbox

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        it = pool.map(reward_fn, responses, ground_truths)
        results = list(tqdm(it, total=len(responses), disable=not show, desc="grading", unit="resp"))
    except BaseException:  # Ctrl-C, SIGTERM: kill the workers, so that the running grades end now
        sandbox.shutdown()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    # A grade that timed out while others ran is retried once alone before its verdict stands -- when
    # timeouts are few: past RETRY_SHARE of the grades the answers themselves are the cause, and
    # retrying each alone would only add a bound's worth of time per answer.
    timed_out = [i for i, r in enumerate(results) if getattr(r, "timed_out", False)]
    if len(timed_out) <= max(RETRY_MIN, RETRY_SHARE * len(results)):
        for i in timed_out:
            results[i] = reward_fn(responses[i], ground_truths[i])
    return results
