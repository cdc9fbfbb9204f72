"""Data: JSONL loaders, prompt templates, filtering of traces to correct ones, importers."""

from .filtering import FilterReport, filter_correct, to_r1_zero_response
from .loaders import Example, SkippedLine, load_examples, read_examples, write_jsonl
from .templates import QUESTION_ONLY, R1_ZERO, TEMPLATES, apply_template, load_template

__all__ = [
    "Example",
    "SkippedLine",
    "load_examples",
    "read_examples",
    "write_jsonl",
    "filter_correct",
    "FilterReport",
    "to_r1_zero_response",
    "R1_ZERO",
    "QUESTION_ONLY",
    "TEMPLATES",
    "load_template",
    "apply_template",
]
