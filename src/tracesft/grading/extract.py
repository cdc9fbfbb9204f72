"""Finding the answer in a response: R1-Zero tags, \\boxed{}, free-form final sentences.

All scanners are linear in the length of the text (no backtracking regexes over untrusted input).
"""

from __future__ import annotations

import bisect
import re

__all__ = [
    "extract_free_form_answer",
    "extract_r1_zero_answer",
    "gsm8k_ground_truth",
    "last_boxed",
    "math_ground_truth",
]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
# Between </think> and <answer> only whitespace is allowed (space, newline, none, several).
_THINK_END = "</think>"
_ANSWER_OPEN = "<answer>"
_ANSWER_CLOSE = "</answer>"


_BRACES = re.compile(r"\\.|[{}]", re.DOTALL)  # an escaped character (\{, \}, ...) or a brace


def last_boxed(text: str) -> str | None:
    """Content of the last balanced ``\\boxed{...}`` (or ``\\fbox{...}``) in text, else None.

    One pass over the braces with a stack (escaped ``\\{``/``\\}`` skipped), so the time is linear in
    the text however many unclosed ``\\boxed{`` it holds.
    """
    starts = {m.end() for m in _BOXED.finditer(text)}  # positions just after a boxed '{'
    if not starts:
        return None
    best: tuple[int, int] | None = None
    stack: list[int] = []
    for m in _BRACES.finditer(text):
        c = m.group()
        if c == "{":
            stack.append(m.end())
        elif c == "}" and stack:
            start = stack.pop()
            if start in starts and (best is None or start > best[0]):
                best = (start, m.start())
    return text[best[0]:best[1]] if best is not None else None


def extract_r1_zero_answer(response: str) -> tuple[bool, str | None]:
    """(format_ok, answer) for an R1-Zero response ``... </think> <answer> ... </answer>``.

    Format is ok when some ``</think>`` is followed, after optional whitespace of any kind (space,
    newline, none), by ``<answer>``, and a ``</answer>`` closes it. The answer is the text inside the
    last complete ``<answer> ... </answer>`` block after that ``</think>`` (anything after the final
    ``</answer>`` is ignored); when it contains ``\\boxed{...}``, the last balanced boxed content.
    """
    fmt_ok = False
    last_close = response.rfind(_ANSWER_CLOSE)
    pos = response.find(_THINK_END)
    while pos != -1 and last_close != -1:
        after = pos + len(_THINK_END)
        rest = response[after:after + 64].lstrip()
        if rest.startswith(_ANSWER_OPEN) and last_close >= after:
            fmt_ok = True
            break
        pos = response.find(_THINK_END, after)
    if not fmt_ok:
        return False, None
    close = response.rfind(_ANSWER_CLOSE)
    open_ = response.rfind(_ANSWER_OPEN, pos, close)
    if open_ == -1:
        return False, None
    answer = response[open_ + len(_ANSWER_OPEN):close]
    boxed = last_boxed(answer)
    return True, (boxed if boxed is not None else answer).strip()


_ANSWER_IS = re.compile(r"answer\s+is\s*[:\s]\s*", re.IGNORECASE)
_LINKING = re.compile(r"(?:\bis|\bare|\bequals|\bbe|=)\s*:?\s*", re.IGNORECASE)
_DOLLAR = re.compile(r"\$([^$]{1,2000})\$")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?")
_PROSE_WORD = re.compile(r"^[A-Za-z]{2,}[.,;:!?]?$")
_YES_NO = re.compile(r"\s*(yes|no)\b(?=\s*[,.!;]|\s*$)", re.IGNORECASE)
_MATHY = re.compile(r"[0-9$\\^+*/=()!]|^[A-Za-z]$")
# Words that may stand between "is" and the answer ("is given by the expression n(n-3)/2").
_FILLER = {"given", "by", "the", "expression", "formula", "equal", "to", "exactly", "simply", "just", "a", "an",
           "total", "of", "value", "result", "final", "as", "follows", "precisely", "then", "only"}
# A condition restated after the answer ("... 5050 triples such that a+b+c=99", "x = 5 when y is 3").
_CLAUSE_END = re.compile(r"[,;]")
_PLAIN_MATH_WORD = re.compile(r"(?<!\S)[^\s$]*[0-9^+*/=()!][^\s$]*")
_CONDITION = re.compile(r"\b(?:such that|so that|where|when|whenever|if|for which|provided|given that)\b",
                        re.IGNORECASE)
_MATH_FUNCS = {"sqrt", "floor", "ceil", "log", "ln", "exp", "sin", "cos", "tan", "pi", "binom", "mod"}


_SENTENCE_END = re.compile(r"\n|\.(?=\s|$)")
# The answer after "is"/"=" is read from at most this many characters (no real answer is longer);
# this keeps the scan of a final sentence with many "is"/"=" linear in its length.
_TAIL_CHARS = 2000


def _sentence_end(text: str, start: int) -> int:
    """Where the sentence that holds ``start`` ends: a newline, or a period before space or the end."""
    m = _SENTENCE_END.search(text, start)
    return m.start() if m else len(text)


def _sentence_tail(text: str, start: int, end: int | None = None) -> str:
    """The rest of the sentence from start (up to ``end`` when the caller knows it), at most _TAIL_CHARS."""
    end = _sentence_end(text, start) if end is None else end
    return text[start:min(end, start + _TAIL_CHARS)].strip()


def _leading_expression(tail: str) -> str | None:
    """The math at the start of ``tail``: words up to the first prose word ("29 valid ..." -> "29"),
    after filler words ("given by the expression n(n-3)/2" -> "n(n-3)/2")."""
    words = tail.split()
    skip = 0
    while skip < len(words) and skip < 6 and words[skip].strip(".,;:").lower() in _FILLER:
        skip += 1
    rest = " ".join(words[skip:])
    # A $...$ span wins unless plain math comes first ("is $\\frac{1}{2}$" -> \\frac{1}{2}, but
    # "is 0, which occurs when $x = y = z = 0$" -> 0).
    span, plain, condition = _DOLLAR.search(rest), _PLAIN_MATH_WORD.search(rest), _CONDITION.search(rest)
    first_other = min(m.start() for m in (plain, condition, re.search(r"$", rest)) if m is not None)
    if span and span.start() < first_other:  # not after plain math, nor inside a condition ("... when $x=1$")
        return span.group(1).strip()
    taken = []
    for w in words[skip:]:
        bare = w.strip(".,;:!?")
        if _PROSE_WORD.match(w) and bare.lower() not in _MATH_FUNCS:
            break
        taken.append(w)
    if taken:
        return " ".join(taken).rstrip(".,;:").strip() or None
    return words[0].strip(".,;:!?") if words else None


def _last_sentence_start(text: str) -> int:
    body = text.rstrip().rstrip(".")
    return max(body.rfind(". "), body.rfind(".\n"), body.rfind("\n")) + 1


def _outside_conditions(text: str, start: int, links: list[int]) -> list[int]:
    """The "is"/"=" positions that are not inside a condition clause of the final sentence: from
    "such that"/"when"/"where"/"given that"/... to the next comma or semicolon. The answer is the
    sentence's object, not a restated condition ("there are 5050 triples such that a+b+c=99",
    "the remainder when p(x^7) is divided by p(x) is 7"). All of them when every one is inside."""
    clauses = []
    for m in _CONDITION.finditer(text, start):
        stop = _CLAUSE_END.search(text, m.end())
        clauses.append((m.start(), stop.start() if stop else len(text)))
    if not clauses:
        return links
    kept = [x for x in links if not any(a <= x <= b for a, b in clauses)]
    return kept or links


def extract_free_form_answer(response: str) -> str | None:
    """The answer of a response without tags, or None.

    In order: the last ``\\boxed{}``; else the math right after the last "answer is" of the
    response, or after the last "is"/"are"/"equals"/"=" of its final sentence ("There are 29
    valid strings." -> "29"; a ``$...$`` span there wins; filler words such as "given by the
    expression" are skipped; an "is"/"=" inside a condition clause, from "such that"/"when"/
    "where"/"given that" to the next comma, is not the answer); else the last ``$...$`` span; else
    the last number.
    """
    boxed = last_boxed(response)
    if boxed is not None:
        return boxed.strip()
    text = response.strip()
    if not text:
        return None
    matches = list(_ANSWER_IS.finditer(text))
    if matches:
        found = _leading_expression(_sentence_tail(text, matches[-1].end()))
        if found:
            return found
    start = _last_sentence_start(text)
    yes_no = _YES_NO.match(text, start)
    if yes_no:
        return yes_no.group(1).capitalize()
    # Sentence ends after start, found once; each "is"/"=" reads up to the first one after it.
    ends = [m.start() for m in _SENTENCE_END.finditer(text, start)] + [len(text)]
    links = [m.end() for m in _LINKING.finditer(text, start)]  # ints: no match objects kept alive
    links = _outside_conditions(text, start, links)
    for link in reversed(links):
        end = ends[bisect.bisect_left(ends, link)]
        candidate = _leading_expression(_sentence_tail(text, link, end))
        if candidate and _MATHY.search(candidate):
            return candidate
    spans = _DOLLAR.findall(text)
    if spans:
        return spans[-1].strip()
    numbers = _NUMBER.findall(text)
    return numbers[-1].strip() if numbers else None


def gsm8k_ground_truth(answer: str) -> str:
    """GSM8K reference answer: the text after the final ``####`` (``"... #### 1,018"`` -> ``"1018"``)."""
    if "####" not in answer:
        raise ValueError(f"no '####' in GSM8K answer: {answer[:80]!r}")
    return answer.rsplit("####", 1)[1].strip().replace(",", "")


def math_ground_truth(solution: str) -> str:
    """MATH reference answer: the last ``\\boxed{}`` of a reference solution."""
    boxed = last_boxed(solution)
    if boxed is None:
        raise ValueError(f"no \\boxed{{}} in MATH solution: {solution[:80]!r}")
    return boxed.strip()
