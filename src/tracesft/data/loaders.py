"""Loaders: records in every supported schema (chat, prompt/response, GSM8K, MATH, aliases) -> :class:`Example`."""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import DataError
from .sources import RecordError, iter_records

__all__ = ["Example", "load_examples", "read_examples", "iter_examples", "write_jsonl", "SkippedLine",
           "FIELD_SCHEMAS", "detect_schema", "field_mapping"]

logger = logging.getLogger(__name__)



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
    #: a chat record's whole conversation (normalised messages, system first if any); the ``chat``
    #: template renders it, with the final assistant message taken from ``response``
    messages: list | None = None

    @property
    def weight(self) -> float:
        """The record's ``weight`` field (default 1): a factor on its tokens' loss weights."""
        return float(self.meta.get("weight", 1.0))


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


def _tool_calls(m: dict, k: int) -> list | None:
    """An assistant message's ``tool_calls``, each ``{"type": "function", "function": {"name", "arguments"}}``
    (also accepted: ``{"name", "arguments"}``); ``arguments`` an object (a JSON string is parsed)."""
    calls = m.get("tool_calls")
    if calls is None:
        return None
    if not isinstance(calls, list) or not calls:
        raise _Bad(f"messages[{k}].tool_calls must be a non-empty list")
    out = []
    for j, call in enumerate(calls):
        where = f"messages[{k}].tool_calls[{j}]"
        if not isinstance(call, dict):
            raise _Bad(f"{where} must be an object")
        fn = call.get("function", call)
        if not isinstance(fn, dict):
            raise _Bad(f"{where}.function must be an object")
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise _Bad(f"{where} has no function name" + ' (expected {"function": {"name": ..., "arguments": {...}}})')
        args = fn.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError:
                raise _Bad(f"{where}.function.arguments is a string that is not JSON") from None
        if not isinstance(args, dict):
            raise _Bad(f"{where}.function.arguments must be an object, got {type(args).__name__}")
        entry = {"type": "function", "function": {"name": name, "arguments": args}}
        if isinstance(call.get("id"), str):
            entry["id"] = call["id"]
        out.append(entry)
    return out


def _chat_message(m, k: int) -> dict:
    """One message, checked and normalised: role, content (a string; an assistant message with tool calls
    may have none), and the optional ``reasoning_content``, ``tool_calls`` (assistant), ``name`` and
    ``tool_call_id`` (tool)."""
    if not isinstance(m, dict):
        raise _Bad(f"messages[{k}] must be an object")
    role = _string(m, "role")
    if role not in ("system", "user", "assistant", "tool"):
        raise _Bad(f"messages[{k}].role must be system, user, assistant or tool, got {role!r}")
    calls = _tool_calls(m, k) if role == "assistant" else None
    if role != "assistant" and m.get("tool_calls") is not None:
        raise _Bad(f"messages[{k}]: only an assistant message has tool_calls, not a {role} message")
    content = _string(m, "content", required=calls is None)
    out = {"role": role, "content": content or ""}
    if role == "assistant":
        reasoning = _string(m, "reasoning_content", required=False)
        if reasoning is not None:
            if "</think>" in out["content"]:
                raise _Bad(f"messages[{k}] has both reasoning_content and a </think> in its content")
            out["reasoning_content"] = reasoning
        if calls:
            out["tool_calls"] = calls
    if role == "tool":
        for key in ("name", "tool_call_id"):
            if isinstance(m.get(key), str):
                out[key] = m[key]
    return out


def _check_turn_order(messages: list[dict]) -> None:
    """[system], then user -> assistant -> user ...; an assistant message with tool_calls is followed by its
    tool results (one or more ``tool`` messages), then the assistant again (or a user turn)."""
    expected = ("user",)
    for k, m in enumerate(messages):
        role = m["role"]
        if role == "system":
            if k != 0:
                raise _Bad(f"messages[{k}]: a system message must come first")
            continue
        if role == "assistant" and "user" in expected and not any(x["role"] == "user" for x in messages[:k]):
            raise _Bad(f"no message with role 'user' before messages[{k}] (assistant)")
        if role == "tool" and "tool" not in expected:
            raise _Bad(f"messages[{k}]: a tool message without a preceding assistant tool call (tool results follow "
                       "the assistant message whose tool_calls asked for them)")
        if role not in expected:
            want = expected[0]
            raise _Bad(f"messages[{k}]: expected {'an' if want == 'assistant' else 'a'} {want} turn, got "
                       f"{role} (turns alternate user, assistant)")
        if role == "user":
            expected = ("assistant",)
        elif role == "assistant":
            expected = ("tool",) if m.get("tool_calls") else ("user",)
        else:
            expected = ("tool", "assistant", "user")


def split_thinking(content: str) -> tuple[str | None, str]:
    """(reasoning, answer) of an assistant message's content: the text before ``</think>`` (without a
    leading ``<think>`` and the newlines around it) and the text after it (without leading newlines),
    as Qwen3's template splits it; (None, content) without ``</think>``."""
    if "</think>" not in content:
        return None, content
    head, _, tail = content.partition("</think>")
    head = head.split("<think>", 1)[1] if "<think>" in head else head
    return head.strip("\n"), tail.lstrip("\n")


def inline_thinking(reasoning: str | None, answer: str) -> str:
    """The assistant's text with its thinking written inline: ``<think>\\nR\\n</think>\\n\\n`` + answer."""
    return answer if reasoning is None else f"<think>\n{reasoning}\n</think>\n\n{answer}"


def _from_chat(record: dict, truth_from_boxed: bool = False) -> Example:
    """A conversation: [system], then user/assistant turns alternating (an assistant turn with
    ``tool_calls`` followed by its ``tool`` results and the assistant again), ending with a user turn
    or the assistant's reply. The last user message is the prompt, the final assistant message after
    it (if any) the response (its ``reasoning_content`` written inline as ``<think>...</think>``);
    the system message and earlier turns go to ``meta["system"]`` and ``meta["context"]`` (prompt
    context for the ``chat`` template), the whole conversation to ``Example.messages``."""
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        raise _Bad("field 'messages' must be a non-empty list")
    messages = [_chat_message(m, k) for k, m in enumerate(messages)]
    _check_turn_order(messages)
    tools = record.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)):
        raise _Bad("field 'tools' must be a list of objects (function schemas)")
    if record.get("enable_thinking") is not None and not isinstance(record["enable_thinking"], bool):
        raise _Bad(f"field 'enable_thinking' must be true or false, got {record['enable_thinking']!r:.40}")
    turns = [m for m in messages if m["role"] != "system"]
    if not turns:
        raise _Bad("no message with role 'user'")
    last_user = max(i for i, m in enumerate(turns) if m["role"] == "user")
    user = turns[last_user]
    assistant = turns[-1] if turns[-1]["role"] == "assistant" and len(turns) > last_user + 1 else None
    raw_user = [m for m in record["messages"] if isinstance(m, dict) and m.get("role") == "user"][-1]
    info = raw_user.get("info") or {}
    if not isinstance(info, dict):
        raise _Bad("messages[].info must be an object")
    record_info = record.get("info") if isinstance(record.get("info"), dict) else {}
    truth, used = None, None
    for key, value in (("messages[user].info.reference_answer", info.get("reference_answer")),
                       ("info.reference_answer", record_info.get("reference_answer")),
                       ("ground_truth", record.get("ground_truth")), ("answer", record.get("answer"))):
        if value is not None:
            truth, used = _ground_truth(value, key), key
            break
    if truth is None and truth_from_boxed and assistant is not None:  # asked for: the reply's own \boxed{}
        from ..grading.extract import last_boxed

        truth = last_boxed(assistant["content"])
    meta = {k: v for k, v in record.items() if k != "messages" and k != used}
    if used == "info.reference_answer":
        meta["info"] = {k: v for k, v in record_info.items() if k != "reference_answer"}
    meta.update({k: v for k, v in info.items() if k != "reference_answer"})
    if messages[0]["role"] == "system":
        meta["system"] = messages[0]["content"]
    if last_user:
        meta["context"] = [{"role": m["role"], "content": m["content"]} for m in turns[:last_user]]
    response = None
    if assistant is not None:
        response = inline_thinking(assistant.get("reasoning_content"), assistant["content"])
    return Example(user["content"], response, truth, meta, messages)


# Record schemas, in precedence order: the first whose prompt field a record has decides how all of it
# is read. name -> (prompt field, response fields, ground-truth fields), each list in precedence order.
FIELD_SCHEMAS = {
    "prompt/response": ("prompt", ("response", "completion"), ("ground_truth", "answer")),
    "gsm8k": ("question", (), ("answer",)),
    "math": ("problem", ("solution",), ("answer",)),
    "query/response": ("query", ("response",), ("ground_truth", "answer")),
    "instruction/output": ("instruction", ("output",), ("ground_truth", "answer")),
    "input/target": ("input", ("target",), ("ground_truth", "answer")),
}


# Where a chat record's ground truth is read from, in precedence order.
_CHAT_TRUTHS = "messages[user].info.reference_answer, info.reference_answer, ground_truth or answer"


def _fields_read(record: dict, what: str) -> str:
    """The fields of ``record``'s schema that give its response or ground truth (for error messages)."""
    schema = detect_schema(record) if isinstance(record, dict) else None
    if schema == "chat":
        return "an assistant message after the last user message" if what == "response" else _CHAT_TRUTHS
    if schema is None:
        return "?"
    _, responses, truths = FIELD_SCHEMAS[schema]
    if what == "response":
        return " or ".join(repr(k) for k in responses) if schema != "gsm8k" else "'answer' with a '####' line"
    names = " or ".join(repr(k) for k in truths)
    return names + (" or a \\boxed{} in 'solution'" if schema == "math" else "")


def detect_schema(record: dict) -> str | None:
    """The schema a record is read with: "chat" (``messages``) or a :data:`FIELD_SCHEMAS` name."""
    if "messages" in record:
        return "chat"
    return next((name for name, (p, _, _) in FIELD_SCHEMAS.items() if p in record), None)


def field_mapping(record: dict) -> dict:
    """Which field of ``record`` gives the prompt, the response and the ground truth (for inspection)."""
    schema = detect_schema(record)
    if schema in (None, "chat"):
        return {"prompt": "messages[user]", "response": "messages[assistant]",
                "ground_truth": _CHAT_TRUTHS} if schema else {}
    prompt, responses, truths = FIELD_SCHEMAS[schema]
    mapping = {"prompt": prompt + (" + input" if schema == "instruction/output" and record.get("input") else "")}
    mapping["response"] = next((k for k in responses if k in record), None)
    mapping["ground_truth"] = next((k for k in truths if record.get(k) is not None), None)
    if schema == "math" and mapping["ground_truth"] is None and "solution" in record:
        mapping["ground_truth"] = "last \\boxed{} of solution"
    if schema == "gsm8k":
        mapping["response"] = "answer (the worked solution and its #### line)"
        mapping["ground_truth"] = "answer (after ####)"
    return mapping


def _from_fields(record: dict, schema: str) -> Example:
    if schema == "gsm8k":
        return _from_question(record)
    prompt_key, responses, truths = FIELD_SCHEMAS[schema]
    prompt = _string(record, prompt_key)
    used = {prompt_key}
    if schema == "instruction/output" and record.get("input"):  # Alpaca: the input is the instruction's context
        prompt = f"{prompt}\n\n{_string(record, 'input')}"
        used.add("input")
    resp_key = next((k for k in responses if k in record), None)
    response = _string(record, resp_key, required=False) if resp_key else None
    gt_key = next((k for k in truths if record.get(k) is not None), truths[0])
    truth = _ground_truth(record.get(gt_key), gt_key)
    used |= {resp_key, gt_key}
    if schema == "math" and truth is None and response is not None:
        from ..grading.extract import last_boxed

        boxed = last_boxed(response)
        truth = boxed.strip() if boxed is not None else None
    return Example(prompt, response, truth, {k: v for k, v in record.items() if k not in used})


def _from_question(record: dict) -> Example:
    question = _string(record, "question")
    answer = record.get("answer")
    meta = {k: v for k, v in record.items() if k not in ("question", "answer")}
    if isinstance(answer, str) and "####" in answer:
        # The worked solution is a human-written trace: it is the response, with its "#### N" line, which
        # states the final answer where the free-form grader reads it (the working alone ends in "<<a+b=c>>c").
        solution, truth = answer.rsplit("####", 1)
        return Example(question, answer.strip() if solution.strip() else None, truth.strip().replace(",", ""), meta)
    return Example(question, None, _ground_truth(answer, "answer"), meta)


def _check_weight(record: dict) -> None:
    weight = record.get("weight")
    if weight is None:
        return
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise _Bad(f"field 'weight' must be a finite number >= 0, got {weight!r:.40}")


def _parse_record(record, truth_from_boxed: bool = False) -> Example:
    if not isinstance(record, dict):
        raise _Bad(f"expected a JSON object, got {type(record).__name__}")
    _check_weight(record)
    schema = detect_schema(record)
    if schema == "chat":
        return _from_chat(record, truth_from_boxed)
    if schema is not None:
        return _from_fields(record, schema)
    expected = ", ".join(["messages"] + [p for p, _, _ in FIELD_SCHEMAS.values()])
    raise _Bad(f"unrecognised record: expected one of the fields {expected}; got {sorted(record)[:12]}")


def iter_examples(
    path, *, split: str | None = None, skip_invalid: bool = False, require_response: bool = False,
    require_ground_truth: bool = False, skipped: list | None = None, truth_from_boxed: bool = False,
) -> Iterator[Example]:
    """The examples of a JSONL file, a Parquet file or a saved dataset, one at a time (constant
    memory); see :func:`load_examples`. With ``skip_invalid`` bad records are appended to ``skipped``
    (:class:`SkippedLine`) instead of raising. ``truth_from_boxed``: a chat record without a
    ground-truth field takes the last ``\\boxed{}`` of its final assistant turn (a reference solution's
    answer) as its ground truth."""
    path = Path(path)
    for number, record in iter_records(path, split):
        try:
            if isinstance(record, RecordError):
                raise _Bad(str(record))
            example = _parse_record(record, truth_from_boxed)
            if require_response and example.response is None:
                raise _Bad(f"no response (read from {_fields_read(record, 'response')})")
            if require_ground_truth and example.ground_truth is None:
                raise _Bad(f"no ground truth (read from {_fields_read(record, 'ground_truth')})")
        except _Bad as e:
            if not skip_invalid:
                raise DataError(path, number, str(e)) from None
            if skipped is not None:
                skipped.append(SkippedLine(number, str(e)))
            continue
        example.meta.setdefault("source", f"{path}:{number}")
        yield example


def read_examples(
    path, *, split: str | None = None, skip_invalid: bool = False, require_response: bool = False,
    require_ground_truth: bool = False, truth_from_boxed: bool = False,
) -> tuple[list[Example], list[SkippedLine]]:
    """Like :func:`load_examples`, also returning the skipped lines (empty unless skip_invalid)."""
    skipped: list[SkippedLine] = []
    examples = list(iter_examples(path, split=split, skip_invalid=skip_invalid, require_response=require_response,
                                  require_ground_truth=require_ground_truth, skipped=skipped,
                                  truth_from_boxed=truth_from_boxed))
    if skipped:
        reasons = Counter(s.reason for s in skipped)
        logger.warning("%s: skipped %d invalid line(s): %s", path, len(skipped),
                       "; ".join(f"{n} x {r}" for r, n in reasons.most_common()))
    return examples, skipped


def load_examples(
    path, *, split: str | None = None, skip_invalid: bool = False, require_response: bool = False,
    require_ground_truth: bool = False, truth_from_boxed: bool = False,
) -> list[Example]:
    """Read examples from a JSONL file (one record per line), a Parquet file or a directory written by
    ``datasets``' ``save_to_disk`` (``split`` picks one split of a dataset dict; extra
    ``tracesft[datasets]``), each record in any of these forms:

    - chat: ``{"messages": [{"role": "user", "content": ..., "info": {"reference_answer": ...}},
      {"role": "assistant", "content": ...}]}`` (prompt = the user message, response = the
      assistant message after it, ground truth = the user's reference answer when present; an
      optional system message first goes to ``meta["system"]``; in a conversation of several
      turns the last user message is the prompt and the earlier turns go to ``meta["context"]``,
      which the ``chat`` template renders as prompt context; the whole conversation, with ``tools``,
      assistant ``tool_calls``, ``tool`` messages and ``reasoning_content``, is ``Example.messages``,
      which the ``chat`` template trains turn by turn: :mod:`tracesft.data.chat`);
    - ``{"prompt", "response" | "completion", "ground_truth" | "answer"}`` (response and ground
      truth optional);
    - GSM8K style ``{"question", "answer"}``: the worked solution with its ``#### N`` line is the
      response (as a MATH record's ``solution`` is), N the ground truth; an answer without
      ``####`` is the ground truth itself (no response);
    - MATH style ``{"problem", "solution", "answer"?, "level"?, "type"?}``: the response is the
      solution; the ground truth is ``answer``, else the last ``\\boxed{}`` of the solution (for
      R1-Zero training, convert with ``tracesft filter --to-r1-zero`` or the ``to_r1_zero`` config key);
    - aliases ``{"query", "response"}``, ``{"instruction", "input"?, "output"}`` (Alpaca: a
      non-empty input is appended to the instruction) and ``{"input", "target"}``, each with an
      optional ``ground_truth``/``answer``.

    One precedence rule decides a record with several of these: the first of ``messages``,
    ``prompt``, ``question``, ``problem``, ``query``, ``instruction``, ``input`` that it has sets
    the schema (:data:`FIELD_SCHEMAS`); within a schema, the first present response and ground-truth
    field (in the order listed) is used. A record with none of them is an error listing its fields.

    Blank lines are ignored. A malformed line, a missing or non-string field, or invalid UTF-8 raises
    :class:`tracesft.errors.DataError` naming ``file:line`` and the problem; with
    ``skip_invalid=True`` such lines are skipped and a warning says how many and why
    (:func:`read_examples` returns them too). ``truth_from_boxed``: see :func:`iter_examples`.
    """
    return read_examples(path, split=split, skip_invalid=skip_invalid, require_response=require_response,
                         require_ground_truth=require_ground_truth, truth_from_boxed=truth_from_boxed)[0]


def write_jsonl(path, records) -> int:
    """Write dict records as JSONL (UTF-8, whole or not at all: see :func:`tracesft.outputs.atomic_writer`);
    returns the count. JSON has no NaN or infinity: such a value (in a field tracesft passes through,
    or a metric) is written as ``null``, the one form for them in every file tracesft writes."""
    from ..outputs import atomic_writer, json_text

    n = 0
    with atomic_writer(path) as f:
        for r in records:
            f.write(json_text(r, ensure_ascii=False) + "\n")
            n += 1
    return n
