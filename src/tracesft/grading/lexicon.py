"""The grader's shared words and patterns: one definition each, named by what it means.

Pure data (word sets and compiled patterns, all linear: tests/grading/test_regex_budget.py).
"""

from __future__ import annotations

import re

__all__ = [
    "EXISTENTIAL_CLAIM",
    "EXISTENTIAL_LEAD",
    "MATH_SPAN",
    "NUMBER_WORDS",
    "THOUSANDS_IN_TEXT",
    "THOUSANDS_NUMBER",
]

# Thousands separators. A whole answer that is one grouped number ("1,234,567", "-1,000.5"): its commas go.
THOUSANDS_NUMBER = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
# A grouped number inside a longer text ("250 × 5 = 1,250"), not part of a longer number or a decimal.
THOUSANDS_IN_TEXT = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]|\.\d)")

# "There is/are ..." at the start of a sentence, after connectives ("So there are 29 ..."): the
# extraction rules read the count after it as the sentence's object.
EXISTENTIAL_LEAD = re.compile(r"^\W*(?:(?:therefore|thus|hence|so|in conclusion|in total|overall|finally|in summary)"
                              r"\W+)*there\s+(?:is|are|exist|exists)\s+", re.IGNORECASE)
# "There is/are ..." anywhere in a main clause, for a claim's polarity: group 1 a negation ("there are
# no ..."), group 2 a count ("there are 120 ...", "there is exactly one"; X is a math span's placeholder).
EXISTENTIAL_CLAIM = re.compile(r"\bthere\s+(?:is|are|exists?)\s+(?:(no|not)\b|(\d|X\b|(?:zero|one|two|three|four|five"
                               r"|six|seven|eight|nine|ten|exactly|only|at most|at least)\b))?", re.IGNORECASE)

# A math span: $$..$$, $..$, \(..\), \[..\] (bounded, so scans stay linear).
MATH_SPAN = re.compile(r"\$\$.{0,2000}?\$\$|\$[^$]{0,2000}\$|\\\(.{0,2000}?\\\)|\\\[.{0,2000}?\\\]", re.DOTALL)

NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
