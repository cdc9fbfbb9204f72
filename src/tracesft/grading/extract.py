"""Finding the answer in a response: R1-Zero tags, \\boxed{}, free-form final sentences.

All scanners are linear in the length of the text (no backtracking regexes over untrusted input).
"""

from __future__ import annotations

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


def _balanced_from(text: str, start: int) -> str | None:
    """Content of the brace group whose '{' is at text[start - 1]; None when unbalanced."""
    depth = 1
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:  # skip escaped characters such as \{ and \}
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last balanced ``\\boxed{...}`` (or ``\\fbox{...}``) in text, else None."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for s in reversed(starts):
        content = _balanced_from(text, s)
        if content is not None:
            return content
    return None


def extract_r1_zero_answer(response: str) -> tuple[bool, str | None]:
    """(format_ok, answer) for an R1-Zero response ``... </think> <answer> ... </answer>``.

    Format is ok when some ``</think>`` is followed, after optional whitespace of any kind (space,
    newline, none), by ``<answer>``, and a ``</answer>`` closes it. The answer is the text inside the
    last complete ``<answer> ... </answer>`` block after that ``</think>`` (anything after the final
    ``</answer>`` is ignored); when it contains ``\\boxed{...}``, the last balanced boxed content.
    """
    fmt_ok = False
    pos = response.find(_THINK_END)
    while pos != -1:
        after = pos + len(_THINK_END)
        rest = response[after:after + 64].lstrip()
        if rest.startswith(_ANSWER_OPEN) and response.find(_ANSWER_CLOSE, after) != -1:
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
_MATHY = re.compile(r"[0-9$\\^+*/=()]|^[A-Za-z]$")
_MATH_FUNCS = {"sqrt", "floor", "ceil", "log", "ln", "exp", "sin", "cos", "tan", "pi", "binom", "mod"}


def _sentence_tail(text: str, start: int) -> str:
    """The rest of the sentence from start: up to a period followed by space/end, or newline."""
    end = len(text)
    i = start
    while i < end:
        c = text[i]
        if c == "\n":
            break
        if c == "." and (i + 1 == end or text[i + 1].isspace()):
            break
        i += 1
    return text[start:i].strip()


def _leading_expression(tail: str) -> str | None:
    """The math at the start of ``tail``: words up to the first prose word ("29 valid ..." -> "29")."""
    spans = _DOLLAR.findall(tail)
    if spans:
        return spans[0].strip()
    words = tail.split()
    taken = []
    for w in words:
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


def extract_free_form_answer(response: str) -> str | None:
    """The answer of a response without tags, or None.

    In order: the last ``\\boxed{}``; else the math right after the last "answer is" of the
    response, or after the last "is"/"are"/"equals"/"=" of its final sentence ("There are 29
    valid strings." -> "29"; a ``$...$`` span there wins); else the last ``$...$`` span; else the
    last number.
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
    candidates = [_leading_expression(_sentence_tail(text, m.end())) for m in _LINKING.finditer(text, start)]
    mathy = [c for c in candidates if c and _MATHY.search(c)]
    if mathy:
        return mathy[-1]
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
