"""Facts across the ranks of one data-parallel job (per-rank series: ``train/loss@rank1``
beside rank 0's ``train/loss``, see :mod:`traindx.ranks`).

Data-parallel replicas hold the same parameters and apply the same all-reduced gradient:
a gradient or weight norm logged after the all-reduce is the same number on every rank,
and the ranks' losses differ only by the noise of their own batches. So:

- ``grad_gap_rel`` / ``weight_gap_rel``: the median relative difference between a rank's
  norm and the main rank's (0 for synchronized replicas);
- ``loss_gap_z``: the ranks' loss difference (log ratio for positive losses) against its
  own noise - its mean over the aligned steps divided by the standard error of 8 block
  means (blocks absorb the autocorrelation of a persistent offset), the largest over
  ranks; ``loss_gap_rel``: that mean as a fraction of the loss;
- ``nonfinite_ranks`` / ``finite_ranks``; ``nonfinite_first_ranks``: how many ranks share
  the earliest non-finite step ``nonfinite_step`` (1 when the first NaN came from one
  rank), ``nonfinite_rank``
  (which), ``nonfinite_lead`` (steps before the next rank followed; the run's length past
  the end when none did).

- ``time_ratio``: a per-step timing logged by every rank (``data_time``, ``forward_time``,
  ``step_time``...): the slowest rank's median over the median of the other ranks' medians,
  the largest over timings; ``time_gap`` that difference in seconds, ``slow_rank`` which
  rank, ``time_metric`` which timing.

Each is a small pure function of arrays; the group exists only when a second rank logged
the loss or a norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.arrays import median
from traindx.ranks import RANK_SCOPE
from traindx.schema import Run, Series

#: per-step timings of each rank (:data:`traindx.ranks.TIMING`)
TIMINGS = ("data_time", "forward_time", "step_time", "iter_time", "batch_time")
BLOCKS = 8
MIN_ALIGNED = 16
EPS = 1e-12


def per_rank(run: Run, metric: str, split: str = "train") -> dict[str, Series]:
    """The main series of a metric (``"main"``) and every other rank's (``"rank1"`` ...)."""
    out = {}
    main = run.get(metric, split)
    if main is not None and len(main):
        out["main"] = main
    for s in run.series.values():
        k = s.key
        if k.metric == metric and k.split == split and k.statistic == "value" and len(s):
            m = RANK_SCOPE.fullmatch(k.scope)
            if m and "@" not in k.scope:
                out[k.scope] = s
    return out


def aligned(a: Series, b: Series) -> tuple[np.ndarray, np.ndarray]:
    """Values of two series at their common steps."""
    steps, ia, ib = np.intersect1d(a.steps, b.steps, return_indices=True)
    return a.values[ia], b.values[ib]


def gap_z(main: np.ndarray, other: np.ndarray) -> tuple[float, float] | None:
    """(z, relative gap) of the ranks' loss difference over their finite common points:
    ``log(other / main)`` for positive losses (a relative offset stays one number while
    the loss falls), ``other - main`` over the main loss's level otherwise. None when
    fewer than :data:`MIN_ALIGNED` points."""
    ok = np.isfinite(main) & np.isfinite(other)
    a, b = main[ok], other[ok]
    if a.size < MIN_ALIGNED:
        return None
    if np.all(a > 0) and np.all(b > 0):
        d, level = np.log(b / a), 1.0
    else:
        d, level = b - a, float(median(np.abs(a))) or EPS
    means = np.array([blk.mean() for blk in np.array_split(d, BLOCKS)])
    se = means.std(ddof=1) / np.sqrt(BLOCKS)
    mean = float(d.mean())
    z = abs(mean) / se if se > 0 else (0.0 if mean == 0 else float("inf"))
    return float(z), abs(mean) / level


def rel_gap(main: np.ndarray, other: np.ndarray) -> float | None:
    """Median of |other - main| / |main| over finite common points (None if none)."""
    ok = np.isfinite(main) & np.isfinite(other)
    if not ok.any():
        return None
    return float(median(np.abs(other[ok] - main[ok]) / np.maximum(np.abs(main[ok]), EPS)))


def first_nonfinite(s: Series) -> int | None:
    bad = ~np.isfinite(s.values)
    return int(s.steps[np.argmax(bad)]) if bad.any() else None


def nonfinite_facts(losses: dict[str, Series]) -> dict[str, Any]:
    first = {name: first_nonfinite(s) for name, s in losses.items()}
    bad = {name: step for name, step in first.items() if step is not None}
    out: dict[str, Any] = {"nonfinite_ranks": len(bad), "finite_ranks": len(losses) - len(bad)}
    if bad:
        earliest = min(bad.values())
        leaders = [n for n, step in bad.items() if step == earliest]
        later = sorted(step for step in bad.values() if step > earliest)
        end = max(int(s.steps[-1]) for s in losses.values()) + 1
        out["nonfinite_step"] = earliest
        out["nonfinite_first_ranks"] = len(leaders)
        out["nonfinite_rank"] = "rank0" if leaders[0] == "main" else leaders[0]
        # how long the first rank was alone: until the next rank followed, or to the end
        out["nonfinite_lead"] = 0 if len(leaders) > 1 else (later[0] if later else end) - earliest
    return out


def straggler_facts(timings: dict[str, dict[str, Series]]) -> dict[str, Any]:
    """The slowest rank of the timing where it stands out most (see the module docstring)."""
    best: tuple[float, float, str, str] | None = None
    for metric, ranks in timings.items():
        med = {}
        for name, s in ranks.items():
            v = s.values[np.isfinite(s.values) & (s.values >= 0)]
            if v.size:
                med["rank0" if name == "main" else name] = float(median(v))
        if len(med) < 2:
            continue
        slow = max(med, key=med.__getitem__)
        others = float(median([t for r, t in med.items() if r != slow]))
        ratio = med[slow] / others if others > 0 else (1.0 if med[slow] == 0 else float("inf"))
        if best is None or ratio > best[0]:
            best = (ratio, med[slow] - others, slow, metric)
    if best is None:
        return {}
    return {"time_ratio": best[0], "time_gap": best[1], "slow_rank": best[2], "time_metric": best[3]}


def rank_facts(run: Run) -> dict[str, Any]:
    """The ``ranks`` facts; empty unless some metric was logged by a second rank."""
    losses = per_rank(run, "loss")
    norms = {m: per_rank(run, m) for m in ("grad_norm", "weight_norm", *TIMINGS)}
    n = max(len(losses), *(len(v) for v in norms.values()))
    if n < 2:
        return {}
    facts: dict[str, Any] = {"n_ranks": n}
    if "main" in losses and len(losses) >= 2:
        facts.update(nonfinite_facts(losses))
        main = losses["main"]
        gaps = [g for name, s in losses.items() if name != "main" and (g := gap_z(*aligned(main, s)))]
        if gaps:
            z, rel = max(gaps)
            facts["loss_gap_z"], facts["loss_gap_rel"] = z, rel
    facts.update(straggler_facts({m: per_rank(run, m) for m in TIMINGS}))
    for metric, fact in (("grad_norm", "grad_gap_rel"), ("weight_norm", "weight_gap_rel")):
        series = norms[metric]
        if "main" in series:
            rels = [r for name, s in series.items() if name != "main" and (r := rel_gap(*aligned(series["main"], s))) is not None]
            if rels:
                facts[fact] = max(rels)
    return facts
