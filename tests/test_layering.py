"""The import graph (issue 15): the report depends on the diagnosis, never the other way round.

Every ``import`` under traindx/ is read from the source (module level and inside functions,
where the lazy imports are), so a cycle hidden in a function body is found too; imports
under ``if TYPE_CHECKING:`` are for annotations and do not count. (The package's facade,
traindx/__init__.py, names ``render_text`` in its table of lazy attributes, as it names
everything else it exports: that is not an import.)
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "traindx"

#: The front ends: they print or write what a diagnosis found, so they may use the report
#: (with the packages under them).
FRONT_ENDS = ("traindx.cli", "traindx.watch", "traindx.sweep", "traindx.adapters.keras", "traindx.adapters._keras_finish")


def _name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (annotations, not imports at run time)."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def _graph() -> dict[str, set[str]]:
    """module -> the traindx modules it imports when it runs (a ``from pkg import name``
    counts as importing ``pkg.name`` when that is a module)."""
    modules = {_name(p): p for p in PKG.rglob("*.py")}
    out: dict[str, set[str]] = {}
    for mod, path in modules.items():
        deps: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("traindx"))
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("traindx"):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules)
        out[mod] = deps
    return out


def _in(mod: str, pkg: str) -> bool:
    return mod == pkg or mod.startswith(pkg + ".")


def test_graph_reads_the_lazy_imports():
    g = _graph()
    assert "traindx.report.text" in g["traindx.cli.diagnose"]  # inside cmd_diagnose
    assert "traindx.engine" in g["traindx.api"]  # inside diagnose_all


def test_only_front_ends_import_the_report():
    g = _graph()
    users = sorted(m for m, deps in g.items() if not _in(m, "traindx.report") and any(_in(d, "traindx.report") for d in deps))
    stray = [m for m in users if not any(_in(m, f) for f in FRONT_ENDS)]
    assert stray == [], f"{stray} import traindx.report; render in the report, call it from a front end"
    for core in ("traindx.diagnosis", "traindx.api", "traindx.engine", "traindx.schema"):
        assert core not in users


def test_no_cycle_through_the_report():
    """Nothing the report depends on (transitively) imports the report back."""
    g = _graph()
    seen: set[str] = set()
    todo = [d for m, deps in g.items() if _in(m, "traindx.report") for d in deps if not _in(d, "traindx.report")]
    while todo:
        m = todo.pop()
        if m in seen or m not in g:
            continue
        seen.add(m)
        back = [d for d in g[m] if _in(d, "traindx.report")]
        assert back == [], f"traindx.report -> ... -> {m} -> {back}: a cycle"
        todo.extend(g[m])
    assert "traindx.diagnosis" in seen and "traindx.schema" in seen
