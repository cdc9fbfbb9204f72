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
    if sympy.simplify(diff) == 0:
        return True
    return bool(sympy.expand(diff) == 0)


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
