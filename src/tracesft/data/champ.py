"""Import the CHAMP dataset (PyPI ``champ-dataset``, MIT): 270 competition problems with model
conversations (GPT-3.5, GPT-4, GPT-4 Turbo, PaLM 2 Medium) as chat-format records."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from ..errors import MissingExtraError, UserInputError
from .filtering import SUMMARY_KEY

__all__ = ["champ_records", "split_reference_answer"]

_ALTERNATIVES = re.compile(r",?\s*or (?:equivalently|an equivalent form such as)\s+", re.IGNORECASE)
_APPROX = re.compile(r",?\s*or approximately\s+.*$", re.IGNORECASE)


def _dataset_file() -> Path:
    try:
        import champ_dataset
    except ImportError:
        raise MissingExtraError("the CHAMP import", "champ") from None
    path = Path(champ_dataset.__file__).parent / "dataset_files" / "v0.json"
    if not path.is_file():
        raise UserInputError(f"champ-dataset does not ship {path}: reinstall 'tracesft[champ]'")
    return path


def split_reference_answer(raw: str) -> list[str]:
    """CHAMP reference answers as a list of acceptable answers.

    ``"C(10, 5), or equivalently 252"`` -> ``["C(10, 5)", "252"]``; an "or approximately ..." tail is
    dropped (an approximation is not an exact answer).
    """
    text = _APPROX.sub("", raw.strip())
    return [p.strip().rstrip(".") for p in _ALTERNATIVES.split(text) if p.strip()]


def champ_records(stats: Counter | None = None) -> list[dict]:
    """One chat record per (problem, conversation) whose messages are complete.

    prompt = the problem text; response = the model's solution (what a model trains on); ground
    truth = the reference answer(s); ``answer_summary`` = the model's one-sentence final answer (its
    reply to "Now, summarize the answer above in one sentence ..."), which the loader keeps in the
    example's meta and ``tracesft filter`` grades together with the solution (the summary is the final
    answer statement and takes precedence; the solution is the fallback: see
    :func:`tracesft.data.filtering.graded_text`); meta: problem id, category, model, setting.
    Conversations with a truncated or missing model message are not imported; ``stats`` (a Counter)
    receives ``imported`` and ``skipped_<reason>`` counts so that nothing is dropped silently.
    """
    stats = stats if stats is not None else Counter()
    data = json.loads(_dataset_file().read_text(encoding="utf-8"))
    records = []
    for pid, problem in data["problems"].items():
        truth = split_reference_answer(problem["_answer"])
        for key, conv in problem["conversations"].items():
            model, _, setting = key.partition("|")
            msgs = conv.get("messages") or []
            model_msgs = [m for m in msgs if str(m.get("role", "")).startswith("Model.")]
            if len(model_msgs) < 2:
                stats["skipped_no_final_answer"] += 1
                continue
            solution, final = model_msgs[-2], model_msgs[-1]
            if any(m.get("error") or not isinstance(m.get("text"), str) for m in (solution, final)):
                stats["skipped_truncated"] += 1
                continue
            records.append({
                "messages": [
                    {"role": "user", "content": problem["_text"], "info": {"reference_answer": truth}},
                    {"role": "assistant", "content": solution["text"].strip()},
                ],
                SUMMARY_KEY: final["text"].strip(),
                "problem_id": pid,
                "category": problem.get("category"),
                "model": model,
                "setting": setting,
            })
            stats["imported"] += 1
    return records
