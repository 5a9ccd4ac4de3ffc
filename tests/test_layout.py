"""The package layout keeps its promises: pure cores without I/O, no import cycle, package files that only
describe their package, and modules a newcomer can read in one sitting.

The import graph is read from the source (every `import` of an `agent` module anywhere in a file, also inside
functions, except those under `if TYPE_CHECKING:`, which never run).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "agent"

# Pure logic: no I/O, no threads, no clock of its own, no logging; tested directly.
PURE = (
    "agent.aggregation",
    "agent.anomaly.detector",
    "agent.anomaly.events",
    "agent.anomaly.settings",
    "agent.anomaly.sensor",
    "agent.backoff",
    "agent.runtime.reload",
    "agent.sources.line_protocol",
    "agent.vision.assignment",
    "agent.vision.geometry",
    "agent.vision.kalman",
    "agent.vision.lines",
    "agent.vision.pipeline",
    "agent.vision.refinds",
    "agent.vision.tracking",
    "agent.vision.zones",
)
# What a pure module may not import: the edges of the agent, and the standard and third-party modules that do
# I/O, run threads or read a clock.
EDGES = ("agent.cli", "agent.mqtt", "agent.runtime", "agent.sources", "agent.store")
IMPURE = (
    "cv2",
    "io",
    "logging",
    "multiprocessing",
    "onnxruntime",
    "os",
    "paho",
    "pathlib",
    "pymodbus",
    "serial",
    "socket",
    "sqlite3",
    "subprocess",
    "threading",
    "time",
)
MAX_LINES = 600
"""Longer modules must say in their docstring why they are one module ('Why one module: ...')."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imported(path: Path) -> Iterator[str]:
    """Every module name `path` imports at run time (for `from a import b`, `a.b` when that is a module)."""

    def walk(node: ast.AST) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                continue
            if isinstance(child, ast.Import):
                yield from (alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                yield child.module
                for alias in child.names:
                    if f"{child.module}.{alias.name}" in MODULES:
                        yield f"{child.module}.{alias.name}"
            yield from walk(child)

    yield from walk(ast.parse(path.read_text()))


def agent_graph() -> dict[str, set[str]]:
    return {name: {m for m in imported(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_graph_reader_sees_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import agent.store\n"
        "def f():\n    from agent.mqtt import topics\n"
    )
    assert set(imported(path)) == {"typing", "agent.mqtt", "agent.mqtt.topics"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert cycles(agent_graph()) == []


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith(PURE)])
def test_pure_cores_import_no_edge_and_no_io(name: str) -> None:
    bad = sorted(
        m
        for m in imported(MODULES[name])
        if (m.startswith(EDGES) and m != "agent.sources.line_protocol") or m.split(".")[0] in IMPURE
    )
    assert bad == [], f"{name} is pure logic and must not import {bad}"


def test_every_pure_module_exists() -> None:
    assert [p for p in PURE if not any(m == p or m.startswith(p + ".") for m in MODULES)] == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("__init__.py")), ids=lambda p: module_name(p) or "agent")
def test_package_files_only_describe_their_package(path: Path) -> None:
    """Code in a package's `__init__.py` runs on every import of any module below it: that is how the cycles
    and the slow start-ups come back."""
    body = ast.parse(path.read_text()).body
    allowed = (ast.Expr, ast.Assign) if path.parent == PACKAGE else (ast.Expr,)  # agent/__init__: __version__
    assert body and isinstance(body[0], ast.Expr), f"{path} has no docstring"
    assert all(isinstance(node, allowed) for node in body), f"{path} holds more than its docstring"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_long_modules_say_why_they_are_one(name: str) -> None:
    path = MODULES[name]
    lines = len(path.read_text().splitlines())
    if lines > MAX_LINES:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert "Why one module:" in doc, f"{name} has {lines} lines: split it, or say why it is one module"


def test_the_agent_does_not_use_scipy() -> None:
    """scipy alone cost about 47 MB and 0.3 s of start-up for one function; the tracker's assignment is
    `agent.vision.assignment`."""
    assert [name for name, path in MODULES.items() if any(m.split(".")[0] == "scipy" for m in imported(path))] == []


def test_the_architecture_document_names_every_package() -> None:
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"^\| `(agent/[a-z_]+/)` \|", architecture, re.M))
    packages = {f"{p.parent.relative_to(ROOT)}/" for p in PACKAGE.glob("*/__init__.py")}
    assert named == packages
