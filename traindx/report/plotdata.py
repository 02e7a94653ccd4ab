"""What the HTML report plots: charts and heatmaps built from a run's series, downsampled
for DISPLAY only (the diagnosis always reads every point).

A line chart is a :class:`PlotSection` (also the way to add a plot of your own, e.g. a final
metric against a hyperparameter: ``write_html(..., sections=[PlotSection(...)])``). Long
series are cut to at most ``2 * BUCKETS`` points by keeping each pixel-wide bucket's minimum
and maximum (so a spike or a dip one step wide still shows); non-finite values are never
drawn as numbers: they become separate markers at the top of the chart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from traindx.arrays import unique
from traindx.diagnosis import Diagnosis
from traindx.ranks import is_rank_scope
from traindx.schema import CheckResult, Run, Series

#: buckets across a chart's x range (about one per pixel of a 1000-pixel-wide chart)
BUCKETS = 1000
#: columns of a per-layer heatmap, and at most this many layers (rows) per heatmap
HEAT_COLUMNS = 200
HEAT_ROWS = 64
#: series that are not quality metrics (plotted on their own charts or in heatmaps)
_DIAGNOSTIC = {
    "loss", "lr", "grad_norm", "weight_norm", "update_ratio", "act_mean", "act_std",
    "act_frac_zero", "act_frac_saturated", "nonfinite", "input_mean", "input_std",
    "input_min", "input_max", "output_row_sum", "pred_class_frac",
}  # fmt: skip
#: symptom code prefix -> the chart its onset is also marked on (every onset is on the loss chart)
_MARK_ON = {"GRAD": "grad_norm", "LR": "lr", "ACC": "accuracy", "UPD": "update_ratio"}
MAX_METRIC_CHARTS = 8


def downsample(
    steps: np.ndarray, values: np.ndarray, buckets: int = BUCKETS
) -> tuple[np.ndarray, np.ndarray]:
    """Finite points of a series, at most about ``2 * buckets``: each bucket of the step
    range keeps its minimum and maximum (in step order) and the series' first and last
    points are kept. Display only."""
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    s, v = steps[ok], values[ok]
    if s.size <= 2 * buckets:
        return s, v
    span = float(s[-1] - s[0]) + 1.0
    b = np.minimum(((s - s[0]) / span * buckets).astype(np.int64), buckets - 1)
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])  # steps sorted: buckets are runs
    ends = np.r_[starts[1:], s.size]
    sizes = ends - starts
    picks = [0, s.size - 1]
    for reduce in (np.minimum, np.maximum):  # the first point equal to each bucket's extreme
        ext = np.repeat(reduce.reduceat(v, starts), sizes)
        hit = np.flatnonzero(v == ext)
        _, first = np.unique(b[hit], return_index=True)
        picks.append(hit[first])
    keep = unique(np.concatenate([np.atleast_1d(p) for p in picks]))
    return s[keep], v[keep]


def nonfinite_steps(steps: np.ndarray, values: np.ndarray, buckets: int = BUCKETS) -> np.ndarray:
    """Steps where the series was NaN or infinite (the first per bucket when there are many)."""
    bad = np.asarray(steps, dtype=np.int64)[~np.isfinite(np.asarray(values, dtype=np.float64))]
    if bad.size <= buckets:
        return bad
    span = float(bad[-1] - bad[0]) + 1.0
    b = ((bad - bad[0]) / span * buckets).astype(np.int64)
    return bad[np.r_[True, b[1:] != b[:-1]]]


@dataclass
class Line:
    label: str
    x: Sequence[float]
    y: Sequence[float]
    #: points drawn as markers only (no line), e.g. where the series was non-finite
    markers_only: bool = False
    n_raw: int | None = None
    #: points without a line between them (a scatter)
    points: bool = False


@dataclass
class Mark:
    """A labelled vertical line at ``x`` (a symptom's onset, the best checkpoint)."""

    x: float
    label: str
    kind: str = "info"  # error | warning | info | best
    title: str = ""


@dataclass
class PlotSection:
    """One line chart. ``lines`` may have different x values; ``log_x``/``log_y`` as drawn."""

    title: str
    lines: list[Line] = field(default_factory=list)
    x_label: str = "step"
    y_label: str = ""
    log_x: bool = False
    log_y: bool = False
    marks: list[Mark] = field(default_factory=list)
    note: str = ""
    key: str = ""

    def to_json(self) -> dict[str, Any]:
        xs = sorted({float(x) for ln in self.lines for x in ln.x})
        index = {x: i for i, x in enumerate(xs)}
        cols = []
        for ln in self.lines:
            col: list[float | None] = [None] * len(xs)
            for x, y in zip(ln.x, ln.y, strict=True):
                col[index[float(x)]] = _finite(y)
            cols.append(col)
        return {
            "title": self.title, "x_label": self.x_label, "y_label": self.y_label,
            "log_x": self.log_x, "log_y": self.log_y, "note": self.note, "x": [_int_or(x) for x in xs],
            "series": [{"label": ln.label, "markers_only": ln.markers_only, "points": ln.points} for ln in self.lines],
            "y": cols, "xm": [[_int_or(float(x)) for x in ln.x] if ln.markers_only else [] for ln in self.lines], "marks": [m.__dict__ for m in self.marks],
        }  # fmt: skip


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int_or(x: float) -> float | int:
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else x


def _want_log(values: list[np.ndarray]) -> bool:
    v = np.concatenate([a[np.isfinite(a)] for a in values]) if values else np.zeros(0)
    return bool(v.size and v.min() > 0 and v.max() / v.min() > 1e3)


def line_chart(
    title: str, series: Sequence[Series], *, key: str = "", log: bool | None = None
) -> PlotSection:
    lines: list[Line] = []
    raw = []
    for s in series:
        x, y = downsample(s.steps, s.values)
        lines.append(Line(str(s.key), x.tolist(), y.tolist(), n_raw=len(s)))
        raw.append(s.values)
        bad = nonfinite_steps(s.steps, s.values)
        if bad.size:
            lines.append(
                Line(
                    f"{s.key}: NaN/inf ({int((~np.isfinite(s.values)).sum()):,})",
                    bad.tolist(),
                    [np.nan] * bad.size,
                    markers_only=True,
                )
            )
    note = "; ".join(
        f"{ln.label}: {len(ln.x):,} of {fin:,} finite points drawn (min/max per bucket)"
        for ln, v in zip([ln for ln in lines if not ln.markers_only], raw, strict=True)
        if (fin := int(np.isfinite(v).sum())) > len(ln.x)
    )
    unit = series[0].unit if series else "step"
    return PlotSection(
        title, lines, x_label=unit, log_y=_want_log(raw) if log is None else log, note=note, key=key
    )


def _marks(d: Diagnosis, chart_key: str, unit: str) -> list[Mark]:
    out = []
    for s in d.symptoms:
        if s.onset_step is None or s.onset_unit != unit:
            continue
        on = _MARK_ON.get(s.code.rstrip("0123456789"), "loss")
        if chart_key == "loss" or on == chart_key:
            out.append(
                Mark(
                    float(s.onset_step),
                    s.code,
                    s.severity,
                    f"{s.code} {s.summary} (from {unit} {s.onset_step})",
                )
            )
    return out


def _best(run: Run, unit: str) -> Mark | None:
    """The best checkpoint: lowest validation loss (else highest validation accuracy)."""
    for metric, pick in (("loss", np.nanargmin), ("accuracy", np.nanargmax)):
        s = run.get(metric, "val")
        if s is not None and len(s) >= 2 and s.unit == unit and np.isfinite(s.values).any():
            v = np.where(np.isfinite(s.values), s.values, np.nan)
            i = int(pick(v))
            return Mark(
                float(s.steps[i]),
                "best",
                "best",
                f"best checkpoint: val {metric} {v[i]:.4g} at {unit} {s.steps[i]}",
            )
    return None


def run_charts(run: Run, d: Diagnosis) -> list[PlotSection]:
    """Loss, quality metrics, LR, gradient norm (global series), with onsets marked."""
    glob = [
        s
        for s in run.series.values()
        if s.key.scope == "global" and s.key.statistic == "value" and len(s)
    ]
    charts: list[PlotSection] = []

    def add(title: str, key: str, series: list[Series], log: bool | None = None) -> None:
        for unit in ("step", "epoch"):  # a chart has one x axis: split by unit
            same = [s for s in series if s.unit == unit]
            if not same:
                continue
            c = line_chart(
                title + (" (per epoch)" if unit == "epoch" and len(same) < len(series) else ""),
                same,
                key=key,
                log=log,
            )
            c.marks = _marks(d, key, unit)
            if key == "loss" and (best := _best(run, unit)) is not None:
                c.marks.append(best)
            charts.append(c)

    add("Loss", "loss", [s for s in glob if s.key.metric == "loss"])
    metrics = sorted({s.key.metric for s in glob} - _DIAGNOSTIC)
    for m in metrics[:MAX_METRIC_CHARTS]:
        add(m.replace("_", " ").capitalize(), m, [s for s in glob if s.key.metric == m], log=False)
    add("Learning rate", "lr", [s for s in glob if s.key.metric == "lr"])
    add("Gradient norm", "grad_norm", [s for s in glob if s.key.metric == "grad_norm"])
    add("Update/weight ratio", "update_ratio", [s for s in glob if s.key.metric == "update_ratio"])
    return charts


HEATMAPS = (
    ("grad_norm", "Gradient norm per layer", "log"),
    ("update_ratio", "Update/weight ratio per layer", "log"),
    ("act_frac_zero", "Dead fraction per layer (activations exactly zero)", "linear"),
)


def heatmaps(run: Run) -> list[dict[str, Any]]:
    """Per-layer heatmaps (layers x step buckets, the mean of each bucket) of what an adapter
    recorded per layer; empty when nothing was recorded per layer."""
    out = []
    for metric, title, scale in HEATMAPS:
        rows = [
            s
            for s in run.series.values()
            if s.key.metric == metric and s.key.scope != "global" and len(s) and s.unit == "step"
            and not is_rank_scope(s.key.scope)  # another rank's copy (train/grad_norm@rank1) is no layer
        ]
        rows = [s for s in rows if s.key.statistic in ("value", "mean")][:HEAT_ROWS]
        if not rows:
            continue
        lo = min(int(s.steps[0]) for s in rows)
        hi = max(int(s.steps[-1]) for s in rows)
        ncol = min(HEAT_COLUMNS, hi - lo + 1, max(len(s) for s in rows))
        edges = np.linspace(lo, hi + 1, ncol + 1)
        z = []
        for s in rows:
            col = np.clip(np.searchsorted(edges, s.steps, side="right") - 1, 0, ncol - 1)
            v = s.values.copy()
            fin = np.isfinite(v)
            sums = np.bincount(col[fin], weights=v[fin], minlength=ncol)
            counts = np.bincount(col[fin], minlength=ncol)
            bad = (
                np.bincount(col[~fin], minlength=ncol) if (~fin).any() else np.zeros(ncol, np.int64)
            )
            cells: list[float | str | None] = []
            for j in range(ncol):
                cells.append(
                    "nan"
                    if bad[j] and not counts[j]
                    else (_finite(sums[j] / counts[j]) if counts[j] else None)
                )
            z.append(cells)
        out.append({"title": title, "metric": metric, "scale": scale, "layers": [s.key.scope for s in rows],
                    "x0": [int(math.floor(e)) for e in edges[:-1]], "x1": int(hi), "z": z})  # fmt: skip
    return out


def _floats(v: Any) -> list[float] | None:
    """A list of numbers (None -> NaN), or a JSON list of them in a string; else None."""
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return None
    if isinstance(v, list | tuple) and all(x is None or isinstance(x, int | float) for x in v):
        return [math.nan if x is None else float(x) for x in v]
    return None


def lr_range_chart(checks: Sequence[CheckResult]) -> PlotSection | None:
    """The preflight LR range test's loss against LR, from a check's ``series`` (``lrs``,
    ``losses``; None where the loss was not finite) or, failing that, its facts."""
    for c in checks:
        curves = getattr(c, "series", None) or {}
        lrs = _floats(curves.get("lrs")) or _floats(c.facts.get("lrs"))
        losses = _floats(curves.get("losses")) or _floats(c.facts.get("losses"))
        if not lrs or not losses or len(lrs) != len(losses):
            continue
        marks = []
        for k, kind in (("suggested", "best"), ("blowup", "error"), ("configured", "info")):
            v = _finite(c.facts.get(k))
            if v is not None and v > 0:
                marks.append(Mark(v, f"{k} {v:.3g}", kind, f"{k} LR {v:.3g}"))
        pts = [(x, y) for x, y in zip(lrs, losses, strict=True) if math.isfinite(x) and x > 0]
        lines = [Line("loss", [x for x, y in pts if math.isfinite(y)], [y for _, y in pts if math.isfinite(y)])]
        bad = [x for x, y in pts if not math.isfinite(y)]
        if bad:
            lines.append(Line(f"loss: NaN/inf ({len(bad)})", bad, [math.nan] * len(bad), markers_only=True))
        return PlotSection(f"LR range test ({c.name})", lines, x_label="learning rate", y_label="loss",
                           log_x=True, marks=marks, key="lr_range")  # fmt: skip
    return None
