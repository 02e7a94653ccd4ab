"""Which recorded facts separate two causes across the labelled corpus.

For a pair of causes the differential confuses (benchmarks/accuracy.py --per-cause prints
the largest true -> said cells), this ranks every numeric or boolean fact the runs of both
causes recorded by how well it orders them: the AUC of "cause A's value above cause B's"
(0.5: no separation; near 0 or 1: one threshold splits them), how many runs of each side
have the fact, and the median on each side and on healthy runs (a rule reading the fact must
not raise false alarms there). Rates over the whole corpus, never a single run: a fact that
splits the pair here is a candidate for evidence in the rulebook, to be added with cases.
Facts come from the accuracy benchmark's cache (benchmarks/labelled.py).

    python benchmarks/fact_separation.py exploding_gradients nonfinite_in_data
    python benchmarks/fact_separation.py dying_relu lr_too_low --kind logs --top 30
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import numpy as np  # noqa: E402


def values(facts: dict) -> dict[str, float]:
    """A run's numeric and boolean facts by path (``group.key``), finite ones only."""
    out = {}
    for g, d in facts.items():
        if not isinstance(d, dict):
            continue
        for k, v in d.items():
            if isinstance(v, bool | int | float | np.floating | np.integer) and math.isfinite(float(v)):
                out[f"{g}.{k}"] = float(v)
    return out


def auc(a: list[float], b: list[float]) -> float:
    """P(a value of ``a`` > one of ``b``), ties counted half (Mann-Whitney)."""
    x, y = np.asarray(a), np.asarray(b)
    gt = (x[:, None] > y[None, :]).sum()
    eq = (x[:, None] == y[None, :]).sum()
    return float((gt + 0.5 * eq) / (len(x) * len(y)))


FIELDS = ("data", "model", "writer", "framework", "style")


def worst_field(va: list[tuple[dict[str, str], float]], vb: list[tuple[dict[str, str], float]], up: bool,
                min_runs: int = 3) -> tuple[float, int]:  # fmt: skip
    """The weakest split within one value of a held-out field (a dataset, a writer...):
    the lowest AUC, oriented as the pooled one (``up``: a's values above b's), over every
    field value with ``min_runs`` runs of each side, and how many such values there were
    (NaN, 0 where none). A fact that splits the pair only because the two causes' runs
    come from different writers or datasets is weak inside each."""
    worst, n = float("nan"), 0
    for f in FIELDS:
        for val in {fam[f] for fam, _ in va + vb}:
            ga = [x for fam, x in va if fam[f] == val]
            gb = [x for fam, x in vb if fam[f] == val]
            if len(ga) >= min_runs and len(gb) >= min_runs:
                u = auc(ga, gb) if up else 1.0 - auc(ga, gb)
                worst, n = u if n == 0 else min(worst, u), n + 1
    return worst, n


def separation(runs: list, a: str, b: str, min_runs: int = 5) -> list[tuple]:
    """Rows (fact, AUC a>b, n a, n b, median a, median b, median healthy, n healthy, worst
    within-field AUC, field values) over the runs that can show their fault (healthy ones
    for the medians on healthy runs), best split first."""
    side: dict[str, list[tuple[dict[str, str], dict[str, float]]]] = {a: [], b: [], "healthy": []}
    for r in runs:
        if "_error" in r.facts or getattr(r, "benign", False) or r.cause not in side:
            continue
        if r.cause == "healthy" or r.visible or r.input_kind != "logs":
            side[r.cause].append(({f: str(getattr(r, f, "?")) for f in FIELDS}, values(r.facts)))
    paths = sorted({p for _, v in side[a] + side[b] for p in v})
    rows = []
    for p in paths:
        va = [(fam, v[p]) for fam, v in side[a] if p in v]
        vb = [(fam, v[p]) for fam, v in side[b] if p in v]
        vh = [v[p] for _, v in side["healthy"] if p in v]
        if len(va) < min_runs or len(vb) < min_runs:
            continue
        xa, xb = [x for _, x in va], [x for _, x in vb]
        u = auc(xa, xb)
        worst, n = worst_field(va, vb, u >= 0.5)
        rows.append((p, u, len(va), len(vb), float(np.median(xa)), float(np.median(xb)),
                     float(np.median(vh)) if vh else float("nan"), len(vh), worst, n))  # fmt: skip
    return sorted(rows, key=lambda r: -abs(r[1] - 0.5))


def main(argv: list[str] | None = None) -> int:
    from labelled import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--kind", default="logs", help="input kind: logs, torch_adapter, keras_adapter, jax_adapter, all")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--min-runs", type=int, default=5, help="runs of each cause a fact needs")
    args = ap.parse_args(argv)
    runs = [r for r in load() if args.kind == "all" or r.input_kind == args.kind]
    rows = separation(runs, args.a, args.b, args.min_runs)
    print(f"{args.a} vs {args.b} ({args.kind}): AUC = P({args.a} > {args.b})")
    print("worst: the weakest split inside one held-out field value (>= 3 runs a side; fields: the number of them)")
    print(f"{'fact':34} {'AUC':>5} {'worst':>5} {'fields':>6} {'n_a':>4} {'n_b':>4} {'med a':>10} {'med b':>10} {'healthy':>10} {'n_h':>4}")
    for p, u, na, nb, ma, mb, mh, nh, w, nf in rows[: args.top]:
        print(f"{p:34} {u:5.2f} {w:5.2f} {nf:6d} {na:4d} {nb:4d} {ma:10.3g} {mb:10.3g} {mh:10.3g} {nh:4d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
