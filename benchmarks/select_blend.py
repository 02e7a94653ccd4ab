"""The blend weight of the learned layer, chosen by nested cross-validation
(``benchmarks/fit_ranker.py --blends``).

What the engine shows for a run the layer ranks is ``blend`` x the layer's probabilities +
(1 - blend) x the rules' (traindx.rerank.mixed); the healthy verdict is the layer's alone, so
the blend moves the ranking (top-1 / top-3), never the false alarms. 0 is the rules' ranking
with the layer's verdict, 1 the layer alone.

:func:`nested_blend` scores the choosing: for each held-out family of a field the weight is
picked on the training side alone (its other families in at most three inner folds, the
layer refitted on each inner training side; the best worst inner fold, then the best mean,
then the smaller weight: the rules' side when the folds cannot tell), then the layer is
refitted on the whole training side and the held-out family is ranked with the picked
weight. The fixed weights' outer scores are printed beside (not nested: a weight read off
them is chosen looking at the held-out families).
"""

from __future__ import annotations

import numpy as np
from differential import probabilities
from select_ranker import _frame, _inner_folds, _train, score

#: the weights compared
BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)


def rules_probs(data, rows: np.ndarray, classes: list[str]) -> np.ndarray:
    """The rules' probabilities over ``classes`` at the rulebook's calibration (what
    traindx.rerank.mixed mixes in, before the confidence maps); 0 for a non-candidate."""
    p, _ = probabilities(data.lo[rows], *[a[rows] for a in data.comp.calibration()])
    R = np.zeros((len(rows), len(classes)))
    for j, c in enumerate(classes):
        if c in data.comp.causes:
            R[:, j] = np.nan_to_num(p[:, data.comp.causes.index(c)])
    return R


def mix(P: np.ndarray, R: np.ndarray, b: float, h: int) -> np.ndarray:
    """The shown ranking at weight ``b``; p(healthy) stays the layer's."""
    M = b * P + (1.0 - b) * R
    M[:, h] = P[:, h]
    return M


def pick(top1: dict[float, list[float]]) -> float:
    """The weight with the best worst inner fold, then the best mean, then the smallest (the
    rules' side when the folds cannot tell); a weight no fold scored comes last."""
    return max(top1, key=lambda b: (min(top1[b]), float(np.mean(top1[b])), -b) if top1[b] else (-1.0, -1.0, -b))


def _fold(data, kind: str, tr: np.ndarray, te: np.ndarray, classes: list[str], opts: dict):
    """The layer fitted on ``tr`` (no inner CV: the ranking does not depend on the
    temperature's fit) and its probabilities and ``knows`` on ``te`` (healthy where no rule
    fired), or None when ``tr`` has too little to learn from."""
    from fit_ranker import knows_rows

    if len(set(data.y[tr])) < 3 or "healthy" not in set(data.y[tr]):
        return None
    m = data.fit(tr, kind, inner=0, **{k: v for k, v in opts.items() if k != "blend"})
    P = np.zeros((len(te), len(classes)))
    P[:, classes.index("healthy")] = 1.0
    sel = data.comp.alarmed[te]
    P[np.ix_(np.where(sel)[0], [classes.index(c) for c in m.classes])] = data.predict(m, te[sel])
    knows = np.zeros(len(te), dtype=bool)
    knows[sel] = knows_rows(data, m, te[sel])
    return P, knows


def nested_blend(data, kind: str, dim: str, opts: dict, blends=BLENDS) -> dict:
    """Held-out top-1 / top-3 with ``dim`` left out of the weight picked by an inner CV of
    each training side, of every fixed weight, and of the rules alone; the picks."""
    rows, classes, fam, _ = _frame(data, kind, dim)
    h = classes.index("healthy")
    R = rules_probs(data, rows, classes)
    pos = {int(i): k for k, i in enumerate(rows)}
    fixed = {b: np.zeros((len(rows), len(classes))) for b in blends}
    nest = np.zeros((len(rows), len(classes)))
    for M in (*fixed.values(), nest):
        M[:, h] = 1.0
    use = np.zeros(len(rows), dtype=bool)
    picked = {}
    for v in sorted(set(fam)):
        te = rows[fam == v]
        tr = _train(data, rows, te)
        inner = _inner_folds(data, dim, tr)
        t1: dict[float, list[float]] = {b: [] for b in blends}
        for k in sorted(set(inner)):
            ite = tr[inner == k]
            res = _fold(data, kind, _train(data, tr, ite), ite, classes, opts)
            if res is None:
                continue
            Ri = R[[pos[int(i)] for i in ite]]
            for b in blends:
                t1[b].append(score(data, ite, mix(res[0], Ri, b, h), classes, res[1])["top1"])
        best = picked[v] = pick(t1)
        res = _fold(data, kind, tr, te, classes, opts)
        if res is None:
            continue
        idx = np.where(fam == v)[0]
        use[idx] = res[1]
        for b in blends:
            fixed[b][idx] = mix(res[0], R[idx], b, h)
        nest[idx] = mix(res[0], R[idx], best, h)
    rules = score(data, rows, fixed[blends[0]], classes, np.zeros(len(rows), dtype=bool))
    out = {"rules": rules, "nested": score(data, rows, nest, classes, use), "picked": picked,
           "fixed": {b: score(data, rows, M, classes, use) for b, M in fixed.items()}}  # fmt: skip
    line = "  ".join(f"{b:g}: {s['top1']:5.1%}/{s['top3']:5.1%}" for b, s in out["fixed"].items())
    print(f"{kind:14} leave-one-{dim:9}-out  rules {rules['top1']:5.1%}/{rules['top3']:5.1%}  "
          f"NESTED blend {out['nested']['top1']:5.1%}/{out['nested']['top3']:5.1%} "
          f"(picked {', '.join(f'{k}->{p:g}' for k, p in picked.items())})  fixed weights (top-1/top-3) {line}",
          flush=True)  # fmt: skip
    return out
