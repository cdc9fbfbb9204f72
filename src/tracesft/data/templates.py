"""Prompt templates. A template is text with one ``{question}`` placeholder."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserInputError

__all__ = ["R1_ZERO", "QUESTION_ONLY", "TEMPLATES", "load_template", "apply_template"]

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
TEMPLATES = {"r1_zero": R1_ZERO, "question_only": QUESTION_ONLY}


def load_template(name_or_path: str) -> str:
    """A built-in template by name (``r1_zero``, ``question_only``) or the text of a template file.

    The template must contain ``{question}`` exactly once; other braces are kept literally.
    """
    if name_or_path in TEMPLATES:
        return TEMPLATES[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise UserInputError(f"unknown template {name_or_path!r}: not one of {sorted(TEMPLATES)} and not a file")
    try:
        text = path.read_text(encoding="utf-8")
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
