"""String normalisation of math answers, exact numbers, and top-level structure (tuples, sets).

Pure string code: nothing here evaluates its input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from .lexicon import THOUSANDS_NUMBER

__all__ = ["NORMALISERS", "compact", "multiple_choice_letter", "normalize_answer", "parse_exact_number",
           "split_structure"]

_MAX_DIGITS = 80  # longer numerals are compared as strings, never converted

_TEXT_CMDS = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_XEQ_PREFIX = re.compile(r"^\s*[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?\s*(?:=|\\in)\s*(?!.*=)")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_HALF = re.compile(r"\\frac\s*\{([^{}]*)\}\s*(\d)")
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d+|[a-zA-Z])")
_PLAIN_SQRT = re.compile(r"(?<![\\a-zA-Z])sqrt\s*\(")
_PLAIN_PI = re.compile(r"(?<![\\a-zA-Z])pi(?![a-zA-Z])")
_SPACING = re.compile(r"\\[,;:! ]|\\quad|\\qquad|~")
# Unicode math that models write in plain text ("n² ≥ 2", "3 × 4", "√17", "−5").
_UNICODE = {"²": "^2", "³": "^3", "⁴": "^4", "−": "-", "–": "-", "×": "\\times ", "·": "\\cdot ", "⋅": "\\cdot ",
            "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "π": "\\pi ", "∞": "\\infty ", "≡": "\\equiv ",
            "±": "\\pm ", "∓": "\\mp "}
_UNICODE_SQRT = re.compile(r"√\s*(\d+|[a-zA-Z])")


def _after_closing(s: str, j: int) -> int | None:
    """Index just past the ")" closing a "(" that ends at ``j`` (balanced), or None when unclosed."""
    depth = 1
    while j < len(s) and depth:
        depth += {"(": 1, ")": -1}.get(s[j], 0)
        j += 1
    return None if depth else j


def _plain_sqrt_to_latex(s: str) -> str:
    """``sqrt(x)`` -> ``\\sqrt{x}`` with balanced parentheses; unbalanced input is left alone."""
    out = []
    i = 0
    while True:
        m = _PLAIN_SQRT.search(s, i)
        if not m:
            out.append(s[i:])
            return "".join(out)
        j = _after_closing(s, m.end())
        if j is None:
            out.append(s[i:])
            return "".join(out)
        out.append(s[i:m.start()] + "\\sqrt{" + _plain_sqrt_to_latex(s[m.end():j - 1]) + "}")
        i = j


_CARET_DIGITS = re.compile(r"\^(\d{2,})")


def _caret_parens_to_braces(s: str) -> str:
    """Plain-text ``2^(n-1)`` -> ``2^{n-1}`` (balanced parentheses only); ``2^10`` -> ``2^{10}``."""
    s = _CARET_DIGITS.sub(r"^{\1}", s)
    i = s.find("^(")
    while i != -1:
        j = _after_closing(s, i + 2)
        if j is None:
            break
        s = s[:i] + "^{" + s[i + 2:j - 1] + "}" + s[j:]
        i = s.find("^(", i + 1)
    return s


_PLAIN_FUNC = re.compile(r"(?<![\\a-zA-Z])(C|binom|floor|ceil)\s*\(")
_PLAIN_SUM = re.compile(r"(?<![\\a-zA-Z])sum_\s*[({]\s*([a-z])\s*=\s*([^(){}]{1,20})[)}]\s*\^\s*"
                        r"(?:\{([^{}]{1,20})\}|\(([^()]{1,20})\)|(\w))")
_SCIENTIFIC = re.compile(r"^(-?\d+(?:\.\d+)?)[eE]([-+]?\d{1,3})$")
_MIXED = re.compile(r"^(-?)(\d+)\s+(\d+)\s*/\s*(\d+)$")


def _plain_functions_to_latex(s: str) -> str:
    """Plain-text ``C(n, k)``/``binom(n, k)`` -> ``\\binom{n}{k}``, ``floor(x)``/``ceil(x)`` ->
    ``\\lfloor x \\rfloor``/``\\lceil x \\rceil`` (balanced parentheses only; ``C(n)`` is left alone)."""
    out, i = [], 0
    while True:
        m = _PLAIN_FUNC.search(s, i)
        if not m:
            out.append(s[i:])
            return "".join(out)
        end = _after_closing(s, m.end())
        j = end if end is not None else len(s)
        inner = s[m.end():j - 1]
        args = _top_level_split(inner) if end is not None else None
        name = m.group(1)
        if args is None or (name in ("C", "binom")) != (len(args) == 2) or not all(args):
            out.append(s[i:m.end()])
            i = m.end()
            continue
        inner = _plain_functions_to_latex(inner)
        if name in ("C", "binom"):
            a, b = _top_level_split(inner)
            out.append(s[i:m.start()] + "\\binom{" + a + "}{" + b + "}")
        else:
            out.append(s[i:m.start()] + "\\l" + name + " " + inner + " \\r" + name + " ")
        i = j


def _plain_sum_to_latex(s: str) -> str:
    """``sum_(i=1)^n i^3`` -> ``\\sum_{i=1}^{n} i^3`` (the summand is the rest of the answer)."""
    return _PLAIN_SUM.sub(lambda m: "\\sum_{%s=%s}^{%s} " % (m.group(1), m.group(2).strip(),
                                                             (m.group(3) or m.group(4) or m.group(5)).strip()), s)


def _unicode_to_latex(s: str) -> str:
    s = _UNICODE_SQRT.sub(r"\\sqrt{\1}", s).replace("√", "sqrt")
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    return s


def _drop_delimiters(s: str) -> str:
    for cmd in ("\\$", "$", "\\(", "\\)", "\\[", "\\]", "\\left", "\\right", "\\displaystyle", "{,}"):
        s = s.replace(cmd, "")
    return s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")


def _unwrap_text(s: str) -> str:
    for _ in range(3):  # nested \text{\textbf{..}}
        s2 = _TEXT_CMDS.sub(r"\1", s)
        if s2 == s:
            break
        s = s2
    return s


def _short_forms(s: str) -> str:
    s = _PLAIN_PI.sub(r"\\pi", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF.sub(r"\\frac{\1}{\2}", s)
    return _SQRT_SHORT.sub(r"\\sqrt{\1}", s).strip().rstrip(".").rstrip()


def _scientific(s: str) -> str:
    m = _SCIENTIFIC.match(s)
    return f"{m.group(1)} \\times 10^{{{int(m.group(2))}}}" if m else s


def _mixed_number(s: str) -> str:
    m = _MIXED.match(s)
    if m:
        whole, num, den = int(m.group(2)), int(m.group(3)), int(m.group(4))
        if den and num < den:
            return f"{m.group(1)}{whole * den + num}/{den}"
    return s


# The normalisation steps, in order: (name, what it does, the step).
NORMALISERS: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("unicode", "unicode math to LaTeX: ², √, −, ×, ≤, ±, π ...", _unicode_to_latex),
    ("delimiters", "$, \\(\\), \\[\\], \\left/\\right, \\displaystyle, {,} removed; \\dfrac/\\tfrac -> \\frac",
     _drop_delimiters),
    ("spacing", "\\, \\; \\! \\quad ~ -> a space", lambda s: _SPACING.sub(" ", s)),
    ("text", "\\text{}-like wrappers removed, their content kept", _unwrap_text),
    ("degrees", "degrees removed", lambda s: _DEGREES.sub("", s)),
    ("percent", "\\% and % removed (10% = 10)", lambda s: s.replace("\\%", "").replace("%", "")),
    ("power", "** -> ^", lambda s: s.replace("**", "^")),
    ("plain_sqrt", "sqrt(x) -> \\sqrt{x}", _plain_sqrt_to_latex),
    ("plain_functions", "sum_(i=1)^n, C(n, k), binom(n, k), floor(x), ceil(x) -> LaTeX",
     lambda s: _plain_functions_to_latex(_plain_sum_to_latex(s))),
    ("caret", "2^(n-1) -> 2^{n-1}, 2^10 -> 2^{10}", _caret_parens_to_braces),
    ("short_forms", "pi -> \\pi, \\frac12 -> \\frac{1}{2}, \\sqrt2 -> \\sqrt{2}; a trailing period removed",
     _short_forms),
    ("variable_prefix", "a leading \"x =\" (or \"x \\in\") when it is the only relation removed",
     lambda s: _XEQ_PREFIX.sub("", s, count=1).strip()),
    ("thousands", "1,000 -> 1000 (a whole grouped number)",
     lambda s: s.replace(",", "") if THOUSANDS_NUMBER.match(s) else s),
    ("scientific", "1.5e3 -> 1.5 \\times 10^{3}", _scientific),
    ("mixed_number", "2 1/2 -> 5/2", _mixed_number),
)


def normalize_answer(answer: str) -> str:
    """Canonical LaTeX-ish form of an answer (spaces kept, see :func:`compact`): the steps of
    :data:`NORMALISERS` in order.

    Removes ``$``, ``\\(``/``\\)``, ``\\left``/``\\right``, spacing commands (``\\!``, ``\\,`` ...),
    ``\\text{}``-like wrappers (keeping their content), degrees, ``\\%``/``%``, ``\\$``, a trailing
    period, a leading ``x =`` (or ``x \\in``) when it is the only relation, and thousands separators
    (``1,000`` / ``1{,}000``); maps ``\\dfrac``/``\\tfrac`` to ``\\frac``, ``\\frac12`` to
    ``\\frac{1}{2}``, ``\\sqrt2`` to ``\\sqrt{2}``, plain ``sqrt(x)``/``pi``/``**``/``C(n, k)``/
    ``binom(n, k)``/``floor(x)``/``ceil(x)``/``sum_(i=1)^n`` and unicode (``²``, ``√``, ``−``, ``×``,
    ``≤``, ``±`` ...) to LaTeX; ``1.5e3`` to ``1.5 \\times 10^{3}``; a mixed number ``2 1/2`` to ``5/2``.
    """
    s = answer.strip()
    for _, _, step in NORMALISERS:
        s = step(s)
    return s


def compact(s: str) -> str:
    """Whitespace-free form for string comparison."""
    return re.sub(r"\s+", "", s)


_INT = r"-?\d{1,%d}" % _MAX_DIGITS
_DEC = re.compile(r"^(-?)(\d{0,%d})\.(\d{1,%d})$" % (_MAX_DIGITS, _MAX_DIGITS))
_INT_RE = re.compile(r"^%s$" % _INT)
_SLASH = re.compile(r"^(%s)\s*/\s*(\d{1,%d})$" % (_INT, _MAX_DIGITS))
_FRAC = re.compile(r"^(-?)\\frac\{\s*(%s)\s*\}\{\s*(%s)\s*\}$" % (_INT, _INT))


def parse_exact_number(s: str) -> Fraction | None:
    """Exact value of an integer, decimal, ``a/b`` or ``\\frac{a}{b}`` (no evaluation), else None."""
    t = compact(s)
    t = t.removeprefix("+")
    if _INT_RE.match(t):
        return Fraction(int(t))
    m = _DEC.match(t)
    if m:
        sign, whole, frac = m.groups()
        value = Fraction(int(whole or "0")) + Fraction(int(frac), 10 ** len(frac))
        return -value if sign else value
    m = _SLASH.match(t)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    m = _FRAC.match(t)
    if m and int(m.group(3)) != 0:
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return -value if m.group(1) else value
    return None


_OPEN_CLOSE = {"(": ")", "[": "]", "\\{": "\\}", "{": "}"}


def _top_level_split(s: str) -> list[str] | None:
    """Split at top-level commas; None when brackets do not balance."""
    parts, depth, start = [], 0, 0
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif c == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
        i += 1
    if depth != 0:
        return None
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _enclosing(s: str) -> tuple[str, str] | None:
    """The (open, close) pair when one bracket group spans the whole string (a plain ``{1, 4, 9}``
    with a top-level comma is a set, as ``\\{1, 4, 9\\}``)."""
    if s.startswith("{") and s.endswith("}") and _top_level_split(s[1:-1]) not in (None, [s[1:-1].strip()]):
        return "{", "}"
    for op in ("\\{", "(", "["):
        if s.startswith(op):
            break
    else:
        return None
    close = s[-2:] if s.endswith("\\}") else s[-1:]
    if close not in (")", "]", "\\}"):
        return None
    inner = s[len(op):len(s) - len(close)]
    # The group must span the whole string: the inner part must balance on its own.
    if _top_level_split(inner.replace("\\{", "(").replace("\\}", ")")) is None:
        return None
    return op, close


def split_structure(s: str) -> tuple[str, str, list[str]] | None:
    """Top-level structure of an answer, or None for a scalar.

    Returns (kind, brackets, items): kind "set" for ``\\{a, b\\}``, "list" for bare ``a, b`` (both
    order-insensitive), "ordered" for ``(a, b)``, ``[a, b)`` and the like (order and brackets matter).
    """
    s = s.strip()
    enc = _enclosing(s)
    if enc is not None:
        op, close = enc
        items = _top_level_split(s[len(op):len(s) - len(close)])
        if items is None or (len(items) < 2 and op != "\\{"):
            return None
        return ("set" if op in ("\\{", "{") else "ordered", op + close, items)
    items = _top_level_split(s)
    if items is not None and len(items) >= 2 and all(items):
        return ("list", "", items)
    return None


_CHOICE = re.compile(r"^\(?\s*([A-Ea-e])\s*\)?[.:]?$")
_CHOICE_LEAD = re.compile(r"^\(?([A-E])\)[\s.:]|^([A-E])[.:]\s")


def multiple_choice_letter(s: str, strict: bool = True) -> str | None:
    """``A``/``(A)``/``A)`` -> ``"A"``; with strict=False also ``(B) 12`` / ``B. twelve``."""
    m = _CHOICE.match(s.strip())
    if m:
        return m.group(1).upper()
    if not strict:
        m = _CHOICE_LEAD.match(s.strip())
        if m:
            return (m.group(1) or m.group(2)).upper()
    return None
