"""Where a free-form answer is read from: an ordered table of named extraction rules.

Each :class:`Rule` reads a :class:`.view.ResponseView` (the response parsed once) and returns an
:class:`Extraction` -- an answer, or ``None`` when the rule decides there is no answer (a cut-off
response, a hedge, a denied value) -- or ``None`` when it does not apply, and the next rule is tried.
The first rule that applies decides; its name is the grade's provenance. The final paragraph is read
sentence by sentence (the last first) by a second table, :data:`SENTENCE_READERS`.

Every rule carries its own examples: ``examples`` (a response and the answer this rule alone reads
from it) and ``non_examples`` (responses it does not apply to). ``tests/grading/test_rules.py`` runs
each rule alone on them, and ``docs/grading.md`` lists the table (``tools/grading_rules.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .claims import _NEGATION, _prose_only, is_hedge, statement_polarity
from .extract import (
    _ANSWER_IS,
    _CONCLUSION,
    _NEGATED_LINK,
    _NUMBER,
    _TOKEN,
    _YES_NO,
    WINDOW,
    _answer_after,
    _drop_currency,
    _only_value,
    _sentence_answer,
    _split_sentences,
    _strip_span,
    final_boxes,
    r1_zero_block,
)
from .lexicon import NUMBER_WORDS
from .view import ResponseView

__all__ = ["EXTRACTION_RULES", "SENTENCE_READERS", "Extraction", "Rule", "extract", "extract_free_form_answer",
           "extract_r1_zero", "extract_view"]


@dataclass(frozen=True)
class Extraction:
    """An extracted answer (None: no answer) and the rule that decided it (None: no rule applied)."""

    answer: str | None
    rule: str | None


@dataclass(frozen=True)
class Rule:
    """A named extraction rule: ``read(view) -> Extraction | None`` (None: does not apply)."""

    name: str
    description: str
    read: Callable
    examples: tuple[tuple[str, str | None], ...] = ()
    non_examples: tuple[str, ...] = ()


# ---- the final paragraph, sentence by sentence ---------------------------------------------------


def _negated_marker(sentence: str, last: bool) -> Extraction | None:
    matches = list(_ANSWER_IS.finditer(sentence))
    if matches and _NEGATION.search(sentence[:matches[-1].start()]):
        return Extraction(None, "negated_marker")
    return None


def _marker(sentence: str, last: bool) -> Extraction | None:
    matches = list(_ANSWER_IS.finditer(sentence))
    found = _answer_after(sentence, matches[-1]) if matches else None
    return Extraction(found, "answer_marker") if found else None


# A connective before a leading Yes/No: "So, yes, a_9000 > 30."
_CONNECTIVE = re.compile(r"(?:so|thus|therefore|hence|then|and|in conclusion|in summary)\b,?", re.IGNORECASE)


def _yes_no(sentence: str, last: bool) -> Extraction | None:
    m = _YES_NO.match(sentence)
    lead = _CONNECTIVE.match(sentence) if m is None else None
    if lead is not None:
        m = _YES_NO.match(sentence, lead.end())
    return Extraction(m.group(1).capitalize(), "yes_no") if m else None


# A count that leads the sentence as its subject or its quantifier: "At least 50 questions are
# needed", "At most two of the inequalities can be true", "For all 1000 values of x_n, we have ...",
# "So, for 999 values of ..." ("for N" only before values/terms/numbers/integers/elements/indices: "For
# 3 days of work, he earns 60" is not a count of answers). A bound in the subject states the extremum
# asked for (the fewest questions needed is 50), unlike a bound in the object ("the number is at least
# 4": a bound, not a value). A word must follow the number ("50 questions"), so an expression ("2x + 1")
# is not read here.
_LEADING_COUNT = re.compile(
    r"(?<!\W)\W*(?:(?:so|thus|therefore|hence|in conclusion|finally|overall)\W+)?"
    r"(?:for\s+(?:all\s+)?(?:at\s+(?:least|most)\s+)?(?=\S+\s+(?:values|terms|numbers|integers|elements|indices)\b)"
    r"|at\s+(?:least|most)\s+)(\d+|" + "|".join(NUMBER_WORDS) + r")\s+(?:of\s+(?:the\s+)?)?[A-Za-z]{2,}", re.IGNORECASE)


def _leading_count(sentence: str, last: bool) -> Extraction | None:
    m = _LEADING_COUNT.match(sentence)
    if m is None:
        return None
    return Extraction(NUMBER_WORDS.get(m.group(1).lower(), m.group(1)), "leading_count")


def _object(sentence: str, last: bool) -> Extraction | None:
    found, pos = _sentence_answer(sentence)
    if found is not None and _NEGATED_LINK.search(sentence[max(0, pos - 40):pos]):
        return Extraction(None, "negated_link")  # "cannot be 1977": the value is denied, not stated
    return Extraction(found, "object") if found else None


def _only(sentence: str, last: bool) -> Extraction | None:
    if not last or _NEGATION.search(_prose_only(sentence)):
        return None
    found = _only_value(sentence)
    return Extraction(found, "only_value") if found is not None else None


SENTENCE_READERS: tuple[Rule, ...] = (
    Rule("negated_marker", "an answer marker after a negation (\"it is not true that the answer is 5\"): "
         "nothing is asserted, no answer", _negated_marker,
         (("It is not true that the answer is 5.", None),), ("The answer is 5.",)),
    Rule("answer_marker", "an explicit \"answer is ...\" / \"Answer: ...\" / \"Final: ...\" / \"Result: ...\" "
         "(\"answer is that ...\" reads the statement after \"that\")", _marker,
         (("So the answer is 42.", "42"), ("Final answer: $x = 3$", "x = 3")), ("There are 29 strings.",)),
    Rule("yes_no", "a leading Yes or No (after a label or a connective: \"So, yes, ...\")", _yes_no,
         (("No, it is not possible.", "No"), ("Yes.", "Yes"), ("So, yes, $a_{9000} > 30$.", "Yes")),
         ("Nobody knows.", "The answer is no.", "So no two of them are adjacent.")),
    Rule("leading_count", "a count that leads the sentence: \"At least/At most N ...\", \"For (all) N values of ...\" "
         "(a bound in the subject states the extremum asked for; a word must follow the number)", _leading_count,
         (("At least 50 questions are needed.", "50"), ("At most two of the inequalities can be true.", "2"),
          ("Therefore, for all 1000 values of x_n, we have x_n > 4/5.", "1000")),
         ("5 students scored 90 points.", "For n = 3 the sum is 6.", "At least 2x + 1 is positive.",
          "So, for 3 days of work, Tom earns $60.")),
    Rule("object", "the sentence's object: after a leading \"There is/are\", else after its main link "
         "(is/are/equals/=; condition clauses skipped); a value after a negated link (\"cannot be 5\") "
         "is denied: no answer", _object,
         (("There are 29 valid strings.", "29"), ("The remainder when n is divided by 7 is 2.", "2"),
          ("The values are a = 3, b = -7, and c = 4.", "a = 3, b = -7, c = 4"),
          ("The digit sum cannot be 1977.", None)),
         ("It will take her 12 days.",)),
    Rule("only_value", "the last sentence's only value when it has no link and no negation (\"It will take "
         "her 12 days.\"), else a named choice (\"Option D\")", _only,
         (("It will take her 12 days.", "12"), ("I would go with option (C).", "C")),
         ("She sold 48 clips in April and 24 in May.",)),
)


def read_paragraph(par: str) -> Extraction | None:
    """The answer the final paragraph states: its sentences (at most 4, the last first), each read
    by :data:`SENTENCE_READERS` in order; None when no sentence states anything."""
    sentences = _split_sentences(par)[-4:]
    for n, sentence in enumerate(reversed(sentences)):
        for reader in SENTENCE_READERS:
            found = reader.read(sentence, n == 0)
            if found is not None:
                return found
    return None


# ---- the rules of a whole response ---------------------------------------------------------------


def _cut_off(v: ResponseView) -> Extraction | None:
    return Extraction(None, "cut_off") if v.cut_off else None


def _conclusion_after_box(v: ResponseView) -> Extraction | None:
    par = v.paragraph
    if v.boxes is None or "\\boxed" in par or "\\fbox" in par or not (_CONCLUSION.match(par) or _ANSWER_IS.search(par)):
        return None
    found = read_paragraph(par)
    return Extraction(found.answer, f"conclusion_after_box:{found.rule}") if found and found.answer else None


def _boxed(v: ResponseView) -> Extraction | None:
    return Extraction(v.boxes.strip(), "boxed") if v.boxes is not None else None


def _hash_marker(v: ResponseView) -> Extraction | None:
    m = v.hash_marker
    if not m or not m.strip(" .$"):
        return None
    return Extraction(_drop_currency(m).strip().rstrip(".").strip(), "hash_marker")


def _nothing_left(v: ResponseView) -> Extraction | None:
    return Extraction(None, "nothing_left") if not v.text else None


def _hedge(v: ResponseView) -> Extraction | None:
    return Extraction(None, "hedge") if is_hedge(v.statement) else None


def _final_sentence(v: ResponseView) -> Extraction | None:
    found = read_paragraph(v.paragraph)
    return Extraction(found.answer, f"final_sentence:{found.rule}") if found else None


def _answer_marker_anywhere(v: ResponseView) -> Extraction | None:
    matches = list(_ANSWER_IS.finditer(v.text))
    found = _answer_after(v.text, matches[-1]) if matches else None
    return Extraction(found, "answer_marker_anywhere") if found else None


def _negated_statement(v: ResponseView) -> Extraction | None:
    return Extraction(None, "negated_statement") if statement_polarity(v.statement) == "no" else None


def _last_math_span(v: ResponseView) -> Extraction | None:
    spans = [m.group() for m in _TOKEN.finditer(v.text[-WINDOW:]) if _strip_span(m.group())]
    return Extraction(_strip_span(spans[-1]), "last_math_span") if spans else None


def _last_number(v: ResponseView) -> Extraction | None:
    numbers = _NUMBER.findall(v.text)
    return Extraction(numbers[-1].strip(), "last_number") if numbers else None


EXTRACTION_RULES: tuple[Rule, ...] = (
    Rule("cut_off", "a `<think>` that is never closed: the response was cut off before its conclusion, "
         "no answer", _cut_off,
         (("<think> Let me compute: 2 + 2 = 4, so", None),), ("<think> 2 + 2 = 4 </think> The answer is 4.",)),
    Rule("conclusion_after_box", "a concluding final paragraph without a box (\"So/Thus/Therefore ...\" or an "
         "answer marker) that states an answer beats a \\boxed{} of an earlier paragraph", _conclusion_after_box,
         (("I first wrote $\\boxed{14}$.\n\nSo the correct answer is 10.", "10"),),
         ("The sum is $\\boxed{14}$.\n\nLet me verify: 7 + 7 = 14.", "So the answer is 10.")),
    Rule("boxed", "the last \\boxed{} (or \\fbox{}), joined with the boxes right before it in the same "
         "sentence (\"$\\boxed{2}$ and $\\boxed{3}$\" -> 2, 3)", _boxed,
         (("Hence $x = \\boxed{5}$.", "5"), ("The roots are $\\boxed{2}$ and $\\boxed{3}$.", "2, 3")),
         ("The answer is 5.",)),
    Rule("hash_marker", "a GSM8K answer line \"#### N\" (the last one)", _hash_marker,
         (("She has 3 + 4 = 7 apples.\n#### 7", "7"), ("Total: $18\n#### $18", "18")), ("#### \nThe end.",)),
    Rule("nothing_left", "nothing is left once markup and afterwords are removed: no answer", _nothing_left,
         (("**  **", None),), ("42",)),
    Rule("hedge", "the final statement says the answer is undetermined (\"cannot be determined\", \"without "
         "further information\"): no answer", _hedge,
         (("The minimum cannot be determined without further information.", None),), ("The minimum is 3.",)),
    Rule("final_sentence", "the final paragraph (a CHAMP summary turn), its sentences from the last back, "
         "read by the sentence readers below", _final_sentence,
         (("We add them.\n\nThere are 29 valid strings.", "29"), ("No, it is not possible.", "No")),
         ("We compute $2 + 3 = 5$ and $x^2$ here, then more text follows without any link",)),
    Rule("answer_marker_anywhere", "the last \"answer is ...\" anywhere in the response", _answer_marker_anywhere,
         (("The answer is 12.\n\nWe computed it step by step, very carefully", "12"),), ("Nothing to see",)),
    Rule("negated_statement", "the final statement is a negated claim (\"... cannot be factored\"): no value "
         "(a claim truth reads the statement itself)", _negated_statement,
         (("The polynomial $x^4 + 1$ cannot be factored over the integers", None),), ("It can be factored",)),
    Rule("last_math_span", "the last $...$ (or \\(...\\), \\[...\\]) span", _last_math_span,
         (("We find $x^2 + 1$ and then $y - 2$ in the end of the working", "y - 2"),), ("no math at all",)),
    Rule("last_number", "the last number", _last_number,
         (("we had 3 apples and then 5 pears in the end of the working", "5"),), ("no digits at all",)),
)


def extract(response: str) -> Extraction:
    """The free-form answer of a response and the rule that read it (the first of
    :data:`EXTRACTION_RULES` that applies); ``Extraction(None, None)`` when none does."""
    return extract_view(ResponseView(response))


def extract_view(view: ResponseView) -> Extraction:
    """:func:`extract` on a response already parsed (the grader reuses the view for claims)."""
    for rule in EXTRACTION_RULES:
        found = rule.read(view)
        if found is not None:
            return found
    return Extraction(None, None)


def extract_free_form_answer(response: str) -> str | None:
    """The answer of a response without tags, or None (the rules: :data:`EXTRACTION_RULES`).

    ``"There are 29 valid strings."`` -> ``"29"``; ``"... is given by the expression n(n-3)/2."`` ->
    ``"n(n-3)/2"``; ``"The values are a = 3, b = -7, and c = 4."`` -> ``"a = 3, b = -7, c = 4"``;
    ``"No, it is not possible ..."`` -> ``"No"``; ``"It cannot be factored."`` -> None (a claim);
    ``"There are no such pairs."`` -> ``"0"``; ``"... is at least 1000."`` -> ``"\\ge 1000"``.
    """
    return extract(response).answer


def extract_r1_zero(response: str) -> tuple[bool, Extraction]:
    """(format_ok, Extraction) of an R1-Zero response: rule ``answer_tag`` (the last answer block) or
    ``answer_tag:boxed`` (its last \\boxed{} group); see :func:`.extract.r1_zero_block`."""
    format_ok, block = r1_zero_block(response)
    if not format_ok:
        return False, Extraction(None, None)
    boxed = final_boxes(block)
    if boxed is not None:
        return True, Extraction(boxed.strip(), "answer_tag:boxed")
    return True, Extraction(block.strip(), "answer_tag")
