"""The package's layers: no import circle between failwidgets modules, methods free of UI and
demo code, the demo reached from the library only through ``Explorer.from_demo``.

Imports are read from the source (module level and inside functions alike), so a lazy import
that closes a circle counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import failwidgets

PACKAGE = Path(failwidgets.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """failwidgets modules that ``module`` (at ``path``) imports, by any import statement."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in modules and name != module)
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: _imports(p, m, set(paths)) for m, p in paths.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph[node]):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            group = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                group.append(item)
                if item == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


@pytest.fixture(scope="module")
def graph():
    return _graph()


def test_the_reader_sees_relative_lazy_and_absolute_imports(graph):
    # known edges of each kind: module level relative, inside a function, absolute
    assert "failwidgets.class_names" in graph["failwidgets.data"]
    assert "failwidgets.demo.explorer" in graph["failwidgets.assets"]
    assert "failwidgets.methods.vae" in graph["failwidgets.demo.vae_model"]
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_between_failwidgets_modules(graph):
    assert _circles(graph) == []


def test_methods_import_neither_widgets_nor_demo(graph):
    layered = {
        module: sorted(
            target
            for target in targets
            if target.startswith(("failwidgets.widgets", "failwidgets.demo"))
        )
        for module, targets in graph.items()
        if module.startswith("failwidgets.methods")
    }
    assert {m: t for m, t in layered.items() if t} == {}


def test_the_library_reaches_the_demo_only_through_explorer_from_demo(graph):
    # Explorer.from_demo is defined with the Explorer's other constructors in assets.py
    callers = {
        module
        for module, targets in graph.items()
        if not module.startswith("failwidgets.demo")
        and any(t.startswith("failwidgets.demo") for t in targets)
    }
    assert callers == {"failwidgets.assets"}
    assert graph["failwidgets.assets"] & {m for m in graph if m.startswith("failwidgets.demo")} == {
        "failwidgets.demo.explorer"
    }
