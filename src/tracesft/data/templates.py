"""Prompt templates: text with one ``{question}`` placeholder, or ``chat`` (the tokenizer's chat template).

:func:`render_prompts` and :func:`render_responses` are what training and evaluation call: a text
template formats the question and leaves the response as it is; ``chat`` renders the
conversation with the tokenizer (:mod:`tracesft.data.chat`). A text template has no place for a
system message or earlier turns of a chat record: they are left out, with a warning that counts
them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import UserInputError

__all__ = ["R1_ZERO", "QUESTION_ONLY", "CHAT", "TEMPLATES", "load_template", "apply_template", "render_prompts",
           "render_responses", "stop_token_ids"]

log = logging.getLogger(__name__)

R1_ZERO = (
    "A conversation between User and Assistant. The User asks a question, and the Assistant solves it. "
    "The Assistant first thinks about the reasoning process in the mind and then provides the User with the "
    "answer. The reasoning process is enclosed within <think> </think> and answer is enclosed within "
    "<answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
    "<answer> answer here </answer>.\n"
    "User: {question}\n"
    "Assistant: <think>"
)
QUESTION_ONLY = "{question}"
CHAT = "chat"  #: not text: the tokenizer's chat template renders the conversation
TEMPLATES = {"r1_zero": R1_ZERO, "question_only": QUESTION_ONLY, "chat": CHAT}


def load_template(name_or_path: str) -> str:
    """A built-in template by name (``r1_zero``, ``question_only``, ``chat``) or the text of a template file.

    The template must contain ``{question}`` exactly once; other braces are kept literally.
    """
    if name_or_path in TEMPLATES:
        return TEMPLATES[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise UserInputError(f"unknown template {name_or_path!r}: not one of {sorted(TEMPLATES)} and not a file")
    from .sources import read_bounded_text

    try:
        text = read_bounded_text(path, "template")
    except UnicodeDecodeError as e:
        raise UserInputError(f"template {path}: not UTF-8 text (byte {e.start})") from None
    if text.endswith("\n") and not text.endswith("\n\n"):
        text = text[:-1]  # editors add a final newline; the prompt should end where the text ends
    count = text.count("{question}")
    if count != 1:
        raise UserInputError(f"template {path} must contain '{{question}}' exactly once, found {count}")
    return text


def apply_template(template: str, question: str) -> str:
    """The template with ``{question}`` replaced (no str.format: questions contain braces)."""
    return template.replace("{question}", question)


def render_prompts(template: str, examples, tokenizer=None, system: str | None = None) -> list[str]:
    """The prompt text of each example under ``template`` (``chat`` needs the tokenizer).

    ``system``: the system message for examples without their own (``chat`` only).
    """
    if template == CHAT:
        from .chat import render_chat_prompt

        return [render_chat_prompt(tokenizer, e, system) for e in examples]
    left_out = sum(1 for e in examples if e.meta.get("system") or e.meta.get("context"))
    if left_out:
        log.warning("%d example(s) carry a system message or earlier turns, which a text template leaves out "
                    "(template chat renders them)", left_out)
    return [apply_template(template, e.prompt) for e in examples]


def render_responses(template: str, examples, tokenizer=None, system: str | None = None) -> list[str]:
    """The response text each example trains on: as written, or under ``chat`` through the end-of-turn token."""
    if template != CHAT:
        return [e.response for e in examples]
    from .chat import end_of_turn, render_chat_response

    eot = end_of_turn(tokenizer)
    return [render_chat_response(tokenizer, e, e.response, system, eot) for e in examples]


def stop_token_ids(template: str, tokenizer) -> tuple[int, ...]:
    """Token ids generation stops at besides EOS: the chat template's end-of-turn token under ``chat``."""
    if template != CHAT:
        return ()
    from .chat import end_of_turn_id

    return (end_of_turn_id(tokenizer),)
