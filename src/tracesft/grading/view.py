"""A response parsed once: the parts every extraction rule reads, each computed on first use.

The cleaning passes (markdown bold, currency dollars, check marks, afterwords) run once per
response, however many rules read the final paragraph or the final statement.
"""

from __future__ import annotations

import re
from functools import cached_property

from .extract import (
    _CONCLUSION,
    GSM8K_MARKER,
    THINK_END,
    WINDOW,
    _split_sentences,
    clean_text,
    final_boxes,
    last_paragraph,
    statement_of,
)

__all__ = ["ResponseView"]

_CONCLUDE_THAT = re.compile(r"\b(?:conclude[ds]?|follows|shows|proves|means|implies)\s+that\b", re.IGNORECASE)


class ResponseView:
    """One response's parts: ``response`` (as given), ``cut_off`` (an unclosed ``<think>``), ``boxes``
    (the final ``\\boxed{}`` group), ``hash_marker`` (a GSM8K ``#### N`` line), ``text`` (cleaned:
    markup, currency dollars and afterwords removed), ``paragraph`` (its final paragraph) and
    ``statement`` (the concluding statement: after "answer is (that)", else the paragraph's first
    sentence)."""

    def __init__(self, response: str) -> None:
        self.response = response

    @cached_property
    def cut_off(self) -> bool:
        return self.response.rfind("<think>") > self.response.rfind(THINK_END)

    @cached_property
    def boxes(self) -> str | None:
        return final_boxes(self.response)

    @cached_property
    def hash_marker(self) -> str | None:
        marked = list(GSM8K_MARKER.finditer(self.response[-WINDOW:]))
        return marked[-1].group(1) if marked else None

    @cached_property
    def text(self) -> str:
        return clean_text(self.response)

    @cached_property
    def paragraph(self) -> str:
        return last_paragraph(self.text)

    @cached_property
    def statement(self) -> str:
        return statement_of(self.paragraph)

    @cached_property
    def conclusion(self) -> str | None:
        """The final paragraph's last sentence when it concludes ("Therefore, there are no solutions ...",
        "Since ..., we conclude that 385^1980 + 18^1980 is not a perfect square"): from after its last
        "conclude that"/"it follows that"/"this shows that" when it has one, else the whole sentence when
        it starts with So/Thus/Therefore/Hence/...; None otherwise or when it is the statement itself."""
        sentences = _split_sentences(self.paragraph)
        if len(sentences) < 2:
            return None
        last = sentences[-1]
        found = list(_CONCLUDE_THAT.finditer(last))
        if found:
            return last[found[-1].end():].strip() or None
        return last if _CONCLUSION.match(last) else None
