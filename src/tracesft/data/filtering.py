"""Keep the traces whose final answer is right, and say what was dropped and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

from ..grading.registry import detailed_grader
from ..grading.rewards import grade_many, r1_zero_reward_fn
from .loaders import Example

__all__ = ["filter_correct", "FilterReport", "graded_text", "REASONS", "SUMMARY_KEY", "explain_line",
           "to_r1_zero_response", "kept_record"]

# A record field (kept in the example's meta) with the model's own final-answer statement, separate
# from the response it trains on: CHAMP's one-sentence summary turn.
SUMMARY_KEY = "answer_summary"


def graded_text(example: Example) -> str | None:
    """The text an example is graded on: its response, followed (after a blank line) by
    ``meta["answer_summary"]`` when the record has one.

    The free-form grader reads the final paragraph first, so the summary -- the model's final answer
    statement -- takes precedence, and the solution is the fallback (its \\boxed{} or "answer is"
    when the summary states no answer). Training uses the response alone.
    """
    summary = example.meta.get(SUMMARY_KEY)
    if example.response is None or not isinstance(summary, str) or not summary.strip():
        return example.response
    return example.response.rstrip() + "\n\n" + summary.strip()

REASONS = ("no_response", "no_ground_truth", "bad_format", "wrong_answer", "timed_out")
_SAMPLES_PER_REASON = 3


@dataclass
class FilterReport:
    """Counts before/after, rejects by reason, kept/total per group (e.g. per model), samples."""

    n_before: int = 0
    n_after: int = 0
    rejected: dict = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    by_group: dict = field(default_factory=dict)  # group -> {"total": n, "kept": k}
    samples: dict = field(default_factory=dict)  # reason -> [{"source", "answer", "ground_truth"}]
    # provenance: extraction rule -> {"kept": n, "dropped": m}, and comparator -> the same
    by_rule: dict = field(default_factory=dict)
    by_comparator: dict = field(default_factory=dict)
    # with explain=True: one line per example, in input order (not merged: printed chunk by chunk)
    explanations: list = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["explanations"]
        return out

    def count_decision(self, grade, kept: bool) -> None:
        """Count one graded example under its extraction rule and its comparator."""
        for table, name in ((self.by_rule, grade.rule), (self.by_comparator, grade.comparator)):
            row = table.setdefault(name or "none", {"kept": 0, "dropped": 0})
            row["kept" if kept else "dropped"] += 1

    def merge(self, other: FilterReport) -> None:
        """Add another chunk's report to this one (streaming filters grade chunk by chunk)."""
        self.n_before += other.n_before
        self.n_after += other.n_after
        for reason, n in other.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n
        for group, c in other.by_group.items():
            mine = self.by_group.setdefault(group, {"total": 0, "kept": 0})
            mine["total"] += c["total"]
            mine["kept"] += c["kept"]
        for mine_table, theirs in ((self.by_rule, other.by_rule), (self.by_comparator, other.by_comparator)):
            for name, c in theirs.items():
                row = mine_table.setdefault(name, {"kept": 0, "dropped": 0})
                row["kept"] += c["kept"]
                row["dropped"] += c["dropped"]
        for reason, samples in other.samples.items():
            mine = self.samples.setdefault(reason, [])
            mine.extend(samples[: _SAMPLES_PER_REASON - len(mine)])

    def lines(self) -> list[str]:
        out = [f"kept {self.n_after} of {self.n_before} examples"]
        out += [f"  dropped {n:>6}  {r}" for r, n in self.rejected.items() if n]
        for g, c in sorted(self.by_group.items()):
            share = c["kept"] / c["total"] if c["total"] else 0.0
            out.append(f"  {g:<24} kept {c['kept']:>6} / {c['total']:<6} ({share:.1%})")
        for title, table in (("extraction rule", self.by_rule), ("comparator", self.by_comparator)):
            if table:
                out.append(f"  by {title} (kept / dropped):")
                out += [f"    {name:<40} {c['kept']:>6} / {c['dropped']:<6}"
                        for name, c in sorted(table.items(), key=lambda kv: -(kv[1]["kept"] + kv[1]["dropped"]))]
        return out


def filter_correct(
    examples: Sequence[Example],
    reward_fn: Callable = r1_zero_reward_fn,
    *,
    workers: int | None = None,
    group_key: str | None = "model",
    progress: bool | None = None,
    explain: bool = False,
) -> tuple[list[Example], FilterReport]:
    """Keep examples whose response earns reward 1 against their ground truth.

    Rejects are counted by reason: ``no_response``, ``no_ground_truth``, ``bad_format``,
    ``wrong_answer``, ``timed_out`` (grading hit its time bound), with a few samples each. When
    ``group_key`` names a meta field (default "model"), kept/total are also counted per value.
    Kept examples get ``meta["extracted_answer"]`` when the grader reports one. The graded text is
    :func:`graded_text` (the response, then the model's summary when the record has one). Order is preserved;
    grading runs on ``workers`` threads, each driving its own grader process. The report counts the
    graded examples per extraction rule and per comparator (``by_rule``, ``by_comparator``); with
    ``explain`` its ``explanations`` hold one line per example (:func:`explain_line`).
    """
    grade = detailed_grader(reward_fn)
    report = FilterReport(n_before=len(examples))
    to_grade = [i for i, e in enumerate(examples) if e.response is not None and e.ground_truth is not None]
    graded = grade_many([graded_text(examples[i]) for i in to_grade], [examples[i].ground_truth for i in to_grade],
                        workers=workers, reward_fn=grade, progress=progress)
    grades = dict(zip(to_grade, graded))

    kept: list[Example] = []
    groups: Counter = Counter()
    groups_kept: Counter = Counter()
    for i, ex in enumerate(examples):
        group = ex.meta.get(group_key) if group_key else None
        if group is not None:
            groups[str(group)] += 1
        g = grades.get(i)
        if ex.response is None:
            reason = "no_response"
        elif ex.ground_truth is None:
            reason = "no_ground_truth"
        elif g.correct and g.format_ok:
            reason = None
        elif g.timed_out:  # before bad_format: a response graded whole in a worker has no format verdict
            reason = "timed_out"
        elif not g.format_ok:
            reason = "bad_format"
        else:
            reason = "wrong_answer"
        if g is not None:
            report.count_decision(g, reason is None)
        if explain:
            report.explanations.append(explain_line(ex, reason, g))
        if reason is None:
            meta = dict(ex.meta)
            if g.answer is not None:
                meta["extracted_answer"] = g.answer
            kept.append(replace(ex, meta=meta))
            if group is not None:
                groups_kept[str(group)] += 1
            continue
        report.rejected[reason] += 1
        samples = report.samples.setdefault(reason, [])
        if len(samples) < _SAMPLES_PER_REASON:
            samples.append({"source": ex.meta.get("source"), "answer": g.answer if g else None,
                            "ground_truth": ex.ground_truth})
    report.n_after = len(kept)
    report.by_group = {k: {"total": n, "kept": groups_kept[k]} for k, n in groups.items()}
    return kept, report


def explain_line(example: Example, reason: str | None, grade) -> str:
    """``kept    FILE:LINE  answer '5' (rule boxed); equal (comparator string)`` or ``dropped FILE:LINE
    wrong_answer: ...; truth '7'``: why one example was kept or dropped."""
    where = example.meta.get("source") or "?"
    if reason is None:
        return f"kept     {where}  {grade.explain()}"
    detail = f": {grade.explain()}; truth {str(example.ground_truth)[:80]!r}" if grade is not None else ""
    return f"dropped  {where}  {reason}{detail}"


def to_r1_zero_response(solution: str, answer: str) -> str:
    """A free-form solution as an R1-Zero response: ``<solution> </think> <answer> <answer> </answer>``
    (the prompt template ends with ``<think>``). A solution that opens with its own ``<think> ...
    </think>`` block has those tags removed first: its thinking and its reply both go before the one
    ``</think>``."""
    text = solution.strip()
    if text.startswith("<think>") and "</think>" in text:
        thinking, _, reply = text[len("<think>"):].partition("</think>")
        text = "\n\n".join(p for p in (thinking.strip(), reply.strip()) if p)
    return f"{text} </think> <answer> {answer.strip()} </answer>"


def _holds_as_prompt_and_response(messages: list[dict]) -> bool:
    """True when a conversation is [system], one user message and one plain assistant reply: the
    prompt/response record (with ``system`` as a field) holds it whole."""
    turns = [m for m in messages if m["role"] != "system"]
    return ([m["role"] for m in turns] == ["user", "assistant"]
            and not any(k in turns[1] for k in ("tool_calls", "reasoning_content")))


def kept_record(example: Example, response: str | None = None) -> dict:
    """The record ``tracesft filter`` writes for a kept example: ``prompt``/``response``/``ground_truth``
    plus the example's meta, or, for a conversation that a prompt and a response cannot hold whole
    (earlier turns, tool calls and results, ``reasoning_content``), the conversation itself as
    ``messages`` (its final assistant message's content replaced by ``response`` when one is given,
    e.g. by ``--to-r1-zero``, which writes the thinking inline). Read back, either gives the same
    example."""
    meta = {k: v for k, v in example.meta.items() if k not in ("prompt", "response", "ground_truth")}
    if example.messages is None or _holds_as_prompt_and_response(example.messages):
        return {"prompt": example.prompt, "response": example.response if response is None else response,
                "ground_truth": example.ground_truth, **meta}
    messages = [dict(m) for m in example.messages]
    if response is not None and messages[-1]["role"] == "assistant":
        messages[-1].pop("reasoning_content", None)
        messages[-1]["content"] = response
    meta = {k: v for k, v in meta.items() if k not in ("system", "context")}  # both are in the messages
    return {"messages": messages, "ground_truth": example.ground_truth, **meta}
