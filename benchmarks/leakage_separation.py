"""Can the logs alone tell data leakage from a healthy run? Per pattern of the train/validation
curves, the share of labelled log-only runs it fires on: healthy, data_leakage, and the causes
that also put validation below training (too_much_regularization with dropout,
distribution_shift with an easier validation set), overfitting and the other faults.

    python benchmarks/leakage_separation.py              # gap facts from the facts cache
    python benchmarks/leakage_separation.py --series     # + the curves' own point-for-point
                                                         #   patterns (reads the runs again: ~2 min;
                                                         #   not for "other", whose column stays 0)

A pattern worth a warning symptom fires on at most 1 % of healthy runs (``HEALTHY_MAX``) and on
a useful share of leakage runs; the last column says which do. Measured on session 45's corpus
(log-only runs, benign ones left out: 1,705 healthy, 134 data_leakage, 90 too_much_regularization),
none does. Validation at or below training at every evaluation while training fits (loss.drop
> 0.5) fires on 15.1 % of healthy and 28.4 % of leakage runs (16.7 % of too_much_regularization);
with the ratio not rising (Kendall tau <= 0: no gap opens) 8.3 % and 16.4 %; with the two losses'
changes correlating (> 0.95) 2.1 % and 3.0 %; a validation loss within 5 % of training at the end
with training down 90 %: 0.8 % and 4.5 % (14 healthy runs against 6); validation accuracy 100 %
with a validation loss under 0.01: 3.5 % and 11.2 %. Healthy runs on easy or synthetic data
generalize perfectly and look the same (Q&A fixed runs among them); a decision tree over the gap
and curve facts finds no region with 6 or more leakage runs and under a third as many healthy.
This measures; it tunes nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

#: a warning may fire on at most this share of healthy runs
HEALTHY_MAX = 0.01
GROUPS = ("healthy", "data_leakage", "too_much_regularization", "distribution_shift", "overfitting", "other")


def _num(facts: Mapping[str, Any], group: str, name: str) -> float:
    v = facts.get(group, {}).get(name)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else math.nan


def signs(facts: Mapping[str, Any]) -> dict[str, bool]:
    """The candidate leakage patterns on one run's facts (``series.*``: :func:`tracking`'s,
    where the run's curves were read). A missing fact makes a pattern false."""
    vb, rl = _num(facts, "gap", "val_below_frac"), _num(facts, "gap", "ratio_last")
    rf, fits = _num(facts, "gap", "ratio_first"), _num(facts, "loss", "drop")
    nv, va = _num(facts, "val_loss", "n_finite"), _num(facts, "val_acc", "last")
    vl = _num(facts, "val_loss", "last")
    below = vb >= 0.9 and nv >= 5 and fits > 0.5
    s = facts.get("series", {})
    return {
        "val below train >=90% of evals, train fits": below,
        "  + ratio not rising (last <= first)": below and rl <= rf,
        "  + ratio ends 0.85..1 (tracks)": below and rl <= rf and rl >= 0.85,
        "val within 5% of train at end, train down 90%": below and fits > 0.9 and 0.95 < rl < 1.05,
        "val acc 100%, val loss < 0.01": va >= 0.9999 and vl < 0.01,
        "series: val <= train at every eval, train fits": s.get("below_all", 0.0) >= 1.0 and nv >= 8 and fits > 0.5,
        "series:   + ratio tau <= 0 (no gap opens)": (
            s.get("below_all", 0.0) >= 1.0 and nv >= 8 and fits > 0.5 and s.get("ratio_tau", 1.0) <= 0.0),
        "series: below, changes correlate > 0.95": below and nv >= 8 and s.get("dcorr", 0.0) > 0.95,
    }


def tracking(train_steps: np.ndarray, train: np.ndarray, val_steps: np.ndarray, val: np.ndarray) -> dict[str, float]:
    """How closely validation follows training, evaluation by evaluation: each validation point
    against the mean training loss logged since the previous one (an epoch's average where
    training logs per step). ``below_all``: share of evaluations at or below it; ``ratio_tau``:
    Kendall tau of their ratio over the evaluations (> 0: a gap opens); ``dcorr``: correlation
    of the two log-losses' changes between evaluations. Both series on one step axis."""
    ok_t, ok_v = np.isfinite(train), np.isfinite(val)
    tx, tv = train_steps[ok_t].astype(float), train[ok_t].astype(float)
    vx, vv = val_steps[ok_v].astype(float), val[ok_v].astype(float)
    if tv.size < 3 or vv.size < 5:
        return {}
    from scipy.stats import kendalltau

    prev, mean = -math.inf, []
    for x in vx:
        m = (tx > prev) & (tx <= x)
        mean.append(float(np.mean(tv[m])) if m.any() else float(np.interp(x, tx, tv)))
        prev = x
    at = np.maximum(np.abs(np.array(mean)), 1e-12)
    ratio = vv / at
    dv, dt = np.diff(np.log(np.maximum(vv, 1e-12))), np.diff(np.log(at))
    tau = float(kendalltau(np.arange(ratio.size), ratio)[0])
    dcorr = float(np.corrcoef(dv, dt)[0, 1]) if dv.std() > 0 and dt.std() > 0 else math.nan
    return {"below_all": float(np.mean(vv <= at)), "ratio_tau": tau, "dcorr": dcorr}


def table(rows: list[tuple[str, Mapping[str, bool]]]) -> list[tuple[str, dict[str, int], dict[str, int], bool]]:
    """Per pattern: runs it fires on per group, runs per group, and whether it could be a
    warning (healthy share <= HEALTHY_MAX and more leakage runs than healthy ones fire)."""
    n = Counter(g for g, _ in rows)
    names = list(rows[0][1]) if rows else []
    out = []
    for name in names:
        hit = Counter(g for g, s in rows if s.get(name))
        ok = hit["healthy"] <= HEALTHY_MAX * max(n["healthy"], 1) and hit["data_leakage"] > hit["healthy"]
        out.append((name, {g: hit[g] for g in GROUPS}, {g: n[g] for g in GROUPS}, ok))
    return out


def _series_facts(path: str) -> dict[str, float]:
    from traindx.readers import read
    from traindx.signals.pick import pick

    run = read(ROOT / path if (ROOT / path).exists() else labelled.CACHE / path)[0]
    t, v = pick(run, "loss", "train"), pick(run, "loss", "val")
    if t is None or v is None or t.unit != v.unit:
        return {}
    return tracking(t.steps, t.values, v.steps, v.values)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", action="store_true", help="also read every run's curves (minutes)")
    args = ap.parse_args(argv)
    rows: list[tuple[str, Mapping[str, bool]]] = []
    for r in labelled.load(kinds={"logs"}):
        if "_error" in r.facts or r.benign:
            continue
        facts: dict[str, Any] = dict(r.facts)
        group = r.cause if r.cause in GROUPS else "other"
        if args.series and group != "other":
            facts["series"] = _series_facts(r.path)
        rows.append((group, signs(facts)))
    counts = Counter(g for g, _ in rows)
    print(f"{'pattern':50}" + "".join(f"{g[:12]:>14}" for g in GROUPS) + "  warning?")
    print(f"{'runs':50}" + "".join(f"{counts[g]:>14}" for g in GROUPS))
    for name, hit, n, ok in table(rows):
        cells = "".join(f"{hit[g]:>6} {100 * hit[g] / max(n[g], 1):5.1f}%" for g in GROUPS)
        print(f"{name:50}{cells}  {'yes' if ok else 'no'}")
    return 0


import labelled  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
