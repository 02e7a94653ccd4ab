"""The terminal view of a sweep: verdict clusters, hyperparameter importance, next region."""

from __future__ import annotations

from typing import Any

from traindx.sweep import SweepReport
from traindx.textsafe import printable


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def print_sweep(report: SweepReport, console: Any, *, verbose: bool = False) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    n = len(report.runs)
    outcomes = {o: sum(r.outcome == o for r in report.runs) for o in ("good", "bad", "diverged", "unjudged")}
    console.print(f"{n} runs: " + ", ".join(f"{k} {v}" for k, v in outcomes.items() if v))
    t = Table(title="verdicts (top cause)", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("cause", "runs", "e.g."):
        t.add_column(col)
    for c in report.clusters:
        t.add_row(escape(c.cause), str(len(c.runs)), escape(printable(", ".join(c.runs[:3]) + (" ..." if len(c.runs) > 3 else ""))))
    console.print(t)
    if verbose:
        r = Table(title="runs", title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("run", "outcome", "cause", "metric", "final"):
            r.add_column(col)
        for s in report.runs:
            r.add_row(escape(printable(s.run_id)), s.outcome, escape(s.cause or "-"), escape(s.metric or "-"), _num(s.final) if s.final is not None else "-")
        console.print(r)
    if not report.hyperparameters:
        console.print(escape(report.note or "no hyperparameters recorded"))
    else:
        h = Table(title=f"hyperparameter importance (random forest on {report.target}; permutation importance)", title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("hyperparameter", "importance", "+/-", "impurity", "values", "scale"):
            h.add_column(col)
        for hp in report.hyperparameters:
            scale = "log" if hp.log_scale else ("categorical" if hp.kind == "categorical" else "linear")
            h.add_row(escape(hp.name), f"{hp.importance:.3f}", f"{hp.importance_std:.3f}", f"{hp.impurity:.3f}", str(hp.distinct), scale)
        console.print(h)
    if report.suggest:
        region = Table(title=f"next search region (from the best {len(report.best)} runs)", title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("hyperparameter", "low", "high", "scale"):
            region.add_column(col)
        for name, reg in report.suggest.items():
            if "values" in reg:
                region.add_row(escape(name), escape(", ".join(reg["values"])), "", reg["scale"])
            else:
                region.add_row(escape(name), _num(reg["low"]), _num(reg["high"]), reg["scale"])
        console.print(region)
    for sk in report.skipped:
        console.print(f"  not read: {printable(str(sk))}", markup=False)
