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

from ..errors import UserInputError

__all__ = ["chat_messages", "render_chat_prompt", "render_chat_response", "end_of_turn", "end_of_turn_id"]

_MARK = "\u2063tracesft-response\u2063"  # text no template changes (invisible separators around a word)


def _require_template(tokenizer) -> None:
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", None) or "this tokenizer"
        raise UserInputError(f"template chat: {name} has no chat template (use r1_zero, question_only or a "
                             "template file)")


def chat_messages(example, system: str | None = None) -> list[dict]:
    """The conversation before the response: system (the example's, else ``system``), earlier turns, user."""
    messages = []
    sys_text = example.meta.get("system", system)
    if sys_text:
        messages.append({"role": "system", "content": sys_text})
    messages += [{"role": m["role"], "content": m["content"]} for m in example.meta.get("context", ())]
    messages.append({"role": "user", "content": example.prompt})
    return messages


def _render(tokenizer, messages, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=False)


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
    return _strip_written_bos(tokenizer, _render(tokenizer, chat_messages(example, system), True))


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
