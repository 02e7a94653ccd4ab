"""Which hyperparameters separate a sweep's good runs from the bad and the diverged, and
where the next, finer search should look.

The statistics are scikit-learn's: a random forest is fitted to the runs' outcomes (good,
bad, diverged) from their hyperparameters - or, when every run has the same outcome, to
their final metric - and each hyperparameter's importance is the forest's permutation
importance (how much shuffling that column costs the fit), with the impurity importance
beside it. scikit-learn is the optional extra ``traindx[sweep]``.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from traindx.errors import TraindxError
from traindx.sweep.tasks import RunSummary

SWEEP_EXTRA = "traindx[sweep]"
#: fewest runs with an outcome (or a final metric) the importance is computed on
MIN_RUNS = 4
_OUTCOME_RANK = {"good": 0, "bad": 1, "unjudged": 2, "diverged": 3}


class Hyperparameter(BaseModel):
    name: str
    #: permutation importance: mean drop of the forest's score when this column is shuffled
    importance: float
    importance_std: float
    #: the forest's impurity (Gini / variance) importance, summing to 1 over the columns
    impurity: float
    kind: str  # "numeric" or "categorical"
    #: how many runs logged it, and its distinct values among them
    runs: int
    distinct: int
    log_scale: bool = False


class Importance(BaseModel):
    hyperparameters: list[Hyperparameter] = Field(default_factory=list)
    suggest: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: what the forest was fitted to: "outcome" (good/bad/diverged) or "final <metric>"
    target: str = ""
    #: the runs the suggested region is read from (best first)
    best: list[str] = Field(default_factory=list)
    note: str = ""


def _numeric(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) and not (isinstance(v, float) and not math.isfinite(v))


def _columns(runs: list[RunSummary]) -> dict[str, tuple[str, list[Any]]]:
    """Hyperparameters logged by at least half of the runs with two or more values:
    name -> (kind, values per run, None where not logged). Lists, tables and names that
    differ in most runs (a run name, a seed string) are not hyperparameters to rank."""
    names: dict[str, None] = {}
    for r in runs:
        names.update(dict.fromkeys(r.hyperparameters))
    cols = {}
    for name in names:
        vals = [r.hyperparameters.get(name) for r in runs]
        vals = [v if v is None or _scalar(v) else None for v in vals]
        present = [v for v in vals if v is not None]
        distinct = len({repr(v) for v in present})
        if len(present) * 2 < len(runs) or distinct < 2:
            continue
        kind = "numeric" if all(_numeric(v) for v in present) else "categorical"
        if kind == "categorical" and distinct > max(5, len(present) // 2):
            continue
        cols[name] = (kind, vals)
    return cols


def _log_scale(values: list[float]) -> bool:
    v = np.asarray(values, dtype=float)
    return bool(v.size and np.all(v > 0) and v.max() / v.min() > 10.0)


def _matrix(cols: dict[str, tuple[str, list[Any]]]) -> tuple[np.ndarray, dict[str, bool]]:
    """Feature matrix: numbers (log10 where they span over a decade), categories as codes;
    NaN where a run did not log the hyperparameter (the forest handles missing values)."""
    out, logs = [], {}
    for name, (kind, vals) in cols.items():
        if kind == "numeric":
            logs[name] = _log_scale([v for v in vals if v is not None])
            col = [np.nan if v is None else (math.log10(v) if logs[name] else float(v)) for v in vals]
        else:
            logs[name] = False
            codes = {c: i for i, c in enumerate(sorted({str(v) for v in vals if v is not None}))}
            col = [np.nan if v is None else float(codes[str(v)]) for v in vals]
        out.append(col)
    return np.asarray(out, dtype=float).T, logs


def _better(r: RunSummary) -> tuple[float, int]:
    """Sort key: the final metric (best first), then the outcome (good before bad)."""
    if r.final is None:
        return math.inf, _OUTCOME_RANK[r.outcome]
    return (-r.final if r.higher_is_better else r.final), _OUTCOME_RANK[r.outcome]


def best_runs(runs: list[RunSummary]) -> list[RunSummary]:
    """The runs with the best final metric: a quarter of the runs (at least 3), never a
    diverged one (a diverged run's last finite value says nothing about where it ended)."""
    metrics = Counter(r.metric for r in runs if r.final is not None)
    if not metrics:
        return []
    metric = metrics.most_common(1)[0][0]  # final values of one metric are compared
    ranked = sorted((r for r in runs if r.outcome != "diverged" and r.final is not None and r.metric == metric), key=_better)
    return ranked[: max(3, len(runs) // 4)]


def importance(runs: list[RunSummary], *, seed: int = 0, repeats: int = 10) -> Importance:
    try:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
        from sklearn.inspection import permutation_importance
    except ImportError:
        raise TraindxError(
            f"hyperparameter importance needs scikit-learn; install the extra: pip install '{SWEEP_EXTRA}'"
        ) from None
    runs = [r for r in runs if r.outcome != "unjudged" or r.final is not None]
    cols = _columns(runs)
    if len(runs) < MIN_RUNS or not cols:
        why = f"{len(runs)} run(s) with a verdict" if len(runs) < MIN_RUNS else "no hyperparameter varies across the runs"
        return Importance(note=f"no importance: {why} (needs {MIN_RUNS} runs and a hyperparameter that varies)")
    outcomes = [r.outcome for r in runs]
    if len(set(outcomes)) >= 2:
        target = "outcome"
        model = RandomForestClassifier(n_estimators=200, random_state=seed, min_samples_leaf=1)
        y = np.asarray(outcomes)
        keep = np.ones(len(runs), bool)
    else:
        keep = np.array([r.final is not None for r in runs])
        if keep.sum() < MIN_RUNS:
            return Importance(note="no importance: every run has the same outcome and too few have a final metric")
        target = f"final {runs[int(np.argmax(keep))].metric}"
        finals = np.array([r.final if r.final is not None else np.nan for r in runs])[keep]
        y = np.log10(finals) if np.all(finals > 0) else finals
        model = RandomForestRegressor(n_estimators=200, random_state=seed)
    X, logs = _matrix(cols)
    X = X[keep]
    model.fit(X, y)
    perm = permutation_importance(model, X, y, n_repeats=repeats, random_state=seed)
    hps = []
    for i, (name, (kind, vals)) in enumerate(cols.items()):
        present = [v for v in vals if v is not None]
        hps.append(Hyperparameter(
            name=name, importance=round(float(perm.importances_mean[i]), 4),
            importance_std=round(float(perm.importances_std[i]), 4),
            impurity=round(float(model.feature_importances_[i]), 4), kind=kind,
            runs=len(present), distinct=len({repr(v) for v in present}), log_scale=logs[name],
        ))  # fmt: skip
    hps.sort(key=lambda h: (-h.importance, -h.impurity, h.name))
    best = best_runs(runs)
    top = hps[0].importance if hps else 0.0
    suggest = {
        h.name: region(h, [r.hyperparameters.get(h.name) for r in best], cols[h.name][1])
        for h in hps
        if h.importance > 0 and h.importance >= 0.1 * top
    }
    return Importance(hyperparameters=hps, suggest=suggest, target=target, best=[r.run_id for r in best])


def region(h: Hyperparameter, best: list[Any], everything: list[Any]) -> dict[str, Any]:
    """The next search region of one hyperparameter (coarse to fine): the range its best
    runs span (``best``: their values, best run first); where the best run sits at an edge
    of that range, the range reaches on to the next value tried past it (the optimum may
    lie beyond). Log scale where the values tried span more than a decade."""
    best = [v for v in best if v is not None]
    if h.kind == "categorical" or not best:
        return {"values": sorted({str(v) for v in best}), "scale": "categorical"}
    tried = sorted({float(v) for v in everything if v is not None})
    top, low, high = float(best[0]), float(min(best)), float(max(best))
    i, j = tried.index(low), tried.index(high)
    if top == low and i > 0:
        low = tried[i - 1]
    if top == high and j + 1 < len(tried):
        high = tried[j + 1]
    return {"low": low, "high": high, "scale": "log" if h.log_scale else "linear"}
