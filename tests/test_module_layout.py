"""The package's layout (issue 15): modules a newcomer can read, an import graph without
cycles, and an ``import traindx`` that pulls in no deep-learning framework.

The graph is read from the source: every ``import`` at
module level, which is what runs when a module is first imported. Imports inside functions
(the lazy ones) run later, once every module they name is loaded, so they cannot deadlock an
import and are left out; so are those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from test_layering import PKG, _name

#: the limit of the project's brief: a module longer than this is split along its seams
MAX_LINES = 400

#: frameworks only traindx/adapters/ may import (and only lazily, when the user attaches one)
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "flax", "optax", "lightning", "pytorch_lightning", "transformers")


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """The statements that run on import: the module's body, with the bodies of top-level
    ``if``/``try``/``with`` blocks (an optional dependency's guard), not functions or classes."""
    out, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        elif isinstance(node, ast.If | ast.With):
            todo.extend(node.body + getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            todo.extend(node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body])
        else:
            out.append(node)
    return out


def _resolve(mod: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from X import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_time_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the traindx modules its import runs (``from pkg import name`` counts as
    importing ``pkg.name`` when that is a module). A submodule's own parent package is left
    out: Python imports it first, whatever the submodule says."""
    out: dict[str, set[str]] = {}
    for mod, path in modules.items():
        deps: set[str] = set()
        for node in _top_level(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("traindx"))
            elif isinstance(node, ast.ImportFrom):
                src = _resolve(mod, path, node)
                if src.startswith("traindx"):
                    deps.add(src)
                    deps.update(f"{src}.{a.name}" for a in node.names if f"{src}.{a.name}" in modules)
        out[mod] = {d for d in deps if d in modules and d != mod and not mod.startswith(d + ".")}
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of a graph: each strongly connected component of more than one
    module, as a path round it (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_no_module_over_the_line_limit():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines (split them along a seam): {long}"


def test_the_cycle_finder_finds_a_cycle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(g) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_module_level_imports_only():
    g = import_time_graph(_modules())
    assert "traindx.signals.pick" in g["traindx.signals"]  # from traindx.signals.pick import ...
    assert "traindx.engine" not in g["traindx.api"]  # imported inside diagnose_all: lazy
    assert "traindx.signals" not in g["traindx.signals.pick"]  # the parent package: implicit


def test_no_import_cycle_between_traindx_modules():
    found = cycles(import_time_graph(_modules()))
    assert found == [], f"import cycles (move the shared part into a module both import): {found}"


def test_import_traindx_pulls_no_framework():
    """Importing every module outside traindx/adapters/ (the package, the engine, the readers,
    the report, the CLI) leaves torch, TensorFlow, Keras and JAX unloaded."""
    mods = sorted(m for m in _modules() if not m.startswith("traindx.adapters") and not m.endswith("__main__"))
    code = (
        "import importlib, sys\nimport traindx\n"
        f"for m in {mods!r}:\n    importlib.import_module(m)\n"
        f"print(sorted(f for f in {FRAMEWORKS!r} if f in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PKG.parent, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_framework_import_at_module_level_outside_the_adapters():
    stray = []
    for mod, path in _modules().items():
        if mod.startswith("traindx.adapters"):
            continue
        for node in _top_level(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            )  # fmt: skip
            stray += [f"{mod}: {n}" for n in names if n.split(".")[0] in FRAMEWORKS]
    assert stray == []
