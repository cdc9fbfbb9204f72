"""JSONL loaders: chat, prompt/response and GSM8K-style records -> :class:`Example`."""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError

__all__ = ["Example", "load_examples", "read_examples", "write_jsonl", "SkippedLine"]

logger = logging.getLogger(__name__)

#: A record (one JSONL line) larger than this is refused: no prompt or trace is anywhere near it,
#: and tokenizing or generating from such a line exhausts memory.
MAX_RECORD_BYTES = 8 << 20


@dataclass
class Example:
    """One training/eval example.

    prompt: the question (no template applied). response: the solution text, or None for
    prompt-only data. ground_truth: a string, number or list of acceptable answers, or None.
    meta: every other field of the record, plus ``source`` = "file:line".
    """

    prompt: str
    response: str | None = None
    ground_truth: Any = None
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedLine:
    line: int
    reason: str


class _Bad(Exception):
    pass


def _string(record: dict, key: str, required: bool = True) -> str | None:
    if key not in record or record[key] is None:
        if required:
            raise _Bad(f"missing field {key!r}")
        return None
    value = record[key]
    if not isinstance(value, str):
        raise _Bad(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def _ground_truth(value, key: str):
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Bad(f"field {key!r} must be a string, a number or a list of them, got bool")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"field {key!r} must be a finite number, got {value}")
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                                 and not (isinstance(v, float) and not math.isfinite(v))
                                                 for v in value):
        return value
    raise _Bad(f"field {key!r} must be a string, a number or a non-empty list of them, got {value!r:.60}")


def _from_chat(record: dict) -> Example:
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        raise _Bad("field 'messages' must be a non-empty list")
    user = assistant = system = None
    for k, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _Bad(f"messages[{k}] must be an object")
        role = _string(m, "role")
        if role not in ("system", "user", "assistant"):
            raise _Bad(f"messages[{k}].role must be system, user or assistant, got {role!r}")
        _string(m, "content")
        if role == "user":
            if user is not None:
                raise _Bad(f"messages[{k}]: a second user turn; multi-turn conversations are not supported "
                           "(one user message, optionally a system message before it and an assistant reply)")
            user = m
        elif role == "assistant":
            if user is None:
                raise _Bad(f"no message with role 'user' before messages[{k}] (assistant)")
            if assistant is not None:
                raise _Bad(f"messages[{k}]: a second assistant message; multi-turn conversations are not supported")
            assistant = m
        elif user is not None or system is not None:
            raise _Bad(f"messages[{k}]: one system message at most, before the user message")
        else:
            system = m
    if user is None:
        raise _Bad("no message with role 'user'")
    info = user.get("info") or {}
    if not isinstance(info, dict):
        raise _Bad("messages[].info must be an object")
    truth = _ground_truth(info.get("reference_answer", record.get("ground_truth")), "reference_answer")
    meta = {k: v for k, v in record.items() if k != "messages"}
    meta.update({k: v for k, v in info.items() if k != "reference_answer"})
    if system is not None:
        meta["system"] = system["content"]
    return Example(user["content"], assistant["content"] if assistant else None, truth, meta)


def _from_prompt(record: dict) -> Example:
    prompt = _string(record, "prompt")
    resp_key = "response" if "response" in record else "completion"
    response = _string(record, resp_key, required=False)
    gt_key = "ground_truth" if "ground_truth" in record else "answer"
    truth = _ground_truth(record.get(gt_key), gt_key)
    used = {"prompt", resp_key, gt_key}
    return Example(prompt, response, truth, {k: v for k, v in record.items() if k not in used})


def _from_question(record: dict) -> Example:
    question = _string(record, "question")
    answer = record.get("answer")
    meta = {k: v for k, v in record.items() if k not in ("question", "answer")}
    if isinstance(answer, str) and "####" in answer:
        solution, truth = answer.rsplit("####", 1)
        meta["solution"] = solution.strip()
        return Example(question, None, truth.strip().replace(",", ""), meta)
    return Example(question, None, _ground_truth(answer, "answer"), meta)


def _parse_record(record) -> Example:
    if not isinstance(record, dict):
        raise _Bad(f"expected a JSON object, got {type(record).__name__}")
    if "messages" in record:
        return _from_chat(record)
    if "prompt" in record:
        return _from_prompt(record)
    if "question" in record:
        return _from_question(record)
    raise _Bad(f"unrecognised record: expected a 'messages', 'prompt' or 'question' field, got {sorted(record)[:8]}")


def read_examples(
    path, *, skip_invalid: bool = False, require_response: bool = False, require_ground_truth: bool = False
) -> tuple[list[Example], list[SkippedLine]]:
    """Like :func:`load_examples`, also returning the skipped lines (empty unless skip_invalid)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(path, None, f"cannot read: {e.strerror or e}") from None
    examples: list[Example] = []
    skipped: list[SkippedLine] = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        try:
            if len(line) > MAX_RECORD_BYTES:
                raise _Bad(f"record of {len(line) / 2**20:.1f} MiB, over the {MAX_RECORD_BYTES >> 20} MiB limit per "
                           "record")
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _Bad(f"invalid UTF-8 at byte {e.start}") from None
            if not text.strip():
                continue  # blank lines carry no record
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                raise _Bad(f"malformed JSON ({e.msg} at column {e.colno})") from None
            except RecursionError:
                raise _Bad("JSON nested too deeply") from None
            example = _parse_record(record)
            if require_response and example.response is None:
                raise _Bad("no response (need 'response', 'completion' or an assistant message)")
            if require_ground_truth and example.ground_truth is None:
                raise _Bad("no ground truth (need 'ground_truth', 'answer' or info.reference_answer)")
        except _Bad as e:
            if not skip_invalid:
                raise DataError(path, lineno, str(e)) from None
            skipped.append(SkippedLine(lineno, str(e)))
            continue
        example.meta.setdefault("source", f"{path}:{lineno}")
        examples.append(example)
    if skipped:
        reasons = Counter(s.reason for s in skipped)
        logger.warning("%s: skipped %d invalid line(s): %s", path, len(skipped),
                       "; ".join(f"{n} x {r}" for r, n in reasons.most_common()))
    return examples, skipped


def load_examples(
    path, *, skip_invalid: bool = False, require_response: bool = False, require_ground_truth: bool = False
) -> list[Example]:
    """Read a JSONL file of examples, one record per line, in any of these forms:

    - chat: ``{"messages": [{"role": "user", "content": ..., "info": {"reference_answer": ...}},
      {"role": "assistant", "content": ...}]}`` (prompt = the user message, response = the
      assistant message after it, ground truth = the user's reference answer when present; an
      optional system message before the user's goes to ``meta["system"]``; a conversation of
      several turns is an error, not silently cut to its first);
    - ``{"prompt", "response" | "completion", "ground_truth" | "answer"}`` (response and ground
      truth optional);
    - GSM8K style ``{"question", "answer"}``: ground truth after ``####`` (the text before it goes
      to ``meta["solution"]``); an answer without ``####`` is the ground truth itself.

    Blank lines are ignored. A malformed line, a missing or non-string field, or invalid UTF-8 raises
    :class:`tracesft.errors.DataError` naming ``file:line`` and the problem; with
    ``skip_invalid=True`` such lines are skipped and a warning says how many and why
    (:func:`read_examples` returns them too).
    """
    return read_examples(path, skip_invalid=skip_invalid, require_response=require_response,
                         require_ground_truth=require_ground_truth)[0]


def write_jsonl(path, records) -> int:
    """Write dict records as JSONL (UTF-8, atomically via a temporary file); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n")
                n += 1
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-written temporary file behind
        raise
    return n
