"""The import graph of the whole tree: no circles, layers import downwards only, no reach-ins.

Every import counts, the ones inside functions too: a function-local import
hides a circle from Python, not from the design.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("index", "ingest", "bench")

# index's subpackages, lowest first: each may import only what is listed before it
# (and `index.settings`, which sits below them all). `ingest` sits below `index`.
LAYERS = ("text", "storage", "encoders", "backends", "search", "build", "firm", "serving", "training")
PRIVATE_SEARCHER_PARTS = ("_embedder", "_version", "_rank", "_candidates", "_shape", "_make_hits", "_judge")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    found["app"] = ROOT / "app.py"
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules `name` imports (resolved to a module of the tree, not a name inside one)."""
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parts = parts if is_package else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
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
        for w in sorted(edges.get(v, ())):
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "index" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def test_the_tree_has_no_import_circle():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_planted_circle():
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(planted) == [["a", "b", "c"]]


def test_index_layers_import_only_layers_below_them():
    upward = []
    for module, targets in graph().items():
        mine = layer_of(module)
        if mine is None:
            continue
        for target in targets:
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                upward.append(f"{module} -> {target}")
            if target in ("index.cli", "index.__main__") or target.startswith(("bench", "app")):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_ingest_never_imports_index_and_the_packages_never_import_bench():
    edges = graph()
    assert [f"{m} -> {t}" for m, ts in edges.items() if m.startswith("ingest") for t in ts
            if t.startswith(("index", "bench", "app"))] == []
    assert [f"{m} -> {t}" for m, ts in edges.items() if m.startswith("index") for t in ts
            if t.startswith(("bench", "app"))] == []


def test_nothing_outside_the_search_package_reaches_into_a_searcher():
    reach_ins = []
    for name, path in modules().items():
        if name.startswith("index.search"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in PRIVATE_SEARCHER_PARTS:
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id == "self"):
                    reach_ins.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert reach_ins == []
