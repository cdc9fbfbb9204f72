"""Is a predicted answer equivalent to the ground truth?

Cheap checks run in-process on strings (normalised text, exact rationals, structure, multiple
choice); only what they cannot decide goes to the symbolic grader in a time-bounded worker.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from .claims import reference_value
from .lexicon import THOUSANDS_IN_TEXT
from .normalize import (
    _top_level_split,
    compact,
    multiple_choice_letter,
    normalize_answer,
    parse_exact_number,
    split_structure,
)
from .sandbox import TIMED_OUT, run_bounded

__all__ = ["COMPARATORS", "DEFAULT_TIMEOUT_S", "MAX_SYMBOLIC_CHARS", "SCALAR_COMPARATORS", "Comparator", "Equivalence",
           "answers_equivalent"]

DEFAULT_TIMEOUT_S = 2.0
# Answers longer or deeper than this are compared as strings only (no answer in a math dataset is).
MAX_SYMBOLIC_CHARS = 400
MAX_NESTING = 40

# Multi-letter words that are math, not prose.
_MATH_WORDS = {
    "sqrt", "frac", "pi", "infty", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp",
    "arcsin", "arccos", "arctan", "cdot", "times", "div", "pm", "mp", "binom", "choose", "cup",
    "cap", "emptyset", "varnothing", "in", "le", "leq", "ge", "geq", "ne", "neq", "lt", "gt",
    "alpha", "beta", "gamma", "delta", "theta", "lambda", "mu", "sigma", "phi", "omega", "tau",
    "mathbb", "sinh", "cosh", "tanh", "max", "min", "gcd", "lcm", "circ", "prime", "dots", "ldots",
    "cdots", "overline", "vec", "hat", "bar", "mathbf", "det", "lim", "sum", "prod", "int", "mod",
    "pmod", "bmod", "setminus", "approx", "sim", "equiv", "to", "rightarrow", "infinity",
}
_WORD = re.compile(r"(?<!\\)\b[A-Za-z]{2,}\b")
# Each unit word is taken whole ((?![a-zA-Z])): "apples" cannot also be read as "app" + "les", which made
# this pattern backtrack exponentially on a sentence ending in a non-unit character.
_NUMBER_WITH_UNITS = re.compile(r"^(-?[\d.,/]+)\s*((?:[a-zA-Z]{2,}(?![a-zA-Z])(?:\^\{?\d\}?)?\.?\s*)+)$")


@dataclass(frozen=True)
class Equivalence:
    """A verdict and the comparator that gave it (``comparator``: a name of :data:`COMPARATORS`)."""

    equal: bool
    timed_out: bool = False
    comparator: str | None = None


_OPERATOR = re.compile(r"[-+*/^=]")


def _is_prose(s: str) -> bool:
    """Whether s holds a word that is not math. In an expression with operators, a short run of
    distinct letters is a product of variables ("x^2 - xy - yz"), not a word."""
    operators = bool(_OPERATOR.search(s))
    return any(w.lower() not in _MATH_WORDS and not (operators and len(w) <= 3 and len(set(w)) == len(w)
                                                      and w.islower())
               for w in _WORD.findall(s))


def _nesting(s: str) -> int:
    depth = best = 0
    for c in s:
        if c in "{([":
            depth += 1
            best = max(best, depth)
        elif c in "})]":
            depth -= 1
    return best


def _strip_units(s: str) -> str:
    """``5 cm`` / ``18 dollars`` / ``12 m^2``-style answers -> the number; else unchanged.

    Unit words have two or more letters and are not math words (``2pi`` and ``2x`` stay whole).
    """
    m = _NUMBER_WITH_UNITS.match(s)
    if m is None or any(w.lower() in _MATH_WORDS for w in re.findall(r"[A-Za-z]+", m.group(2))):
        return s
    number = m.group(1)
    if re.match(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$", number):
        number = number.replace(",", "")
    return number if parse_exact_number(number) is not None else s


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def _by_string(pred: str, gold: str, deadline: _Deadline) -> Equivalence | None:
    return Equivalence(True, comparator="string") if compact(pred) == compact(gold) else None


def _by_choice(pred: str, gold: str, deadline: _Deadline) -> Equivalence | None:
    gold_choice = multiple_choice_letter(gold)
    if gold_choice is None or len(compact(gold)) > 3:
        return None
    return Equivalence(multiple_choice_letter(pred, strict=False) == gold_choice, comparator="choice")


def _by_number(pred: str, gold: str, deadline: _Deadline) -> Equivalence | None:
    p_num, g_num = parse_exact_number(_strip_units(pred)), parse_exact_number(_strip_units(gold))
    if p_num is None or g_num is None:
        return None
    return Equivalence(p_num == g_num, comparator="number")


def _by_prose(pred: str, gold: str, deadline: _Deadline) -> Equivalence | None:
    if not (_is_prose(pred) or _is_prose(gold)):
        return None
    return Equivalence(compact(pred).lower() == compact(gold).lower(), comparator="prose")


def _by_size(pred: str, gold: str, deadline: _Deadline) -> Equivalence | None:
    too_big = max(len(pred), len(gold)) > MAX_SYMBOLIC_CHARS or max(_nesting(pred), _nesting(gold)) > MAX_NESTING
    return Equivalence(False, comparator="size_limit") if too_big else None


def _by_symbolic(pred: str, gold: str, deadline: _Deadline) -> Equivalence | None:
    left = deadline.left()
    if left <= 0:
        return Equivalence(False, timed_out=True, comparator="symbolic")
    result = run_bounded("symbolic_equal", (pred, gold), left)
    if result == TIMED_OUT:
        return Equivalence(False, timed_out=True, comparator="symbolic")
    return Equivalence(bool(result), comparator="symbolic")


@dataclass(frozen=True)
class Comparator:
    """A named comparison of two normalised scalar answers: ``decide(pred, gold, deadline) ->
    Equivalence | None`` (None: it does not apply, the next one is tried), with examples
    (prediction, truth, equal) of answers it decides."""

    name: str
    description: str
    decide: Callable
    examples: tuple[tuple[str, str, bool], ...] = ()


# Scalars (no top-level list, set or tuple): the first comparator that applies decides.
SCALAR_COMPARATORS: tuple[Comparator, ...] = (
    Comparator("string", "the normalised strings are equal (spaces aside)", _by_string,
               (("\\frac{1}{2}", "\\frac{1}{2}", True),)),
    Comparator("choice", "a multiple-choice truth (A-E): the letter the prediction names", _by_choice,
               (("(B) 12", "B", True), ("C", "B", False))),
    Comparator("number", "both are exact numbers (integers, decimals, fractions; unit words dropped): "
               "equal as rationals", _by_number, (("0.5", "1/2", True), ("5 cm", "5", True), ("0.33", "1/3", False))),
    Comparator("prose", "either holds a word that is not math: equal as strings, case-insensitively", _by_prose,
               (("Monotonically increasing", "monotonically increasing", True),)),
    Comparator("size_limit", f"longer than {MAX_SYMBOLIC_CHARS} characters or nested deeper than {MAX_NESTING}: "
               "not equal (never parsed)", _by_size),
    Comparator("symbolic", "sympy on the parsed LaTeX, in the sandboxed worker, within the time bound",
               _by_symbolic, (("2\\sqrt{2}", "\\sqrt{8}", True), ("x^2 - 1", "(x-1)(x+1)", True))),
)


def _scalar_equal(pred: str, gold: str, deadline: _Deadline) -> Equivalence:
    for comparator in SCALAR_COMPARATORS:
        verdict = comparator.decide(pred, gold, deadline)
        if verdict is not None:
            return verdict
    return Equivalence(False, comparator="none")  # unreachable: symbolic always decides


_WORD_SEPARATOR = re.compile(r"(?<!\s)\s*(?:,\s*)?\b(?:and|or)\b\s*")
_PLUS_MINUS = re.compile(r"\\pm\b\s*|±")
_ASSIGNMENT = re.compile(r"^\s*((?:(?:[A-Za-z](?:_\{?\w+\}?)?(?:\([a-z]\))?|\([a-z](?:\s*,\s*[a-z])+\))\s*=\s*)+)(.+)$")


def _join_word_separators(s: str) -> str:
    """``1, 4 and 9`` / ``f(x)=0 or f(x)=1`` -> comma lists, when every part is math (not prose)."""
    if not _WORD_SEPARATOR.search(s):
        return s
    parts = _WORD_SEPARATOR.split(s)
    if len(parts) < 2 or not all(p.strip() and not _is_prose(p) for p in parts):
        return s
    return ", ".join(p.strip() for p in parts)


def _expand_plus_minus(s: str) -> str:
    """Items with one ``±`` become two: ``a(1 \\pm \\sqrt{2})`` -> ``a(1 + \\sqrt{2}), a(1 - \\sqrt{2})``."""
    if not _PLUS_MINUS.search(s):
        return s
    items = _top_level_split(s) or [s]
    out = []
    for item in items:
        found = _PLUS_MINUS.findall(item)
        if len(found) == 1:
            left, right = _PLUS_MINUS.split(item)
            sign_free = left.rstrip().endswith(("(", "{", "=")) or not left.strip()
            out += [left + ("" if sign_free else "+") + right, left + "-" + right]
        else:
            out.append(item)
    return ", ".join(out)


def _assignments(s: str) -> list[tuple[str, str]] | None:
    """``a=3, b=-7`` -> [("a", "3"), ("b", "-7")]; ``x=y=0`` -> [("x", "0"), ("y", "0")];
    ``f(x)=0, f(x)=1`` -> two values of ``f(x)``. None unless every item assigns to a name."""
    items = _top_level_split(s)
    if not items:
        return None
    out = []
    for item in items:
        m = _ASSIGNMENT.match(item)
        if m is None:
            return None
        names = [compact(n) for n in m.group(1).split("=") if n.strip()]
        out += [(n, m.group(2).strip()) for n in names]
    return out


def _assignments_equal(pa: list, ga: list, deadline: _Deadline) -> Equivalence:
    """Order-free comparison of assignments: same names, and for each name the same values."""
    if sorted({n for n, _ in pa}) != sorted({n for n, _ in ga}) or len(pa) != len(ga):
        return Equivalence(False, comparator="assignments")
    unused = list(pa)
    for name, value in ga:
        for i, (n, v) in enumerate(unused):
            if n == name and _equal(v, value, deadline, 4).equal:
                del unused[i]
                break
        else:
            return Equivalence(False, comparator="assignments")
    return Equivalence(True, comparator="assignments")


def _top_level(pred: str, gold: str, deadline: _Deadline) -> tuple[Equivalence | None, str, str]:
    """The whole answers' readings (not their items'): "and"/"or" lists, ``±``, assignments, thousands
    separators in a chain, a chain ``A = B``. A verdict when one decides, and pred/gold rewritten."""
    pred, gold = _expand_plus_minus(_join_word_separators(pred)), _expand_plus_minus(_join_word_separators(gold))
    pa, ga = _assignments(pred), _assignments(gold)
    if ga is not None and (len(ga) > 1 or pa is not None and len(pa) > 1):
        if pa is not None:
            return _assignments_equal(pa, ga, deadline), pred, gold
        gold = ", ".join(v for _, v in ga)  # names in the truth only: the values in their order
    elif pa is not None and len(pa) > 1 and ga is None:
        pred = ", ".join(v for _, v in pa)
        sg = split_structure(gold)
        if sg is not None and sg[0] == "ordered" and sg[1] == "()" and len(sg[2]) == len(pa):
            pred = "(" + pred + ")"  # "x = 7, y = 3" vs "(7, 3)": ordered assignments are the tuple
    if "=" in pred and "," not in gold:  # "250 × 5 = 1,250": a thousands separator, not a list
        pred = THOUSANDS_IN_TEXT.sub(lambda m: m.group().replace(",", ""), pred)
    several = pa is not None and len(pa) > 1 or ga is not None and len(ga) > 1
    if not several and "=" in pred and "=" not in gold and (_top_level_split(pred) or [""]) == [pred.strip()]:
        # A chain "C(n, 4) = n!/(4!(n-4)!)" or "1000 - 101 + 1 = 900": every side after the first is
        # asserted equal to it; the first one restates what is asked ("x^3+y^3+z^3-3xyz = (x+y+z)(...)").
        for side in [p for p in pred.split("=") if p.strip()][1:]:
            r = _equal(side, gold, deadline, 1)
            if r.equal:
                return Equivalence(True, comparator=f"chain:{r.comparator}"), pred, gold
    return None, pred, gold


def _ordered_equal(items_p: list, items_g: list, deadline: _Deadline, depth: int) -> Equivalence:
    for a, b in zip(items_p, items_g):
        r = _equal(a, b, deadline, depth + 1)
        if not r.equal:
            return Equivalence(False, r.timed_out, "tuple")
    return Equivalence(True, comparator="tuple")


def _unordered_equal(items_p: list, items_g: list, deadline: _Deadline, depth: int) -> Equivalence:
    """Sets and bare lists: order does not matter; each gold item matches a distinct prediction."""
    unused, timed_out = list(items_p), False
    for b in items_g:
        for i, a in enumerate(unused):
            r = _equal(a, b, deadline, depth + 1)
            timed_out |= r.timed_out
            if r.equal:
                del unused[i]
                break
        else:
            return Equivalence(False, timed_out, "set")
    return Equivalence(True, comparator="set")


def _structured_equal(pred: str, gold: str, deadline: _Deadline, depth: int) -> Equivalence:
    """Tuples and intervals item by item (brackets must match), sets and lists order-free, else scalars."""
    sp, sg = (split_structure(pred), split_structure(gold)) if depth < 4 else (None, None)
    if sp is None and sg is None:
        return _scalar_equal(pred, gold, deadline)
    if sp is None or sg is None:
        # "(1, 2)" vs an interval or a lone value: only the symbolic grader can say.
        if sg is None or sg[0] == "ordered":
            return _scalar_equal(pred, gold, deadline)
        return Equivalence(False, comparator="shape")
    (kind_p, br_p, items_p), (kind_g, br_g, items_g) = sp, sg
    if len(items_p) != len(items_g):
        return Equivalence(False, comparator="shape")
    if kind_g == "ordered" or kind_p == "ordered":
        if br_p != br_g:
            return Equivalence(False, comparator="shape")
        return _ordered_equal(items_p, items_g, deadline, depth)
    return _unordered_equal(items_p, items_g, deadline, depth)


def _equal(pred: str, gold: str, deadline: _Deadline, depth: int = 0) -> Equivalence:
    pred, gold = normalize_answer(pred), normalize_answer(gold)
    if compact(pred) == compact(gold):
        return Equivalence(True, comparator="string")
    if not pred or not gold:
        return Equivalence(False, comparator="empty")
    if depth == 0:
        verdict, pred, gold = _top_level(pred, gold, deadline)
        if verdict is not None:
            return verdict
    return _structured_equal(pred, gold, deadline, depth)


# Every comparator name an Equivalence may carry, for the documentation: the structural readings,
# then the scalar table. A chain's verdict is "chain:" and the comparator of the side that matched.
COMPARATORS: tuple[Comparator, ...] = (
    Comparator("assignments", "both assign values to names (\"a=3, b=-7\", \"x=y=0\"): same names, same values, "
               "order-free", None, (("c = 4, a = 3", "a=3, c=4", True),)),
    Comparator("chain", "a predicted chain \"A = B = C\" against a truth without \"=\": a side after the first "
               "equals the truth", None, (("1000 - 101 + 1 = 900", "900", True),)),
    Comparator("tuple", "tuples and intervals: same brackets, item by item", None,
               (("(1, \\frac{1}{2}]", "(1, 0.5]", True), ("(1, 3)", "(1, 2)", False))),
    Comparator("set", "sets and bare lists (\"1, 4 and 9\"): each truth item matches a distinct predicted one",
               None, (("3, 1, 2", "\\{1, 2, 3\\}", True),)),
    Comparator("shape", "a list or set against a scalar, different lengths or brackets: not equal", None,
               (("1, 2", "\\{1, 2, 3\\}", False),)),
    Comparator("empty", "nothing left after normalisation: not equal", None),
    *SCALAR_COMPARATORS,
)


def answers_equivalent(pred: str, ground_truth, timeout: float = DEFAULT_TIMEOUT_S) -> Equivalence:
    """Whether ``pred`` matches ``ground_truth`` (a string, a number, or a list of acceptable ones).

    Order of checks: normalised strings; multiple-choice letters; exact rationals/decimals
    (0.5 = 1/2 = \\frac{1}{2}; numbers followed by unit words compare by the number); prose
    answers (words that are not math) compare case-insensitively as strings; tuples/intervals
    (ordered, brackets must match) and sets/lists (order-free) item by item; finally symbolic
    equivalence with sympy in a sandboxed worker. The whole call is bounded by ``timeout``
    seconds; ``timed_out`` says the bound cut it short (the answer then counts as wrong).
    A percent sign is dropped (10% = 10, not 0.1); decimals are exact (0.33 != 1/3).

    Also: "and"/"or" between math items make a list ("1, 4 and 9"); an item with one ``±`` is two
    items; assignments (``a=3, b=-7``, ``x=y=0``, ``f(x)=0 or f(x)=1``) compare as name -> values,
    order-free (values only when one side has no names; ordered assignments ``x = 7, y = 3`` against
    a tuple truth ``(7, 3)`` of the same length compare as that tuple); in a predicted chain against a
    truth without commas, ``1,250`` is one number (thousands separators); each side but the first of a
    predicted chain ``A = B = C`` is tried against a truth without ``=``; a prose truth is also tried as the value it
    wraps ("0 is the only possible value" -> 0, see :func:`.claims.reference_value`).
    """
    deadline = _Deadline(timeout)
    golds = ground_truth if isinstance(ground_truth, (list, tuple)) else [ground_truth]
    timed_out, comparator = False, None
    for gold in golds:
        if isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
            raise ValueError(f"ground truth must be a string, a number, or a list of them; got {gold!r}")
        value = reference_value(str(gold)) if isinstance(gold, str) else None
        for g in (str(gold),) if value is None else (str(gold), value):
            r = _equal(str(pred), g, deadline)
            if r.equal:
                return r
            timed_out |= r.timed_out
            comparator = comparator or r.comparator  # a "no": the comparator of the first truth tried
    return Equivalence(False, timed_out, comparator)
