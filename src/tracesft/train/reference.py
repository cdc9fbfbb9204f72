"""The config reference from one source: each ``TrainConfig`` field's ``#:`` comment in ``config.py``.

:func:`field_docs` reads the comments (on a field's line or the lines just above it) and the section
comments (``# model and data``); ``tools/config_reference.py`` renders them as the table of
docs/training.md, and ``tracesft train --print-config`` as annotated YAML (:func:`annotated_yaml`).
"""

from __future__ import annotations

import dataclasses
import inspect
import re

__all__ = ["field_docs", "annotated_yaml"]

_FIELD = re.compile(r"^    (\w+): ([^=]+?) = (.+?)(?:\s+#: (.*))?$")
_SECTION = re.compile(r"^    # (\S.*)$")
_HELP = re.compile(r"^    #: (.*)$")


def field_docs(cls) -> list[tuple[str | None, str, str, str]]:
    """(section, name, annotation, help) for every field, in declaration order, from the class source."""
    out, section, pending = [], None, []
    for line in inspect.getsource(cls).splitlines():
        if m := _HELP.match(line):
            pending.append(m.group(1).strip())
        elif m := _SECTION.match(line):
            section, pending = m.group(1).strip(), []
        elif m := _FIELD.match(line):
            name, annotation, _, trailing = m.groups()
            help_text = " ".join(pending + ([trailing.strip()] if trailing else []))
            out.append((section, name, annotation.strip(), help_text))
            pending = []
        elif line.strip() and not line.strip().startswith(('"""', "#")):
            pending = []
    return out


def _yaml_scalar(value) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[: -len("...")].strip() if text.endswith("...") else text


def annotated_yaml(config) -> str:
    """``config`` as YAML that ``--config`` loads again: every key with its value and its description
    as a comment, under its section's heading; the allowed values of a choice in brackets."""
    from .config import CHOICES

    values = dataclasses.asdict(config)
    lines, section = [], None
    for sec, name, _, help_text in field_docs(type(config)):
        if sec != section:
            section = sec
            lines.append(f"\n# --- {sec} ---" if lines else f"# --- {sec} ---")
        help_text = help_text.replace("``", "")
        if name in CHOICES and not any(c in help_text for c in CHOICES[name][1:2]):
            help_text += f" [{' | '.join(CHOICES[name])}]"
        lines.append(f"{name}: {_yaml_scalar(values[name])}  # {help_text}")
    return "\n".join(lines) + "\n"
