"""One main for the generated tables in docs/: replace the text between two markers, or check it.

A generator (``tools/config_reference.py``, ``tools/grading_rules.py``) declares its page, its two
markers and a ``render()`` that returns the markdown; ``main`` rewrites the page or, with
``--check``, exits 1 when the page differs from the code (``tests/test_docs.py`` runs the check).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class GeneratedTable:
    tool: str                    # tools/NAME.py, for the messages
    doc: Path                    # the page that holds the table
    start: str                   # the markers around it
    end: str
    render: Callable[[], str]    # the markdown between the markers

    def replace(self, text: str, table: str) -> str:
        if self.start not in text or self.end not in text:
            raise SystemExit(f"{self.tool}: {self.doc} lacks the markers {self.start} / {self.end}")
        head, rest = text.split(self.start, 1)
        _, tail = rest.split(self.end, 1)
        return f"{head}{self.start}\n{table}{self.end}{tail}"

    def current(self) -> tuple[str, str]:
        """(the page as it is, the page as the code would write it)."""
        text = self.doc.read_text(encoding="utf-8")
        return text, self.replace(text, self.render())

    def main(self, argv: list[str] | None = None, description: str = "") -> int:
        p = argparse.ArgumentParser(description=description)
        p.add_argument("--check", action="store_true", help="exit 1 when the page is out of date")
        args = p.parse_args(argv)
        text, new = self.current()
        where = self.doc.relative_to(ROOT)
        if args.check:
            if new != text:
                print(f"{where}: the generated table is out of date; run: python tools/{self.tool}.py",
                      file=sys.stderr)
                return 1
            return 0
        if new != text:
            from tracesft.outputs import write_text_atomic

            write_text_atomic(self.doc, new)
            print(f"wrote the generated table into {where}")
        return 0
