"""Data: JSONL loaders, prompt templates, filtering of traces to correct ones, importers."""

from .filtering import FilterReport, filter_correct, to_r1_zero_response
from .loaders import Example, SkippedLine, load_examples, read_examples, write_jsonl
from .templates import (
    CHAT,
    QUESTION_ONLY,
    R1_ZERO,
    TEMPLATES,
    apply_template,
    load_template,
    render_prompts,
    render_responses,
    stop_token_ids,
)

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
    "CHAT",
    "render_prompts",
    "render_responses",
    "stop_token_ids",
]
