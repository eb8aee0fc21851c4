"""The house rules of the package: layers imported one way, no cycles, no reaching into another room's privates.

The layers are declared once, in ``pyproject.toml`` (``[tool.importlinter]``);
``lint-imports`` checks them in CI and here. grimp (import-linter's graph)
counts every import, function-level ones included.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from _support import REPO_ROOT

PACKAGE = "ldmnist_hub"
GRAPH = grimp.build_graph(PACKAGE)


def _room(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to: ``ldmnist_hub.hub.pull`` -> ``hub``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycles() -> list[list[str]]:
    """Every import cycle among the package's modules (one per strongly connected group), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(GRAPH.find_modules_directly_imported_by(node)):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for module in sorted(GRAPH.modules):
        if module not in index:
            visit(module)
    return found


def test_the_layers_contract_holds() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_no_module_takes_part_in_an_import_cycle() -> None:
    # The package root imports its public names from every layer; it is the entry, not a layer.
    assert [c for c in _cycles() if PACKAGE not in c] == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.build_graph(PACKAGE)
    graph.add_import(importer="ldmnist_hub.core.paths", imported="ldmnist_hub.cli")
    global GRAPH
    saved, GRAPH = GRAPH, graph
    try:
        assert any("ldmnist_hub.cli" in c and "ldmnist_hub.core.paths" in c for c in _cycles())
    finally:
        GRAPH = saved


def _private_uses(path: Path, module: str) -> list[str]:
    """``from ldmnist_hub.x import _name`` and ``mod._name`` uses that cross into another subpackage."""
    tree = ast.parse(path.read_text())
    bad, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if target in GRAPH.modules:
                    aliases[alias.asname or alias.name] = target
                elif (alias.name.startswith("_") and not alias.name.startswith("__")
                      and _room(node.module) != _room(module)):
                    bad.append(f"{module} imports {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")
                and _room(aliases[node.value.id]) != _room(module)):
            bad.append(f"{module} uses {aliases[node.value.id]}.{node.attr}")
    return bad


@pytest.mark.parametrize("module", sorted(m for m in GRAPH.modules if m != PACKAGE))
def test_no_module_uses_a_private_name_of_another_subpackage(module: str) -> None:
    spec_path = REPO_ROOT / (module.replace(".", "/") + ".py")
    path = spec_path if spec_path.is_file() else REPO_ROOT / module.replace(".", "/") / "__init__.py"
    assert _private_uses(path, module) == []
