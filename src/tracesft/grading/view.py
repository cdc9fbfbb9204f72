"""A response parsed once: the parts every extraction rule reads, each computed on first use.

The cleaning passes (markdown bold, currency dollars, check marks, afterwords) run once per
response, however many rules read the final paragraph or the final statement.
"""

from __future__ import annotations

from functools import cached_property

from .extract import (
    GSM8K_MARKER,
    THINK_END,
    WINDOW,
    clean_text,
    final_boxes,
    last_paragraph,
    statement_of,
)

__all__ = ["ResponseView"]


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
