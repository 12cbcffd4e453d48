"""The packages form a tree: the API never imports the worker (nor torch), and no modules import each other in a
circle. `trainboard/` holds what both sides share; only its CLI imports everything (trainboard/cli.py).

The import graph is read from the source with `ast`, so every import counts: at module level, inside functions,
and under `if TYPE_CHECKING:` (a circle that only type checkers follow is still a circle in the design).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("trainboard", "backend", "worker")

Graph = dict[str, set[str]]


def module_names(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of the packages under root, by dotted name (a package by its own name)."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def import_graph(root: Path, packages: Iterable[str]) -> Graph:
    """module -> the modules of the packages it imports, anywhere in its source."""
    modules = module_names(root, packages)
    graph: Graph = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, name, is_package)
                # `from a import b` imports the module a.b when there is one, else the name b from the module a.
                targets.update(
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                )
        graph[name] = {found for target in targets if (found := _nearest_module(target, modules)) and found != name}
    return graph


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _nearest_module(target: str, modules: dict[str, Path]) -> str | None:
    """`backend.models.Run` is the module `backend.models`; a module outside the packages is None."""
    parts = target.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def package_of(module: str) -> str:
    return module.split(".")[0]


def with_parent_packages(graph: Graph) -> Graph:
    """Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first: what a module really loads."""
    loaded: Graph = {}
    for module, targets in graph.items():
        loaded[module] = set(targets)
        for target in targets:
            parts = target.split(".")
            loaded[module].update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in graph)
    return loaded


def import_path(graph: Graph, start: str, wanted: str) -> list[str] | None:
    """The chain of imports from start to a module of the package `wanted`, or None."""
    came_from: dict[str, str | None] = {start: None}
    todo = [start]
    while todo:
        module = todo.pop()
        if package_of(module) == wanted:
            path = [module]
            while (previous := came_from[path[-1]]) is not None:
                path.append(previous)
            return path[::-1]
        for target in sorted(graph[module] - came_from.keys()):
            came_from[target] = module
            todo.append(target)
    return None


def circles(graph: Graph) -> list[list[str]]:
    """The groups of modules that import each other in a circle (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(ROOT, PACKAGES)


def test_the_graph_sees_imports_at_module_level_and_nested_in_code(graph: Graph) -> None:
    # A check that reads no imports passes vacuously: these edges exist today, each of a different kind.
    assert "trainboard.settings" in graph["backend.main"]  # module level
    assert {"backend.main", "worker.tasks"} <= graph["trainboard.cli"]  # inside the commands' functions
    assert "trainboard.settings" in graph["backend.migrations.env"]  # under an `if`, in a folder with no __init__


def test_type_checking_and_function_level_imports_close_a_circle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n")
    (package / "b.py").write_text("def make():\n    from . import c\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from pkg.a import thing\n")
    assert circles(import_graph(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_the_api_never_imports_the_worker(graph: Graph) -> None:
    # The API enqueues through the queue contract in trainboard/queue.py and talks to workers over the broker and
    # HTTP only; nothing it loads, directly or through trainboard/, may come from worker/.
    loaded = with_parent_packages(graph)
    paths = [import_path(loaded, module, "worker") for module in graph if package_of(module) == "backend"]
    found = [" -> ".join(path) for path in paths if path]
    assert not found, "backend loads the worker: " + "; ".join(found)


def test_only_the_cli_imports_the_api(graph: Graph) -> None:
    # Workers reach the database through the API's HTTP routes, and the shared modules stay below both sides.
    importers = sorted(
        module
        for module, targets in graph.items()
        if package_of(module) != "backend" and any(package_of(target) == "backend" for target in targets)
    )
    assert importers == ["trainboard.cli"]


def test_no_modules_import_each_other_in_a_circle(graph: Graph) -> None:
    found = circles(graph)
    assert not found, "modules that import each other in a circle: " + "; ".join(" <-> ".join(c) for c in found)


def test_backend_app_does_not_import_torch() -> None:
    # The API image ships without torch.
    code = (
        "import sys; from backend.main import create_app; import trainboard.cli, worker.celery_app; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
