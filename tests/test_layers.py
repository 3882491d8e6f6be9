"""The package's layers import one way (README "Where things live"; ARCHITECTURE.md).

Every import of a ``leadscore`` module is read from the source — at the top of a module
or inside a function, since an import that runs late still ties the two modules — and
each must point to the same layer or one below. The test also looks for import circles
among the modules and for hand-written modules over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "leadscore"

#: lowest first; a module may import its own layer and the ones before it. The store sits
#: beside the data layers: it imports only the foundation and data.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("errors", "config", "jsonutil", "private_files", "terminal")),
    ("data", ("data", "demo")),
    ("store", ("store",)),
    ("features", ("features",)),
    ("modelling", ("modeling",)),
    ("scoring", ("scoring",)),
    ("explaining and reporting", ("explain", "reporting")),
    ("lifecycle", ("lifecycle",)),
    # the Spark engine runs the features, the scorer and the registry's models on a cluster
    ("spark engine", ("spark",)),
    ("live and monitoring", ("live", "monitor", "webhooks")),
    ("faces", ("cli", "service", "ui")),
]
#: the store and the features are siblings: neither imports the other
SIBLINGS = {("store", "features"), ("features", "store")}
#: the generated kernel of tree SHAP (``python -m leadscore.scoring.sweepgen``)
GENERATED = {"leadscore.scoring.sweeps"}
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The leadscore modules ``path`` imports (resolved to a module that exists)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target.startswith("leadscore.") and target != name:
                found.add(target)
    return found


def _layer(module: str) -> int | None:
    top = module.split(".")[1] if module.count(".") else ""
    for index, (_, packages) in enumerate(LAYERS):
        if top in packages:
            return index
    return None  # the package itself (leadscore/__init__.py): the Python API above all


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    lost = [m for m in graph if m != "leadscore" and _layer(m) is None]
    assert not lost, f"modules outside every layer (add them to LAYERS): {lost}"


def test_imports_point_down(graph: dict[str, set[str]]) -> None:
    upward = []
    for module, imported in graph.items():
        mine = _layer(module)
        if mine is None:
            continue
        for other in imported:
            theirs = _layer(other)
            pair = (LAYERS[mine][0], LAYERS[theirs][0]) if theirs is not None else None
            if theirs is not None and (theirs > mine or pair in SIBLINGS):
                upward.append(f"{module} ({LAYERS[mine][0]}) → {other} ({LAYERS[theirs][0]})")
    assert not upward, "imports pointing up a layer:\n" + "\n".join(sorted(upward))


def test_no_import_circles(graph: dict[str, set[str]]) -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
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
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"


def test_no_hand_written_module_over_500_lines() -> None:
    long = {
        name: sum(1 for _ in path.open(encoding="utf-8"))
        for name, path in _modules().items()
        if name not in GENERATED
    }
    over = {name: n for name, n in long.items() if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines: {over}"
