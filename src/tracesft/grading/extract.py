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
_IS = re.compile(r"\bis\s*[:\s]\s*", re.IGNORECASE)
_DOLLAR = re.compile(r"\$([^$]{1,2000})\$")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?")


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


def extract_free_form_answer(response: str) -> str | None:
    """The answer of a response without tags, or None.

    In order: the last ``\\boxed{}``; else the text after the last "answer is" (or, failing that,
    after the last " is " of the final sentence) up to the end of that sentence, preferring a
    ``$...$`` span inside it; else the last ``$...$`` span; else the last number.
    """
    boxed = last_boxed(response)
    if boxed is not None:
        return boxed.strip()
    text = response.strip()
    if not text:
        return None
    matches = list(_ANSWER_IS.finditer(text))
    if not matches:
        # Only look at the final sentence for a bare " is ".
        last_start = max(text.rfind(". ", 0, len(text) - 1), text.rfind("\n", 0, len(text) - 1)) + 1
        matches = list(_IS.finditer(text, last_start))
    if matches:
        tail = _sentence_tail(text, matches[-1].end())
        spans = _DOLLAR.findall(tail)
        if spans:
            return spans[-1].strip()
        if tail:
            return tail.rstrip(".").strip()
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
