"""Symbolic equivalence with sympy, on LaTeX parsed by latex2sympy2's ANTLR grammar.

Runs only inside a sandbox worker (see :mod:`.sandbox`): parsing and simplification can be
arbitrarily slow on hostile input. No string is ever passed to ``eval``, ``sympify`` or
``parse_expr``; latex2sympy2 builds sympy objects from a real LaTeX parse tree.
"""

from __future__ import annotations

import sympy
from sympy import Eq, Rational

_TOL = sympy.Rational(1, 10**12)


def _parse(s: str):
    from latex2sympy2_extended import latex2sympy

    return latex2sympy(s)


def _rationalize(e):
    """Replace floats by the exact rationals of their decimal digits (0.5 -> 1/2)."""
    if not isinstance(e, sympy.Basic):
        return e
    floats = e.atoms(sympy.Float)
    if not floats:
        return e
    return e.xreplace({f: Rational(str(f)) for f in floats})


_POINTS = (5, 6, 7, 8, 11, 12)


def _value(e, point: dict):
    """The value of ``e`` at ``point`` (sums done), or None when it is undefined or not a number."""
    try:
        value = e.subs(point)
        if value.has(sympy.Sum, sympy.Product):
            value = value.doit()
        if value.is_Rational:
            return value
        value = sympy.N(value, 30)
    except Exception:  # noqa: BLE001 - any failure means "no verdict at this point"
        return None
    return value if value.is_number and value.is_finite and value.is_real else None


def _at_points(a, b) -> str | None:
    """"differs" when ``a`` and ``b`` (with free symbols) differ at some positive integer point (then
    they are not identically equal, and no simplification is needed); "agrees" when they are exactly
    equal, and nonzero, at every point, for symbols valued in increasing and in decreasing order (so
    that a C(n, k) or an n - k is not degenerate at all of them); else None. Integer points of both
    parities, since answers in n, k, m are combinatorial (n!, C(n, k), sums up to n); a point where
    either side is undefined or not a plain number is skipped."""
    symbols = sorted((a - b).free_symbols, key=str)
    if len(symbols) > 6:
        return None
    agreeing = 0
    for order in (symbols, symbols[::-1]):
        for base in _POINTS:
            point = {s: base + 7 * i for i, s in enumerate(order)}
            va, vb = _value(a, point), _value(b, point)
            if va is None or vb is None:
                continue
            if va.is_Rational and vb.is_Rational:
                if va != vb:
                    return "differs"
                agreeing += va != 0
            elif abs(va - vb) > sympy.Rational(1, 10**15) * max(abs(va), abs(vb), 1):
                return "differs"
        if len(symbols) < 2:
            break
    return "agrees" if agreeing >= len(_POINTS) else None


def _expr_equal(a, b) -> bool:
    if a == b:
        return True
    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return False
    diff = a - b
    if diff.is_Rational:
        return diff == 0
    if not diff.free_symbols:
        value = sympy.N(diff, 40)
        if value.is_real is False or value.is_number is False:
            return sympy.simplify(diff) == 0
        scale = max(abs(sympy.N(a, 40)), abs(sympy.N(b, 40)), 1)
        if abs(value) > _TOL * scale:
            return False
        return sympy.simplify(diff) == 0 or abs(value) < sympy.Rational(1, 10**35) * scale
    verdict = _at_points(a, b)
    if verdict == "differs":
        return False
    if verdict == "agrees" and diff.has(sympy.Sum, sympy.binomial, sympy.factorial, sympy.gamma):
        # a combinatorial identity (sum_(k=0)^n C(2n+1, n-k) = 4^n): exact, nonzero agreement at integer
        # points of both parities stands in for a symbolic proof, which can take longer than the bound
        return True
    if sympy.simplify(diff) == 0:
        return True
    if sympy.expand(diff) == 0:
        return True
    if diff.has(sympy.Sum, sympy.binomial, sympy.factorial, sympy.gamma):
        # sums with a symbolic bound, C(n, k), n!: evaluate, then rewrite to gamma functions
        done = sympy.expand_func(diff.doit())
        return bool(sympy.simplify(sympy.combsimp(done)) == 0 or sympy.simplify(sympy.gammasimp(done)) == 0)
    return False


def _equal(a, b) -> bool:
    a, b = _rationalize(a), _rationalize(b)
    if isinstance(a, Eq) and isinstance(b, Eq):
        da, db = a.lhs - a.rhs, b.lhs - b.rhs
        return _expr_equal(da, db) or _expr_equal(da, -db)
    if isinstance(a, sympy.Set) or isinstance(b, sympy.Set):
        return bool(a == b)
    return _expr_equal(a, b)


def symbolic_equal(pred: str, gold: str) -> bool:
    """True when the two LaTeX strings parse to equal values (expressions, equations, sets)."""
    try:
        a = _parse(pred)
        b = _parse(gold)
    except Exception:
        return False
    return _equal(a, b)
