"""Adversarial timing of every regular expression in ``tracesft.grading`` (run by test_regex_budget.py).

Run as a script, it collects each pattern the grading modules compile (module globals, nested in their
rule tables, and every literal pattern passed to ``re.*`` in their source), builds adversarial strings
from the pattern's own building blocks (its literal characters and runs, one member of each character
class), repeated to ``--length`` characters, alone, in pairs and followed by a character that makes the
match fail, and times ``finditer`` over each. It prints ``start <id>`` before each pattern (so a parent
that has to kill it knows which one hung) and one JSON line per pattern with its worst time.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import re
import sys
import time
from pathlib import Path

try:  # Python 3.11+
    from re import _constants as sre_c
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as sre_c
    import sre_parse

_CATEGORY_CHARS = {
    sre_c.CATEGORY_DIGIT: "7", sre_c.CATEGORY_NOT_DIGIT: "a", sre_c.CATEGORY_SPACE: " ",
    sre_c.CATEGORY_NOT_SPACE: "a", sre_c.CATEGORY_WORD: "a", sre_c.CATEGORY_NOT_WORD: " ",
}
_ALWAYS = ["a", "Z", "7", " ", "\n", ".", ",", "\\", "{", "}", "(", ")", "$", "-", "aa ", "1 ", "a1"]
_ENDINGS = ["", "!"]


def _walk(tree, blocks: list[str], run: list[str]) -> None:
    """Collect literal runs and one member of each class/category in a parsed pattern."""
    def flush():
        if len(run) > 1:
            blocks.append("".join(run))
        run.clear()

    for op, av in tree:
        if op is sre_c.LITERAL:
            ch = chr(av)
            blocks.append(ch)
            run.append(ch)
            continue
        flush()
        if op is sre_c.IN:
            for iop, iav in av:
                if iop is sre_c.LITERAL:
                    blocks.append(chr(iav))
                elif iop is sre_c.RANGE:
                    blocks.append(chr(iav[0]))
                elif iop is sre_c.CATEGORY:
                    blocks.append(_CATEGORY_CHARS.get(iav, "a"))
        elif op is sre_c.CATEGORY:
            blocks.append(_CATEGORY_CHARS.get(av, "a"))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            _walk(av[2], blocks, [])
        elif op is sre_c.SUBPATTERN:
            _walk(av[-1], blocks, [])
        elif op is sre_c.BRANCH:
            for alt in av[1]:
                _walk(alt, blocks, [])
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            _walk(av[1], blocks, [])
    flush()


def building_blocks(pattern: re.Pattern) -> list[str]:
    blocks: list[str] = []
    try:
        _walk(sre_parse.parse(pattern.pattern, pattern.flags), blocks, [])
    except Exception:  # bytes or an unparsable pattern: the generic blocks still apply
        pass
    seen, out = set(), []
    for b in blocks + _ALWAYS:
        if b and b not in seen:
            seen.add(b)
            out.append(b)
    return out


def adversarial_strings(pattern: re.Pattern, length: int):
    """Each building block, block + filler and pair of the first blocks, repeated to ``length``, after a
    prefix (none; "1 ", for patterns anchored on a leading number; the pattern's first literal run) and
    before an ending ("" or "!", which makes anchored patterns fail and backtrack)."""
    blocks = building_blocks(pattern)
    fillers = [" ", "7"]
    units = list(blocks)
    units += [b + f for b in blocks for f in fillers if b != f]
    units += [a + b for a in blocks[:4] for b in blocks[:4] if a != b]
    prefixes = ["", "1 "] + [b for b in blocks if len(b) > 1][:1]
    for unit in units:
        body = unit * max(1, length // len(unit))
        for prefix in prefixes:
            for end in _ENDINGS:
                yield prefix + body + end


def _literal_patterns(path: Path) -> list[re.Pattern]:
    """Every ``re.<fn>("literal", ..., flags)`` call in a source file, compiled."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            flags = 0
            for kw in node.keywords:
                if kw.arg == "flags":
                    flags = _flag_value(kw.value)
            if node.func.attr == "compile" and len(node.args) > 1:
                flags = _flag_value(node.args[1])
            try:
                out.append(re.compile(node.args[0].value, flags))
            except re.error:
                pass
    return out


def _flag_value(node) -> int:
    try:
        return int(eval(compile(ast.Expression(node), "<flags>", "eval"), {"re": re}))  # our own source
    except Exception:
        return 0


def _module_patterns(obj, out: list, depth: int = 0) -> None:
    if isinstance(obj, re.Pattern):
        out.append(obj)
    elif depth < 4 and isinstance(obj, (list, tuple, set, frozenset)):
        for x in obj:
            _module_patterns(x, out, depth + 1)
    elif depth < 4 and isinstance(obj, dict):
        for x in obj.values():
            _module_patterns(x, out, depth + 1)
    elif depth < 4 and hasattr(obj, "__dataclass_fields__") and not isinstance(obj, type):
        for name in obj.__dataclass_fields__:
            _module_patterns(getattr(obj, name, None), out, depth + 1)


def collect(package: str = "tracesft.grading") -> dict[str, re.Pattern]:
    pkg = importlib.import_module(package)
    found: dict[str, re.Pattern] = {}
    seen: set[tuple[str, int]] = set()  # one pattern compiled in several modules is probed once
    for info in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"{package}.{info.name}")
        pats: list[re.Pattern] = []
        for name, value in vars(mod).items():
            if not name.startswith("__"):
                _module_patterns(value, pats)
        pats += _literal_patterns(Path(mod.__file__))
        for p in pats:
            if isinstance(p.pattern, str) and (p.pattern, p.flags) not in seen:
                seen.add((p.pattern, p.flags))
                found.setdefault(f"{info.name}:{p.pattern[:70]!r}/{p.flags}", p)
    return found


def _cpu_time(pattern: re.Pattern, s: str) -> float:
    t = time.process_time()
    for _ in pattern.finditer(s):
        pass
    print(".", flush=True)  # a heartbeat per search: the parent's stall timer is per search
    return time.process_time() - t


def main(argv: list[str]) -> None:
    """``regex_probe.py LENGTH [SKIP_KEY...]``: one JSON line per pattern, in sorted order, with its
    slowest search over LENGTH characters and, for a search slower than 5 ms, how much slower the same
    input twice as long is (linear: about 2; quadratic: about 4; confirmed on a second doubling)."""
    length, skip = int(argv[0]), set(argv[1:])
    only = os.environ.get("REGEX_PROBE_ONLY", "")
    for key, pattern in sorted(collect().items()):
        if key in skip or only not in key:
            continue
        print("start " + json.dumps(key), flush=True)
        worst = {"pattern": key, "worst_s": 0.0, "growth": 0.0, "input": ""}
        for s in adversarial_strings(pattern, length):
            dt = _cpu_time(pattern, s)
            growth = 0.0
            if dt > 0.005:
                half = len(s) // 2  # the same blocks, half the length: the growth from half to whole
                growth = dt / max(_cpu_time(pattern, s[:half] + s[-1]), 1e-4)
                if growth > 3 and dt < 2.0:  # confirm on a second doubling: timer noise and bounded
                    longer = s[:-1] * 2 + s[-1]  # windows ({0,2000}) do not grow x4 twice
                    growth = min(growth, _cpu_time(pattern, longer) / max(dt, 1e-4))
            if dt > worst["worst_s"] or growth > worst["growth"]:
                worst = {"pattern": key, "worst_s": max(dt, worst["worst_s"]),
                         "growth": max(growth, worst["growth"]), "input": s[:30] + "..." + s[-5:]}
        print(json.dumps(worst), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
