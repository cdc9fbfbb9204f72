"""Which prompt template and grader fit the data: read from its responses unless the user chose.

``template: auto`` and ``reward: auto`` (the defaults of ``tracesft train``, ``filter`` and ``eval``)
are resolved here, once, from the examples, and the choice is logged in one line:

- some response carries R1-Zero tags (``... </think> <answer> ... </answer>``): ``r1_zero`` for
  both (the template's prompt ends with ``<think>``, the grader reads the answer block);
- responses without tags (MATH and GSM8K solutions, free-form traces): ``question_only`` and the
  ``free_form`` grader (last ``\\boxed{}``, else the final answer sentence, else the last number);
- no responses at all (prompts and ground truths only): what the model was trained with when it
  is a ``tracesft train`` run's ``final/`` or checkpoint (``tracesft eval``), else ``r1_zero``, the
  historic default; the log line says which.

An explicit template or reward always wins; with only one of them set, the other follows it
(``question_only`` -> ``free_form``, ``r1_zero`` -> ``r1_zero``; a template file or ``chat`` takes
its grader from the data).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import UserInputError
from ..grading.extract import extract_r1_zero_answer
from ..grading.rules import extract_free_form_answer

__all__ = ["AUTO", "Format", "detect_format", "trained_format", "resolve_format", "is_r1_zero_response",
           "convert_to_r1_zero", "format_hint"]

log = logging.getLogger(__name__)

AUTO = "auto"


@dataclass(frozen=True)
class Format:
    """A resolved (template, reward) pair and why it was chosen (one clause, for the log)."""

    template: str
    reward: str
    reason: str


def is_r1_zero_response(text: str | None) -> bool:
    """Whether a response has the R1-Zero shape ``... </think> <answer> ... </answer>``."""
    return bool(text) and extract_r1_zero_answer(text)[0]


def trained_format(model_path) -> Format | None:
    """The template and grader a ``tracesft train`` run used, when ``model_path`` is its ``final/``
    or one of its checkpoints (read from the run's ``summary.json``); None otherwise."""
    import json
    from pathlib import Path

    model_path = Path(model_path)
    for run in (model_path.parent, model_path.parent.parent):
        summary = run / "summary.json"
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("template"), str) and isinstance(data.get("reward"), str):
            return Format(data["template"], data["reward"], f"the format {run} was trained with")
    return None


def detect_format(examples, fallback: Format | None = None) -> Format:
    """The template and grader the examples' responses call for (see the module docstring);
    ``fallback`` (e.g. :func:`trained_format`) decides when there are no responses."""
    responses = [e.response for e in examples if e.response]
    if not responses and fallback is not None:
        return Format(fallback.template, fallback.reward, f"no responses: {fallback.reason}")
    if not responses:
        return Format("r1_zero", "r1_zero", "no responses to tell the format from: the default")
    tagged = sum(is_r1_zero_response(r) for r in responses)
    if tagged:
        return Format("r1_zero", "r1_zero", f"{tagged} of {len(responses)} responses carry R1-Zero tags")
    return Format("question_only", "free_form", f"none of the {len(responses)} responses carries R1-Zero tags "
                  "(free-form solutions)")


def resolve_format(template: str, reward: str, examples, *, what: str = "the data", keys=("template", "reward"),
                   quiet: bool = False, fallback: Format | None = None) -> Format:
    """``template``/``reward`` with ``auto`` resolved from ``examples``; logs the choice in one line
    (``keys``: how the user sets each, for that line)."""
    if template != AUTO and reward != AUTO:
        return Format(template, reward, "as set")
    if template != AUTO and template in ("r1_zero", "question_only"):
        fmt = Format(template, "free_form" if template == "question_only" else "r1_zero",
                     f"the grader of template {template}")
    else:
        detected = detect_format(examples, fallback)
        fmt = Format(detected.template if template == AUTO else template,
                     detected.reward if reward == AUTO else reward, detected.reason)
        if reward != AUTO and template == AUTO:
            fmt = Format(fmt.template, reward, fmt.reason)
    if not quiet:
        log.info("format: template %s, reward %s, from %s (%s); set %s or %s to choose", fmt.template, fmt.reward,
                 what, fmt.reason, keys[0], keys[1])
    return fmt


def convert_to_r1_zero(examples) -> tuple[list, int, int]:
    """Free-form responses rewritten as ``<solution> </think> <answer> ANSWER </answer>`` (what
    ``tracesft filter --to-r1-zero`` writes). ANSWER is the grader's extracted answer when the
    example was filtered (``meta["extracted_answer"]``), else the free-form extraction of the
    response. Returns (examples, n_already_tagged (kept as they are), n_no_answer (dropped))."""
    from dataclasses import replace

    from .filtering import to_r1_zero_response

    out, tagged, no_answer = [], 0, 0
    for e in examples:
        if e.response is None:
            out.append(e)
            continue
        if is_r1_zero_response(e.response):
            tagged += 1
            out.append(e)
            continue
        answer = e.meta.get("extracted_answer") or extract_free_form_answer(e.response)
        if not answer:
            no_answer += 1
            continue
        out.append(replace(e, response=to_r1_zero_response(e.response, answer)))
    return out, tagged, no_answer


def format_hint(reward: str, n_bad_format: int, n_graded: int, *, flag: str) -> UserInputError | None:
    """The error for a filter that would drop every graded response for its format; None otherwise.

    ``flag``: how the user sets the grader there (``--reward`` or ``reward``)."""
    if n_graded == 0 or n_bad_format < n_graded:
        return None
    if reward == "r1_zero":
        return UserInputError(f"all {n_graded} responses fail the r1_zero format check (no '</think> <answer> ... "
                              f"</answer>'): they look like free-form solutions; set {flag} free_form (and template "
                              "question_only), or leave both on auto")
    return UserInputError(f"all {n_graded} responses fail the {reward} format check; set {flag} to the grader "
                          "that matches the responses, or leave it on auto")
