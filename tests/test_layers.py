"""The layer order of CONTRIBUTING.md, kept by the code: every module of the project imports only
from its own layer or below (never from above, not even inside a function or under
``if TYPE_CHECKING:``, where an upward import is still a dependency a reader must know), and no
module-level imports go round in a cycle.

Each module's imports are read with ``ast`` (no module is imported to check it), relative imports
resolved against the module's package. Strings that name a model ("exchanges.Exchange" in a
ForeignKey) are not imports and are not read here.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module belongs to the longest prefix listed here; every package of the
# project must be listed (a new app says where it stands).
LAYERS: dict[str, int] = {
    # 0: foundation, no app imports.
    "timebank.api": 0,
    "timebank.spreadsheets": 0,
    "timebank.pagination": 0,
    "timebank.dates": 0,
    # 1: the people and banks every app points at, and the append-only trail.
    "members.models": 1,
    "audit": 1,
    # The trail's page reads members' access rules, so it stands with members' pages.
    "audit.views": 3,
    "audit.urls": 3,
    # 2
    "ledger": 2,
    # 3
    "members": 3,
    "listings": 3,
    "safeguarding": 3,
    # 4
    "exchanges": 4,
    # Exchanges between time banks: two halves, each an exchange of its own bank.
    "interbank": 4,
    # 5
    "desk": 5,
    # 6
    "reminders": 6,
    # 7: the top of the stack.
    "reports": 7,
    "privacy": 7,
    "imports": 7,
    # 8: wiring (settings, urls, celery, the demo loader).
    "timebank": 8,
}

# Folders at the root that are not application code.
NOT_APPS = {"tests", "bench", "e2e", "templates", "static", "node_modules"}


def project_packages() -> list[str]:
    return sorted(
        path.name
        for path in ROOT.iterdir()
        if path.is_dir()
        and (path / "__init__.py").exists()
        and path.name not in NOT_APPS
        and not path.name.startswith(".")
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in project_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            modules[module_name(path)] = path
    return modules


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), layer)
    return None if best is None else best[1]


class Import:
    def __init__(self, target: str, line: int, top_level: bool) -> None:
        self.target = target
        self.line = line
        # At module level and run on import (so it can close a cycle); False inside a function
        # or class body, or under ``if TYPE_CHECKING:``.
        self.top_level = top_level


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package.split(".")
        if node.level > 1:
            base = base[: -(node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def add(target: str, line: int, top_level: bool) -> None:
        if target.split(".")[0] in {name.split(".")[0] for name in known}:
            found.append(Import(target, line, top_level))

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, child.lineno, top_level)
            elif isinstance(child, ast.ImportFrom):
                base = resolve(child)
                for alias in child.names:
                    # ``from ledger import services`` imports the module ledger.services.
                    candidate = f"{base}.{alias.name}"
                    add(candidate if candidate in known else base, child.lineno, top_level)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for part in child.body:
                    visit(ast.Module(body=[part], type_ignores=[]), False)
                for part in child.orelse:
                    visit(ast.Module(body=[part], type_ignores=[]), top_level)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
            elif isinstance(child, ast.ClassDef):
                # A class body runs on import; its methods do not.
                visit(child, top_level)
            else:
                visit(child, top_level)

    visit(tree, True)
    return found


def _owner(target: str, known: set[str]) -> str:
    """The project module an import names: itself, or the package it is taken from."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target


class LayersTest(SimpleTestCase):
    def test_every_package_has_a_layer(self) -> None:
        missing = [name for name in project_packages() if layer_of(name) is None]
        self.assertEqual(missing, [], "add these packages to LAYERS (and CONTRIBUTING.md)")

    def test_no_module_imports_from_a_higher_layer(self) -> None:
        modules = project_modules()
        known = set(modules)
        upward = []
        for module, path in modules.items():
            own = layer_of(module)
            for found in imports_of(module, path, known):
                theirs = layer_of(found.target)
                if own is not None and theirs is not None and theirs > own:
                    upward.append(
                        f"{path.relative_to(ROOT)}:{found.line}: {module} (layer {own}) "
                        f"imports {found.target} (layer {theirs})"
                    )
        self.assertEqual(upward, [], "upward imports:\n" + "\n".join(upward))

    def test_no_module_level_import_cycles(self) -> None:
        modules = project_modules()
        known = set(modules)
        graph: dict[str, set[str]] = {module: set() for module in modules}
        for module, path in modules.items():
            for found in imports_of(module, path, known):
                target = _owner(found.target, known)
                if found.top_level and target and target != module:
                    graph[module].add(target)
                    # Importing a.b runs a/__init__.py first.
                    parent = target.rpartition(".")[0]
                    while parent:
                        if parent in known and parent != module:
                            graph[module].add(parent)
                        parent = parent.rpartition(".")[0]
        cycles = _cycles(graph)
        self.assertEqual(cycles, [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles))

    def test_it_sees_an_upward_import_inside_a_function_or_under_type_checking(self) -> None:
        # The checker itself: a lazy import, or one only for type hints, is still an import.
        source = (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from reports.models import MonthlyReport\n"
            "def f():\n"
            "    from exchanges import services\n"
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "probe.py"
            path.write_text(source)
            found = imports_of("ledger.probe", path, {"exchanges.services", "reports.models"})
        self.assertEqual(
            [(i.target, i.line, i.top_level) for i in found],
            [("reports.models", 3, False), ("exchanges.services", 5, False)],
        )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one module (Tarjan), as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found
