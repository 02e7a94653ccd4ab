"""The sweep's HTML report: the final metric against each important hyperparameter, one
point per value tried and outcome (good, bad, diverged), through the HTML report's charts
(:func:`traindx.report.html.render_html` ``sections``)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from traindx.errors import TraindxError
from traindx.report.plotdata import Line, PlotSection
from traindx.sweep import SweepReport

OUTCOMES = ("good", "bad", "diverged")
#: charts drawn: the most important numeric hyperparameters
MAX_CHARTS = 4


def hyperparameter_charts(report: SweepReport) -> list[PlotSection]:
    """A scatter per important numeric hyperparameter: x its value, y the final metric; where
    several runs of one outcome share a value (other hyperparameters varied), the best one."""
    runs = [r for r in report.runs if r.final is not None and math.isfinite(r.final)]
    metric = runs[0].metric if runs else ""
    charts = []
    for h in [h for h in report.hyperparameters if h.kind == "numeric"][:MAX_CHARTS]:
        lines = []
        for outcome in OUTCOMES:
            best: dict[float, float] = {}
            for r in runs:
                v, y = r.hyperparameters.get(h.name), r.final
                if r.outcome != outcome or not isinstance(v, int | float) or r.metric != metric or y is None:
                    continue
                pick = max if r.higher_is_better else min
                best[float(v)] = pick(best.get(float(v), y), y)
            if not best:
                continue
            xs = sorted(best)
            label = f"{outcome} ({sum(r.outcome == outcome for r in runs)} runs)"
            if outcome == "diverged":  # markers at the top: their last values would crush the scale
                lines.append(Line(f"{label}: at the top", xs, [math.nan] * len(xs), markers_only=True))
            else:
                lines.append(Line(label, xs, [best[x] for x in xs], points=True))
        if not lines:
            continue
        ys = [y for ln in lines if not ln.markers_only for y in ln.y]
        log_y = bool(ys) and min(ys) > 0 and max(ys) / min(ys) > 1e3
        charts.append(PlotSection(
            f"final {metric} against {h.name} (importance {h.importance:.3f})", lines, x_label=h.name,
            y_label=metric or "", log_x=h.log_scale, log_y=log_y, key=f"sweep:{h.name}",
            note="the best run of each outcome at each value tried; diverged runs as markers at the top",
        ))  # fmt: skip
    return charts


def _g(v: object) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def write_sweep_html(path: str | os.PathLike[str], report: SweepReport, title: str = "traindx sweep") -> Path:
    """The sweep's HTML page: the charts, then a table of the verdicts and the next region."""
    from traindx.report.html import e, render_html

    page = render_html([], sections=hyperparameter_charts(report), skipped=report.skipped, title=title)
    rows = "".join(f"<tr><td>{e(c.cause)}</td><td>{len(c.runs)}</td><td>{e(', '.join(c.runs[:5]))}</td></tr>" for c in report.clusters)
    region = "".join(
        f"<tr><td>{e(n)}</td><td>{e(_g(r.get('low', ', '.join(r.get('values', [])))))}</td><td>{e(_g(r.get('high', '')))}</td><td>{e(r['scale'])}</td></tr>"
        for n, r in report.suggest.items()
    )  # fmt: skip
    summary = (
        f"<section class='extra'><h3>{len(report.runs)} runs by top cause</h3><table><tr><th>cause</th><th>runs</th><th>e.g.</th></tr>{rows}</table>"
        + (f"<h3>next search region (from the best {len(report.best)} runs)</h3><table><tr><th>hyperparameter</th><th>low</th><th>high</th><th>scale</th></tr>{region}</table>" if region else "")
        + "</section>"
    )  # fmt: skip
    page = page.replace("<p>no run found</p>", "", 1).replace("</h1>", "</h1>\n" + summary, 1)
    p = Path(path)
    try:
        p.write_text(page, encoding="utf-8")
    except OSError as err:
        raise TraindxError(f"{path}: --html: cannot write the report: {err.strerror or err}") from None
    return p
