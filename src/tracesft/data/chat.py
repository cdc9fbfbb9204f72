"""The ``chat`` template: prompts and responses rendered with the tokenizer's own chat template.

A prompt is the conversation up to the final user turn (system message, earlier turns, the user
message) rendered with ``add_generation_prompt=True``; the response is what the template writes
after that for the assistant's message, up to and including its end-of-turn token (so the model
learns to stop), and nothing after it. Both are cut from one rendering of the whole conversation,
so the prompt/response boundary is exactly where the template puts it. The loss covers the final
assistant turn only: earlier turns are prompt context.

A rendered prompt holds the template's special tokens as text. Everywhere else in tracesft a
prompt is tokenized with the tokenizer's default special tokens, so when the tokenizer adds a BOS
itself and the template also writes one, the written one is removed from the text (the tokenizer
puts it back): one BOS, as in ``apply_chat_template(..., tokenize=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserInputError

__all__ = ["chat_messages", "render_chat_prompt", "render_chat_response", "end_of_turn", "end_of_turn_id",
           "LOSS_ON", "HISTORY_THINKING", "ChatOptions", "chat_sequences", "tokenize_segments", "conversation",
           "check_parity"]

_MARK = "\u2063tracesft-response\u2063"  # text no template changes (invisible separators around a word)


def _require_template(tokenizer) -> None:
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", None) or "this tokenizer"
        raise UserInputError(f"template chat: {name} has no chat template (use r1_zero, question_only or a "
                             "template file)")


def chat_messages(example, system: str | None = None) -> list[dict]:
    """The conversation before the response: system (the example's, else ``system``), earlier turns, user
    (earlier assistant turns without their thinking, as inference sends them by default)."""
    if example.messages is not None:
        msgs = conversation(example, system)
        last_user = max(i for i, m in enumerate(msgs) if m["role"] == "user")
        return [_view(m, "strip", False) for m in msgs[:last_user + 1]]
    messages = []
    sys_text = example.meta.get("system", system)
    if sys_text:
        messages.append({"role": "system", "content": sys_text})
    messages += [{"role": m["role"], "content": m["content"]} for m in example.meta.get("context", ())]
    messages.append({"role": "user", "content": example.prompt})
    return messages


def _render(tokenizer, messages, generation_prompt: bool, tools=None, enable_thinking=None) -> str:
    extra = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    return tokenizer.apply_chat_template(messages, tools=tools or None, add_generation_prompt=generation_prompt,
                                         tokenize=False, **extra)


def _strip_written_bos(tokenizer, text: str) -> str:
    bos = getattr(tokenizer, "bos_token", None)
    if not bos or not text.startswith(bos):
        return text
    with_special = tokenizer("x", add_special_tokens=True)["input_ids"]
    without = tokenizer("x", add_special_tokens=False)["input_ids"]
    adds_bos = len(with_special) > len(without) and with_special[0] == tokenizer.bos_token_id
    return text[len(bos):] if adds_bos else text


def render_chat_prompt(tokenizer, example, system: str | None = None) -> str:
    """The prompt text: the conversation rendered up to the assistant's turn (generation prompt included)."""
    _require_template(tokenizer)
    messages = chat_messages(example, system)
    _check_tool_support(tokenizer, messages, example)
    return _strip_written_bos(tokenizer, _render(tokenizer, messages, True, example.meta.get("tools"),
                                                 example.meta.get("enable_thinking")))


def end_of_turn(tokenizer) -> str:
    """The special token the chat template closes an assistant turn with (``<|im_end|>``, ``<|eot_id|>``, ...)."""
    _require_template(tokenizer)
    full = _render(tokenizer, [{"role": "user", "content": "1"}, {"role": "assistant", "content": _MARK}], False)
    after = full[full.index(_MARK) + len(_MARK):] if _MARK in full else ""
    specials = [t for t in tokenizer.all_special_tokens if t and t in after]
    specials += [t.content for t in getattr(tokenizer, "added_tokens_decoder", {}).values()
                 if getattr(t, "special", False) and t.content and t.content in after]
    if specials:
        return min(specials, key=lambda t: (after.index(t), -len(t)))
    if tokenizer.eos_token:
        return tokenizer.eos_token
    raise UserInputError("template chat: cannot tell the chat template's end-of-turn token (no special token "
                         "follows the assistant's message and the tokenizer has no EOS)")


def end_of_turn_id(tokenizer) -> int:
    ids = tokenizer.convert_tokens_to_ids([end_of_turn(tokenizer)])
    return ids[0]


def render_chat_response(tokenizer, example, response: str, system: str | None = None, eot: str | None = None) -> str:
    """What the template writes for ``response`` as the assistant's turn, through its end-of-turn token
    (``eot``: :func:`end_of_turn`, computed when not given)."""
    _require_template(tokenizer)
    if example.messages is not None and response == example.response:  # tools, tool calls, thinking: as trained
        sequences = chat_sequences(tokenizer, example, ChatOptions(system=system), eot)
        if sequences:
            return "".join(text for text, _ in sequences[-1][1:])
    messages = chat_messages(example, system)
    prompt = _render(tokenizer, messages, True)
    full = _render(tokenizer, messages + [{"role": "assistant", "content": response}], False)
    if not full.startswith(prompt):
        raise UserInputError(f"template chat: {example.meta.get('source', 'an example')}: the chat template renders "
                             "the conversation differently once the assistant's reply is added, so no prompt/response "
                             "boundary exists (use a text template)")
    rest, eot = full[len(prompt):], eot or end_of_turn(tokenizer)
    end = rest.rfind(eot)
    return rest[: end + len(eot)] if end >= 0 else rest + eot


# --- Every assistant turn, tool calls, thinking -------------------------------------------------------

LOSS_ON = ("final", "assistant")  #: the final assistant message only | every assistant message
HISTORY_THINKING = ("strip", "keep")  #: earlier assistant turns' thinking: removed | kept in the history

_PROBE = "\u2063tracesft-probe\u2063"
_capabilities: dict = {}  # (template text, what) -> bool


def _source(example) -> str:
    return example.meta.get("source", "an example")


def _renders(tokenizer, what: str) -> bool:
    """Whether the chat template renders ``reasoning_content`` / assistant ``tool_calls`` / ``tool`` messages."""
    key = (tokenizer.chat_template, what)
    if key not in _capabilities:
        user = {"role": "user", "content": "1"}
        call = {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "f" + _PROBE, "arguments": {}}}]}
        messages = {"reasoning": [user, {"role": "assistant", "content": "2", "reasoning_content": _PROBE}],
                    "tool_calls": [user, call],
                    "tool": [user, {**call, "tool_calls": [{"type": "function",
                                                            "function": {"name": "f", "arguments": {}}}]},
                             {"role": "tool", "content": _PROBE}]}[what]
        try:
            _capabilities[key] = _PROBE in _render(tokenizer, messages, False)
        except Exception:  # a template that raises on what it does not know (jinja's raise_exception)
            _capabilities[key] = False
    return _capabilities[key]


def _check_tool_support(tokenizer, messages, example) -> None:
    name = getattr(tokenizer, "name_or_path", None) or "the tokenizer"
    if any(m.get("tool_calls") for m in messages) and not _renders(tokenizer, "tool_calls"):
        raise UserInputError(f"{_source(example)}: template chat: the chat template of {name} does not render tool "
                             "calls (assistant tool_calls); use a model whose template supports tools")
    if any(m["role"] == "tool" for m in messages) and not _renders(tokenizer, "tool"):
        raise UserInputError(f"{_source(example)}: template chat: the chat template of {name} does not render tool "
                             "messages (role tool); use a model whose template supports tools")


def conversation(example, system: str | None = None) -> list[dict]:
    """The example's whole conversation: its messages (or system, context, prompt, response), the final
    assistant message read from ``example.response`` (what filtering and ``to_r1_zero`` may rewrite),
    the default ``system`` message first when the example has none."""
    from .loaders import inline_thinking, split_thinking

    if example.messages is not None:
        msgs = [dict(m) for m in example.messages]
    else:
        msgs = chat_messages(example, None)
        if example.response is not None:
            msgs.append({"role": "assistant", "content": example.response})
    if system and msgs[0]["role"] != "system":
        msgs.insert(0, {"role": "system", "content": system})
    last = msgs[-1]
    if last["role"] == "assistant" and example.response is not None:
        recorded = inline_thinking(last.get("reasoning_content"), last["content"]) if example.messages else None
        if example.response != recorded:  # no messages, or a response rewritten since (to_r1_zero)
            last.pop("reasoning_content", None)
            last["content"] = example.response
    for m in msgs:  # <think> written inline in an assistant's content, split out (the text kept for templates
        if m["role"] == "assistant" and "reasoning_content" not in m:  # that render no reasoning_content)
            reasoning, answer = split_thinking(m["content"])
            if reasoning is not None:
                m["_inline"] = m["content"]
                m["content"], m["reasoning_content"] = answer, reasoning
    return msgs


def _view(m: dict, thinking: str, template_reasons: bool) -> dict:
    """An assistant message as handed to the template: its thinking dropped (``strip``), as
    ``reasoning_content`` (templates that render it) or written inline in the content (others)."""
    from .loaders import inline_thinking

    if m["role"] != "assistant" or "reasoning_content" not in m:
        return m
    out = {k: v for k, v in m.items() if k not in ("reasoning_content", "_inline")}
    if thinking == "keep":
        if template_reasons:
            out["reasoning_content"] = m["reasoning_content"]
        else:
            out["content"] = m.get("_inline") or inline_thinking(m["reasoning_content"], m["content"])
    return out


@dataclass(frozen=True)
class ChatOptions:
    """How chat records are trained: which assistant turns (``loss_on``), earlier turns' thinking in the
    history (``history_thinking``), and whether the think block of a trained turn is in the loss."""

    loss_on: str = "final"
    history_thinking: str = "strip"
    think_loss: bool = True
    system: str | None = None


def _answer_start(turn: str, end: int) -> int:
    """Where the answer of a rendered turn starts: after its ``</think>`` and the whitespace after it (0
    without one before ``end``)."""
    at = turn.find("</think>", 0, end)
    if at < 0:
        return 0
    at += len("</think>")
    while at < end and turn[at] in " \t\r\n":
        at += 1
    return at


def chat_sequences(tokenizer, example, options: ChatOptions = ChatOptions(), eot: str | None = None
                   ) -> list[list[tuple[str, bool]]]:
    """The training sequences of one chat example, each a list of ``(text, trained)`` segments whose
    concatenation is what the chat template renders.

    Each trained assistant turn (``loss_on``: the final one, or all) is found from two renders of the
    conversation as it stands at that turn (the history as ``history_thinking`` says, the turn itself
    with its thinking): up to the turn with the generation prompt, and through the turn; the text
    between the two, through the end-of-turn token, is the turn (what the model writes at inference).
    Turns share one sequence while each turn's context render continues the previous sequence's text;
    where it does not (a template that strips earlier thinking, or ``history_thinking: strip`` with
    thinking in an earlier turn), the turn starts a sequence of its own, on the history as rendered
    for it. User, system and tool messages, and what a template writes between turns, are never trained.
    """
    _require_template(tokenizer)
    eot = eot or end_of_turn(tokenizer)
    msgs = conversation(example, options.system)
    _check_tool_support(tokenizer, msgs, example)
    assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
    last_user = max(i for i, m in enumerate(msgs) if m["role"] == "user")
    if options.loss_on == "final":
        trained = [i for i in assistants[-1:] if i > last_user]
    else:
        trained = assistants
    reasons = _renders(tokenizer, "reasoning") if any("reasoning_content" in m for m in msgs) else False
    tools, thinking = example.meta.get("tools"), example.meta.get("enable_thinking")
    sequences: list[list[tuple[str, bool]]] = []
    text = None  # the current sequence's text so far
    for t in trained:
        view = [_view(m, options.history_thinking, reasons) for m in msgs[:t]] + [_view(msgs[t], "keep", reasons)]
        try:
            context = _render(tokenizer, view[:-1], True, tools, thinking)
            full = _render(tokenizer, view, False, tools, thinking)
        except Exception as e:  # the template's own raise_exception (roles it refuses, ...), jinja errors
            if isinstance(e, UserInputError):
                raise
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UserInputError(f"template chat: {_source(example)}: the chat template fails on messages[:{t + 1}]: "
                                 f"{first}") from None
        if not full.startswith(context):
            raise UserInputError(f"template chat: {_source(example)}: the chat template renders the conversation "
                                 f"differently once the assistant's reply (messages[{t}]) is added, so no "
                                 "prompt/response boundary exists (use a text template)")
        rest = full[len(context):]
        end = rest.rfind(eot)
        turn = rest[: end + len(eot)] if end >= 0 else rest + eot
        if text is not None and context.startswith(text):
            segments = sequences[-1]
            if len(context) > len(text):
                segments.append((context[len(text):], False))
        else:
            segments = [(_strip_written_bos(tokenizer, context), False)]
            sequences.append(segments)
        start = 0 if options.think_loss else _answer_start(turn, len(turn) - len(eot))
        if start:
            segments.append((turn[:start], False))
        segments.append((turn[start:], True))
        text = context + turn
    return sequences


def tokenize_segments(tokenizer, segments: list[tuple[str, bool]]) -> tuple[list[int], list[tuple[int, int]]]:
    """(ids, trained spans ``[start, end)`` of ids) of one sequence: the first segment tokenized with the
    tokenizer's special tokens (as every prompt is), the others without, concatenated."""
    ids: list[int] = []
    spans: list[tuple[int, int]] = []
    for k, (text, trained) in enumerate(segments):
        piece = tokenizer(text, add_special_tokens=k == 0)["input_ids"]
        if trained and piece:
            if spans and spans[-1][1] == len(ids):
                spans[-1] = (spans[-1][0], len(ids) + len(piece))
            else:
                spans.append((len(ids), len(ids) + len(piece)))
        ids += list(piece)
    return ids, spans


def _trained_turns(msgs: list[dict], loss_on: str) -> list[int]:
    assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
    last_user = max(i for i, m in enumerate(msgs) if m["role"] == "user")
    return [i for i in assistants[-1:] if i > last_user] if loss_on == "final" else assistants


def _ids_of(encoded) -> list[int]:
    """The ids of what ``apply_chat_template(..., tokenize=True)`` returns (a list, or a BatchEncoding)."""
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def check_parity(tokenizer, example, options: ChatOptions = ChatOptions(), eot: str | None = None) -> list[dict]:
    """Training tokens against inference tokens, turn by turn; the differences (empty: parity).

    Inference for a trained turn: ``apply_chat_template(..., add_generation_prompt=True, tokenize=True)``
    of the conversation before it (earlier turns' thinking as ``history_thinking`` says), then the
    tokens the model writes: what ``apply_chat_template(..., tokenize=True)`` of the conversation through
    the turn adds, through its end-of-turn token. Training: :func:`chat_sequences` tokenized as
    training tokenizes it. Each sequence must hold, up to the end of the turn's trained tokens, exactly
    those inference tokens, and its trained tokens must start where the generation starts (after the
    think block with ``think_loss: false``) and end at the end of turn.
    """
    eot = eot or end_of_turn(tokenizer)
    eot_id = tokenizer.convert_tokens_to_ids(eot)
    msgs = conversation(example, options.system)
    reasons = _renders(tokenizer, "reasoning") if any("reasoning_content" in m for m in msgs) else False
    tools, thinking = example.meta.get("tools"), example.meta.get("enable_thinking")
    extra = {} if thinking is None else {"enable_thinking": thinking}
    spans = []
    for seq in chat_sequences(tokenizer, example, options, eot):
        ids, sp = tokenize_segments(tokenizer, seq)
        spans += [(ids, a, b) for a, b in sp]
    problems = []
    turns = _trained_turns(msgs, options.loss_on)
    if len(turns) != len(spans):
        return [{"source": _source(example), "turn": None, "what": f"{len(turns)} trained turns, {len(spans)} "
                 "trained spans"}]
    for t, (ids, a, b) in zip(turns, spans):
        view = [_view(m, options.history_thinking, reasons) for m in msgs[:t]] + [_view(msgs[t], "keep", reasons)]
        prompt = _ids_of(tokenizer.apply_chat_template(view[:-1], tools=tools or None, add_generation_prompt=True,
                                                       tokenize=True, **extra))
        full = _ids_of(tokenizer.apply_chat_template(view, tools=tools or None, tokenize=True, **extra))
        end = full.index(eot_id, len(prompt)) + 1 if eot_id in full[len(prompt):] else len(full)
        reference = full[:end]
        problem = None
        if full[:len(prompt)] != prompt:
            problem = ("the context's tokens differ once the turn is added (the template rewrites it, or a token "
                       "merges across the boundary)")
        elif ids[:b] != reference:
            at = next((j for j, (x, y) in enumerate(zip(ids[:b], reference)) if x != y), min(b, len(reference)))
            got = tokenizer.decode(ids[at:at + 1]) if at < b else "(end)"
            want = tokenizer.decode(reference[at:at + 1]) if at < len(reference) else "(end)"
            problem = f"token {at}: training {got!r}, inference {want!r}"
        elif b != end or a < len(prompt) or (options.think_loss and a != len(prompt)):
            problem = (f"trained tokens [{a}, {b}), inference writes [{len(prompt)}, {end})")
        if problem:
            problems.append({"source": _source(example), "turn": t, "what": problem})
    return problems
