"""The grader's rule tables in docs/grading.md, generated from ``tracesft.grading``.

One table each: the extraction rules (``rules.EXTRACTION_RULES``, in their order of precedence), the
sentence readers of the final paragraph (``rules.SENTENCE_READERS``) and the comparators
(``equivalence.COMPARATORS``): name, description, one example from the rule's own data.

    python tools/grading_rules.py           # rewrite the tables in docs/grading.md
    python tools/grading_rules.py --check   # exit 1 if docs/grading.md is out of date

``tests/test_docs.py`` runs the check, so the documentation is the code's own list.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_docs import ROOT, GeneratedTable  # noqa: E402

DOC = ROOT / "docs" / "grading.md"
START = "<!-- grading-rules:start -->"
END = "<!-- grading-rules:end -->"


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text) -> str:
    if text is None:
        return "*none*"
    text = _cell(text).replace("`", "'")
    return "`" + (text if len(text) <= 70 else text[:67] + "...") + "`"


def render() -> str:
    from tracesft.grading.equivalence import COMPARATORS
    from tracesft.grading.rewards import STATEMENT_COMPARATORS
    from tracesft.grading.rules import EXTRACTION_RULES, SENTENCE_READERS

    out = ["**Extraction rules**, in order (the first that applies decides; its name is the grade's `rule`):", "",
           "| # | rule | what it reads | example | answer |", "|---|---|---|---|---|"]
    for i, r in enumerate(EXTRACTION_RULES, 1):
        text, want = r.examples[0]
        out.append(f"| {i} | `{r.name}` | {_cell(r.description)} | {_code(text)} | {_code(want)} |")
    out += ["", "**Sentence readers** of `final_sentence` (and `conclusion_after_box`), tried in order on each "
            "sentence, the last first (the grade's rule is `final_sentence:READER`):", "",
            "| reader | what it reads | example | answer |", "|---|---|---|---|"]
    for r in SENTENCE_READERS:
        text, want = r.examples[0]
        out.append(f"| `{r.name}` | {_cell(r.description)} | {_code(text)} | {_code(want)} |")
    out += ["", "**Comparators** (the grade's `comparator`): structural readings first, then the scalar ones in "
            "order; when the value does not match, a claim or prose truth is matched against the final statement "
            "(the last two; the grade's rule is then `final_statement`), then against a concluding last sentence "
            "(rule `conclusion`):", "",
            "| comparator | what it decides | example (prediction, truth) | equal |", "|---|---|---|---|"]
    for c in (*COMPARATORS, *STATEMENT_COMPARATORS):
        ex = f"{_code(c.examples[0][0])}, {_code(c.examples[0][1])}" if c.examples else ""
        eq = str(c.examples[0][2]).lower() if c.examples else ""
        out.append(f"| `{c.name}` | {_cell(c.description)} | {ex} | {eq} |")
    return "\n".join(out) + "\n"



TABLE = GeneratedTable("grading_rules", DOC, START, END, render)


if __name__ == "__main__":
    sys.exit(TABLE.main(description=__doc__.splitlines()[0]))
