"""The package's layering: no import cycle between the modules of onnxbridge.

The graph is read from the source (ast), not from what happens to be imported at run time: every
``import`` and ``from ... import`` in every module counts, those inside functions included. Two kinds of
import are not dependencies and are left out:

- imports under ``if TYPE_CHECKING:`` (they never run; annotations only);
- a registry loading its family files: an import inside a function whose names that function never uses,
  made for the side effect of registering (``from onnxbridge.checks import rules  # noqa: F401``). The
  registry does not use the families; the families use the registry. (The framework bridges are loaded the
  same way, by module name, from ``onnxbridge/frameworks/bridges.py``.)

    .venv/bin/python -m pytest -q tests/test_architecture.py
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT


def module_files(package: Path) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is a package)} for every ``.py`` file under ``package``."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, ast.AST | None]]:
    """Every import statement with the function it is in (None at module or class level), skipping
    ``if TYPE_CHECKING:`` blocks."""
    found: list[tuple[ast.Import | ast.ImportFrom, ast.AST | None]] = []

    def visit(node: ast.AST, function: ast.AST | None) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, function)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((node, function))
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            function = node
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return found


def _registers_only(statement: ast.Import | ast.ImportFrom, function: ast.AST | None) -> bool:
    """An import inside a function whose bound names the function never reads: loading for registration."""
    if function is None:
        return False
    bound = {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    used = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
    return not bound & used


def import_graph(package: Path) -> dict[str, set[str]]:
    """{module: modules of the same package it imports}, registration loads and type-only imports left out."""
    modules = module_files(package)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        edges: set[str] = set()
        for statement, function in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if _registers_only(statement, function):
                continue
            if isinstance(statement, ast.Import):
                edges.update(a.name for a in statement.names if a.name in modules)
                continue
            base = statement.module or ""
            if statement.level:
                parent = name.split(".") if is_package else name.split(".")[:-1]
                parent = parent[:len(parent) - (statement.level - 1)]
                base = ".".join(parent + ([statement.module] if statement.module else []))
            for alias in statement.names:
                if f"{base}.{alias.name}" in modules:
                    edges.add(f"{base}.{alias.name}")
                elif base in modules:
                    edges.add(base)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import cycle (``[a, b, ..., a]``) per strongly connected group of modules (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return [_cycle_through(group, graph) for group in sorted(groups)]


def _cycle_through(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group (breadth first)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group always has one


def test_no_import_cycles():
    found = cycles(import_graph(ROOT / "onnxbridge"))
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_graph_sees_function_level_imports_and_skips_registration_loads():
    """The walk is not vacuous: imports inside functions are edges; a registry's loading of its families is not."""
    graph = import_graph(ROOT / "onnxbridge")
    assert "onnxbridge.ir" in graph["onnxbridge.conversion"]  # ``from onnxbridge.ir import load_model`` in to_onnx
    assert "onnxbridge.frameworks.bridges" in graph["onnxbridge.testing"]  # inside run_candidate
    assert "onnxbridge.checks.registry" in graph["onnxbridge.checks.rules.structure"]
    assert "onnxbridge.checks.rules" not in graph["onnxbridge.checks.registry"]  # _load(): registration


def test_a_cycle_is_found_and_named(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from ..c import g\n    return g()\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
                                  "def g():\n    from pkg.a import x\n    return x\n")
    (package / "registry.py").write_text("def load():\n    from pkg import families  # noqa: F401\n")
    (package / "families.py").write_text("from pkg import registry\n")
    assert cycles(import_graph(package)) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
