"""The `tracesft train` config reference, generated from ``tracesft.train.TrainConfig``.

Every field of the dataclass becomes one row (key, type, default, description); the description is
the field's ``#:`` comment in ``src/tracesft/train/config.py`` (on its line or on the lines just
above it; read by ``tracesft.train.reference``, which ``tracesft train --print-config`` uses too),
and the allowed values come from ``CHOICES`` (the registries). Section comments
(``# model and data``) become the table's section rows.

    python tools/config_reference.py           # rewrite the table in docs/training.md
    python tools/config_reference.py --check   # exit 1 if docs/training.md is out of date

``tests/test_docs.py`` runs the check, so the reference cannot go stale.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_docs import ROOT, GeneratedTable  # noqa: E402

DOC = ROOT / "docs" / "training.md"
START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"

def field_docs(cls):
    """(section, name, annotation, help) for every field: the package's own reader (one source)."""
    from tracesft.train.reference import field_docs as read

    return read(cls)


def _yaml_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return '""'
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The markdown table (without the markers)."""
    from tracesft.train.config import CHOICES, TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    docs = field_docs(TrainConfig)
    documented = [name for _, name, _, _ in docs]
    if sorted(documented) != sorted(defaults):
        missing = sorted(set(defaults) - set(documented))
        raise SystemExit(f"config_reference: cannot read these fields from the source: {missing}")
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    section = None
    for sec, name, annotation, help_text in docs:
        if not help_text:
            raise SystemExit(f"config_reference: TrainConfig.{name} has no '#:' description in config.py")
        if sec != section:
            section = sec
            lines.append(f"| **{_cell(sec or '')}** | | | | |")
        allowed = ", ".join(f"`{c}`" for c in CHOICES.get(name, ()))
        help_text = help_text.replace("``", "`")  # reST literals in the comments, markdown here
        lines.append(f"| `{name}` | `{_cell(annotation)}` | `{_cell(_yaml_value(defaults[name]))}` | {allowed} | "
                     f"{_cell(help_text)} |")
    return "\n".join(lines) + "\n"


TABLE = GeneratedTable("config_reference", DOC, START, END, render)


if __name__ == "__main__":
    sys.exit(TABLE.main(description=__doc__.splitlines()[0]))
