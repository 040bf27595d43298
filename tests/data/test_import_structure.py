"""The data layer sits below everything that uses it: errors import nothing of neurodecode,
the data package imports no higher package, and no package imports another that imports it
back through the data layer (the old data <-> confounds cycle). Read from the source (imports
inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "neurodecode"


def _imports() -> dict[str, set[str]]:
    """Top-level neurodecode package -> the neurodecode packages its files import."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        source = parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("neurodecode."):
                    target = name.split(".")[1]
                    if target != source:
                        graph.setdefault(source, set()).add(target)
    return graph


def _reaches(graph, start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def test_errors_and_data_sit_at_the_bottom():
    graph = _imports()
    assert graph.get("errors", set()) == set()
    # the data layer may use only small helpers below it
    assert graph["data"] <= {"errors", "_files", "confounds"}, graph["data"]
    assert graph["datasets"] <= {"errors", "_files", "data", "synth"}, graph["datasets"]


def test_no_cycle_through_the_data_layer():
    graph = _imports()
    for package in ("data", "datasets", "errors", "synth"):
        back = [p for p in graph.get(package, ()) if _reaches(graph, p, package)]
        assert not back, f"{package} imports {back}, which import {package} back"
