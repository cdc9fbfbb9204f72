"""Answers that are claims, not values: "No", "It is not possible", "No integer solutions",
"The limit does not exist"; and reference answers that wrap a value in prose ("0 is the only
possible value", "1000 (i.e., all values)", "The limit exists and is equal to 4").

Pure string code on bounded text; nothing here evaluates its input.

Polarity of a statement (:func:`statement_polarity`), read from its main clause, i.e. the text
before the first condition or reason ("such that", "where", "for which", "because", "with", ...):

* a leading "Yes"/"No" decides;
* a hedge in the main clause ("cannot be determined", "not possible to determine", "without further
  information", "depends on"), or an exception anywhere ("other than", "except", "unless") makes it
  undecided (None): "no solutions other than (0, 0)" is not "no solutions";
* a negation ("not", "no", "cannot", "never", "none", "n't", "impossible") makes it "no";
* "There is/are ..." decides by what follows: "no"/"not" -> "no", a number or a count word
  ("There are 120 ways", "There is exactly one") -> undecided (a count, not a claim), else "yes";
* an affirmed possibility or existence ("can be", "is possible", "exists", "always") makes it
  "yes"; anything else is undecided.

A claim reference answer (a "Yes"/"No"-type answer without digits) matches a response when the
response's final statement has the same polarity and holds every content word of the reference
(plural-insensitive; generic words such as "such", "values", "possible", "exist" excepted):
"No integer solutions" matches "There are no integer solutions to the equation ..." but not "There
are no real solutions" nor "The only integer solution is (5, 0)".
"""

from __future__ import annotations

import re

from .lexicon import EXISTENTIAL_CLAIM, MATH_SPAN

__all__ = ["claim_matches", "is_claim", "is_hedge", "prose_matches", "reference_value", "statement_polarity"]

def _prose_only(s: str) -> str:
    return MATH_SPAN.sub(" X ", s[:2000])

_MAIN_CLAUSE_END = re.compile(
    r"\b(?:such that|so that|where|whenever|for which|in which|because|since|as long as|given that|provided"
    r"|which|whose|meaning|i\.e\.|e\.g\.)\b|;", re.IGNORECASE)
_LEAD = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
_HEDGE = re.compile(
    r"\b(?:cannot be (?:determined|found|computed|calculated|solved|answered|decided)"
    r"|without (?:further|more|additional|knowing)|not enough|insufficient|unknown|undetermined|depends on|it depends"
    r"|other than|except|besides|apart from|unless|not necessarily|uncertain"
    r"|(?:not possible|impossible|unable|cannot|can't|not able) to (?:\w+ )?(?:determine|decide|conclude|say|tell"
    r"|know|compute|calculate))\b", re.IGNORECASE)
# An exception anywhere in the statement undoes a "no" claim.
_EXCEPTION = re.compile(r"\b(?:other than|except|besides|apart from|unless|but for)\b", re.IGNORECASE)
# "no two apple trees are adjacent" is a condition, not a negation.
_NEGATION = re.compile(r"\b(?:not|no(?!\s+(?:two|three|\d))|never|none|cannot|nor|neither|nothing|impossible)\b|n't\b",
                       re.IGNORECASE)
_AFFIRM = re.compile(r"\b(?:can (?:always )?be|could be|is possible|are possible|exists?|always)\b", re.IGNORECASE)
_WORDS = re.compile(r"[A-Za-z]{3,}")
_GENERIC = {
    "yes", "not", "never", "none", "cannot", "the", "there", "such", "value", "values", "possible", "exist",
    "exists", "does", "any", "and", "for", "that", "this", "with", "equal", "answer", "are", "can", "impossible",
    "doesn", "isn", "aren", "nor", "neither", "nothing", "all", "have", "has",
}


def _main_clause(s: str) -> str:
    m = _MAIN_CLAUSE_END.search(s)
    return s[:m.start()] if m else s


def statement_polarity(statement: str) -> str | None:
    """"yes", "no" or None (undecided) for a statement, from its main clause (rules: module doc)."""
    s = _prose_only(statement)
    lead = _LEAD.match(s)
    if lead and re.match(r"(?<!\s)\s*(?:[,.!;:]|$)", s[lead.end():]):
        return lead.group(1).lower()
    main = _main_clause(s)
    if _HEDGE.search(main) or _EXCEPTION.search(s):
        return None  # "no integer values of m such that ..., except for the trivial case m = 0"
    ex = EXISTENTIAL_CLAIM.search(main)
    if ex:  # "There are no solutions" / "There are 120 ways" (a count, not a claim) / "There are solutions"
        return "no" if ex.group(1) else None if ex.group(2) else "yes"
    if _NEGATION.search(main):
        return "no"
    if _AFFIRM.search(main):
        return "yes"
    return None


def is_hedge(statement: str) -> bool:
    """Whether a statement says the answer is undetermined ("cannot be found", "without further
    information"): such a response states no answer."""
    return bool(_HEDGE_ONLY.search(_main_clause(_prose_only(statement))))


_HEDGE_ONLY = re.compile(r"\b(?:cannot be (?:determined|found|computed|calculated|solved|answered|decided)"
                         r"|without (?:further|more|additional) information|not enough information"
                         r"|(?:not possible|impossible|unable|cannot|can't|not able) to (?:\w+ )?(?:determine|decide"
                         r"|conclude|say|tell|know|compute|calculate))\b", re.IGNORECASE)


def prose_matches(statement: str, reference: str) -> bool:
    """A prose reference that is neither a claim nor a value ("Monotonically increasing", "Always
    greater than 20") matches a statement whose main verb "is"/"are" is followed by exactly that
    phrase (case-insensitive; not negated, not hedged, not after "whether"/"if": "it is not possible
    to determine whether w is always greater than 20" does not match): "The sequence a_n/b_n is
    monotonically increasing."."""
    ref = " ".join(reference.lower().split()).rstrip(".")
    if not ref or re.search(r"\d", ref) and len(_WORDS.findall(ref)) < 2 or is_claim(reference):
        return False
    if not _WORDS.search(ref) or statement_polarity(statement) == "no" or _HEDGE.search(statement[:2000]):
        return False  # "... insufficient to determine whether w is always greater than 20"
    said = " ".join(statement[:2000].lower().split())
    m = re.search(r"\b(?:is|are)\s+(?:always\s+)?" + re.escape(ref) + r"(?![\w])", said)
    return bool(m) and not re.search(r"\b(?:whether|if)\b", said[:m.start()])


def _stem(w: str) -> str:
    w = w.lower()
    for suffix in ("ies", "es", "s"):
        if w.endswith(suffix) and len(w) > len(suffix) + 3:
            return w[:-len(suffix)] + ("y" if suffix == "ies" else "")
    return w


def _content(s: str) -> set[str]:
    return {_stem(w) for w in _WORDS.findall(s) if w.lower() not in _GENERIC}


def is_claim(reference: str) -> bool:
    """Whether a reference answer is a claim (no digits, a decided polarity): "No", "Yes",
    "It is not possible", "The sequence is not periodic"."""
    return not re.search(r"\d", reference) and statement_polarity(reference) is not None


def claim_matches(statement: str, reference: str) -> bool:
    """Whether a response's final statement asserts the claim ``reference`` (rules: module doc)."""
    if not is_claim(reference):
        return False
    polarity = statement_polarity(statement)
    if polarity is None or polarity != statement_polarity(reference):
        return False
    said = {_stem(w) for w in _WORDS.findall(_prose_only(statement))}
    return _content(reference) <= said


# Prose around a value in a reference answer. Each pattern's group 1 is the value.
_VALUE_IN_PROSE = [
    re.compile(r"^(.+?)(?<=\S)\s+is\s+the\s+only\s+(?:possible\s+)?(?:value|solution|answer)s?$", re.IGNORECASE),
    re.compile(r"^the\s+only\s+(?:possible\s+)?(?:value|solution|answer)\b[^=]*?\bis\s+(.+)$", re.IGNORECASE),
    re.compile(r"^the\s+limit\s+exists\s+and\s+(?:is\s+equal\s+to|equals|is)\s+(.+)$", re.IGNORECASE),
    re.compile(r"^exactly\s+(-?\d+)(?:\s+[A-Za-z][\w-]*)*$", re.IGNORECASE),
    re.compile(r"^(-?\d+)(?:\s+[A-Za-z][A-Za-z-]*){1,3}$"),
]
_BOUND = re.compile(r"^(at\s+most|at\s+least)\s+(-?\d+)(?:\s+[A-Za-z][\w-]*)*$", re.IGNORECASE)
_TRAILING_NOTE = re.compile(r"^(.*?\S)\s*\(\s*(?:i\.e\.|e\.g\.|that is|namely)?,?\s*[^()]*\)$", re.IGNORECASE)


def reference_value(reference: str) -> str | None:
    """The value inside a prose reference answer, or None when there is no prose to remove.

    ``"0 is the only possible value"`` -> ``"0"``; ``"1000 (i.e., all values)"`` -> ``"1000"``;
    ``"The limit exists and is equal to 4"`` -> ``"4"``; ``"At most 0 integer-valued zeros"`` ->
    ``"0"``; ``"2 inequalities"`` -> ``"2"``. A trailing parenthetical is removed only when it is
    prose (``"(i.e., ...)"``, ``"(none of the values)"``), never a bracket of the math.
    """
    s = reference.strip().rstrip(".")
    changed = False
    m = _TRAILING_NOTE.match(s)
    if m and _WORDS.search(s[len(m.group(1)):]) and len(_WORDS.findall(s[len(m.group(1)):])) >= 2:
        s, changed = m.group(1).rstrip(" ,"), True
    for pattern in _VALUE_IN_PROSE:
        m = pattern.match(s)
        if m:
            return m.group(1).strip()
    m = _BOUND.match(s)
    if m:  # "At most 0 integer-valued zeros" -> "\\le 0", as the extractor writes "is at most 0"
        return ("\\le " if m.group(1).lower().endswith("most") else "\\ge ") + m.group(2)
    return s if changed else None
