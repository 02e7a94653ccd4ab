"""How far the learned layer's facts may move a cause: the bound and the winsorizing
quantile (benchmarks/ranker.fit ``bound``, ``winsor``), compared by cross-validation.

The layer's score of a class is ``offset_weight * rules' log-probability + coef . z +
intercept``. On a run unlike the training corpus a few heavy-tailed features sit far out
(a training loss "oscillation" 22 standard deviations above the mean, inside the training
range because one training run had it) and ``coef . z`` reaches 10-15 for several causes
at once: the layer multiplies one cause by 1e4-1e5 over another on features that are not
evidence for either. Two remedies, each fitted inside every fold (the inner CV's
temperature and healthy threshold on the remedied scores):

- ``winsor`` q: every graded feature is held to its training runs' [q, 1 - q] quantiles
  (in the fit and after), so no feature sits further out than the bulk of training runs;
- ``bound`` B: each class's facts correction ``coef . z`` is held to [-B, B].

    python benchmarks/select_bound.py --dims writer --grid none:0,none:0.01,6:0,6:0.01
    python benchmarks/select_bound.py --dims writer --grid none:0,none:0:5,none:0:3   # zclip 5, 3

- ``zclip`` z: every standardized feature is held to [-z, z] (in the fit and after): a flag
  one training run in thousands had standardizes to z ~ 50 and moves a cause by 1e3-1e4 with
  a coefficient the L2 penalty hardly sees.

Per configuration and field: top-1 / top-3 of what the engine shows (the layer mixed with
the rules by the shipped blend), false alarms, the layer's wrong answers at >= 0.8, the mean
held-out log-loss of the true class (the layer's own probability: a proper score, which an
unwarranted factor of 1e5 pays for when it is wrong), and how many runs the layer gives a
factor of 1e3 or more (over the rules' own odds) between its top cause and the rules' top.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from fit_ranker import OUT, Data, cv_predict, options, scores  # noqa: E402
from labelled import load  # noqa: E402
from select_blend import mix, rules_probs  # noqa: E402
from select_ranker import score  # noqa: E402

from traindx.learned import load_model  # noqa: E402
from traindx.rules.loader import load_rulebook  # noqa: E402


def parse(grid: str) -> list[tuple[float | None, float, float | None]]:
    """'B:q[:z],...' ('none' for no bound / no zclip) -> [(bound, winsor, zclip), ...]."""
    out = []
    for item in filter(None, grid.split(",")):
        b, q, z = (item.split(":") + ["", ""])[:3]
        out.append((None if b == "none" else float(b), float(q or 0.0), None if z in ("", "none") else float(z)))
    return out


def evaluate(data: Data, kind: str, dim: str, opts: dict) -> dict:
    P, thr, rows, classes, knows = cv_predict(data, kind, dim, **opts)
    s = scores(data, P, thr, rows, classes)
    h = classes.index("healthy")
    R = rules_probs(data, rows, classes)
    shown = score(data, rows, mix(P, R, opts["blend"], h), classes, knows)
    y = data.y[rows]
    use = knows & data.comp.alarmed[rows] & (y != "healthy") & data.visible[rows] & data.ok[rows]
    idx = np.array([classes.index(c) if c in classes else h for c in y])
    nll = float(-np.log(np.clip(P[np.arange(len(rows)), idx][use], 1e-12, 1.0)).mean())
    # the layer's odds of its top cause over the rules' top, against the rules' own odds
    Q = P.copy()
    Q[:, h] = 0.0
    top, rtop = Q.argmax(axis=1), R.argmax(axis=1)
    ar = np.arange(len(rows))
    lay = np.log(np.clip(Q[ar, top], 1e-12, 1) / np.clip(Q[ar, rtop], 1e-12, 1))
    rul = np.log(np.clip(R[ar, top], 1e-12, 1) / np.clip(R[ar, rtop], 1e-12, 1))
    extreme = int(((lay - rul) >= np.log(1e3))[knows & data.comp.alarmed[rows]].sum())
    return {**s, "shown1": shown["top1"], "shown3": shown["top3"], "nll": nll, "extreme": extreme}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="logs")
    ap.add_argument("--dims", default="writer")
    ap.add_argument("--grid", default="none:0,none:0.01,6:0,4:0")
    args = ap.parse_args(argv)
    base = options(load_model(OUT, args.kind))
    data = Data(load(), load_rulebook())
    for dim in args.dims.split(","):
        for bound, winsor, zclip in parse(args.grid):
            r = evaluate(data, args.kind, dim, base | {"bound": bound, "winsor": winsor, "zclip": zclip})
            print(f"{args.kind} leave-one-{dim}-out bound {bound} winsor {winsor:g} zclip {zclip}: shown top1 {r['shown1']:.1%} "
                  f"top3 {r['shown3']:.1%} | layer top1 {r['top1']:.1%} top3 {r['top3']:.1%} FA {r['fa']:.1%} "
                  f"w@80 {r['w80']} NLL {r['nll']:.3f} factor>=1e3 over rules {r['extreme']}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
