"""Model selection for the learned ranking layer (``benchmarks/fit_ranker.py --select``).

Every candidate (regularization C, feature set, class weighting, how the rules' log-odds
enter) is refitted inside every leave-one-family-out fold of every family field and scored
on the held-out family: top-1 / top-3 of the ranking over faulty runs a rule fired on (the
healthy verdict aside: it is fitted separately, see :func:`tradeoff`), where the engine lets
the fold's layer rank (traindx.rerank.knows; elsewhere the rules' ranking counts), and the
AUC of p(healthy) between healthy and faulty runs a rule fired on. ``rules`` is the rules
alone, the reference a layer must beat.

The choice is made by the worst field (and leave-one-style-out, the closest proxy to runs
never seen), never by the mean; :func:`nested` scores the choosing itself: for a held-out
family the candidate is picked on its training side alone (inner leave-one-family-out over
the field's other values), so the held-out family is never seen by the selection.
"""

from __future__ import annotations

import numpy as np
from labelled import FAMILIES

#: the candidates compared (fit options of benchmarks/ranker.fit); 'current' is the shipped
#: layer's method before issue 10's selection
CANDIDATES: dict[str, dict] = {
    "current": {"C": 0.05, "offset": True, "features": "all"},
    "all C.01": {"C": 0.01, "offset": True, "features": "all"},
    "all C.003": {"C": 0.003, "offset": True, "features": "all"},
    "no-levels C.01": {"C": 0.01, "offset": True, "features": "no-levels"},
    "all fixed C.01": {"C": 0.01, "offset": "fixed", "features": "all"},
    "all fixed C.003": {"C": 0.003, "offset": "fixed", "features": "all"},
    "symptoms C.05": {"C": 0.05, "offset": True, "features": "symptoms"},
    "symptoms+has C.05": {"C": 0.05, "offset": True, "features": "symptoms+has"},
    "symptoms fixed C.05": {"C": 0.05, "offset": "fixed", "features": "symptoms"},
    "all C.01 sqrt-weights": {"C": 0.01, "offset": True, "features": "all", "weighting": "sqrt"},
    "all C.01 sqrt-causes": {"C": 0.01, "offset": True, "features": "all", "weighting": "sqrt-causes"},
    "all C.05 sqrt-causes": {"C": 0.05, "offset": True, "features": "all", "weighting": "sqrt-causes"},
    "all C.02 sqrt-causes": {"C": 0.02, "offset": True, "features": "all", "weighting": "sqrt-causes"},
    "all C.05 sqrt-weights": {"C": 0.05, "offset": True, "features": "all", "weighting": "sqrt"},
    "all C.01 balanced": {"C": 0.01, "offset": True, "features": "all", "weighting": "balanced"},
    "no-levels C.01 sqrt-weights": {"C": 0.01, "offset": True, "features": "no-levels", "weighting": "sqrt"},
}


def fields(data, kind: str) -> list[str]:
    """The family fields with at least two values among the kind's runs (others have no fold)."""
    rows = data.kind == kind
    return [f for f in FAMILIES if len(set(data.fam[f][rows])) > 1]


def _inner_folds(data, dim: str, tr: np.ndarray) -> np.ndarray:
    """The inner fold (0..2) of each training row: the field's values on the training side
    spread over at most three folds, a value never split."""
    vals = sorted(set(data.fam[dim][tr]))
    fold_of = {u: i % 3 for i, u in enumerate(vals)}
    return np.array([fold_of[u] for u in data.fam[dim][tr]])


def _train(data, rows: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Training rows for a held-out set: not held out, no recording of a held-out scenario,
    trainable."""
    return rows[~np.isin(rows, test) & ~np.isin(data.scen[rows], data.scen[test]) & data.ok[rows]]


def _frame(data, kind: str, dim: str) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """The runs of ``kind``, their classes, their family values of ``dim`` and a probability
    table that says healthy until a fold fills it in."""
    rows = np.where(data.kind == kind)[0]
    classes = sorted(set(data.y[rows][data.ok[rows]]))
    P = np.zeros((len(rows), len(classes)))
    P[:, classes.index("healthy")] = 1.0
    return rows, classes, data.fam[dim][rows], P


def outer(data, kind: str, dim: str, opts: dict) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Held-out (probabilities, whether the fold's layer ranks the run, classes) of every run
    of ``kind`` with ``dim`` left out family by family (no temperature: the ranking and the
    AUC do not depend on it)."""
    from fit_ranker import knows_rows

    rows, classes, fam, P = _frame(data, kind, dim)
    knows = np.zeros(len(rows), dtype=bool)
    for v in sorted(set(fam)):
        te = rows[fam == v]
        tr = _train(data, rows, te)
        if len(set(data.y[tr])) < 3 or "healthy" not in set(data.y[tr]):
            continue
        m = data.fit(tr, kind, inner=0, **opts)
        sel = (fam == v) & data.comp.alarmed[rows]
        P[np.ix_(np.where(sel)[0], [classes.index(c) for c in m.classes])] = data.predict(m, rows[sel])
        knows[sel] = knows_rows(data, m, rows[sel])
    return P, knows, classes


def rules_P(data, rows: np.ndarray, classes: list[str]) -> np.ndarray:
    """The rules' ranking as scores over ``classes`` (healthy where no rule fired)."""
    P = np.full((len(rows), len(classes)), -np.inf)
    idx = {c: j for j, c in enumerate(classes)}
    for k, i in enumerate(rows):
        for c, v in zip(data.comp.causes, data.lo[i], strict=True):
            if np.isfinite(v) and c in idx:
                P[k, idx[c]] = v
        P[k, idx["healthy"]] = -np.inf if data.comp.alarmed[i] else np.inf
    return P


def score(data, rows: np.ndarray, P: np.ndarray, classes: list[str], use: np.ndarray) -> dict:
    """top-1 / top-3 of the ranking (the layer's where ``use``, the rules' elsewhere) over the
    scored faulty runs, and the AUC of p(healthy) (healthy vs faulty, runs a rule fired on)."""
    R = rules_P(data, rows, classes)
    h = classes.index("healthy")
    y = data.y[rows]
    alarmed = data.comp.alarmed[rows]
    scored = (y != "healthy") & (data.visible[rows] | (data.kind[rows] != "logs"))
    cl = np.array(classes)
    top1 = np.zeros(len(rows), dtype=bool)
    top3 = np.zeros(len(rows), dtype=bool)
    for k in np.where(scored & alarmed)[0]:
        s = (P[k] if use[k] else R[k]).copy()
        s[h] = -np.inf
        order = cl[np.argsort(-s, kind="stable")][:3]
        top1[k] = order[0] == y[k] and np.isfinite(s[classes.index(order[0])])
        top3[k] = y[k] in order
    ph = np.where(use, P[:, h], 0.0)  # where the rules rank, a fired rule is a finding
    hv, fv = ph[alarmed & (y == "healthy")], ph[alarmed & scored]
    auc = float(((hv[:, None] > fv[None, :]) + 0.5 * (hv[:, None] == fv[None, :])).mean()) if len(hv) and len(fv) else float("nan")
    return {"top1": float(top1[scored].mean()), "top3": float(top3[scored].mean()), "auc": auc,
            "n": int(scored.sum()), "left": float(1 - use[alarmed].mean()) if alarmed.any() else 0.0}  # fmt: skip


def table(data, kind: str, names: list[str], domain: str = "knows") -> dict:
    """{candidate: {field: score}} and the held-out predictions behind them. ``domain``:
    'knows' (the engine's rule: the layer ranks where rerank.knows), 'all' (wherever a rule
    fired), 'rules' (never)."""
    out, preds = {}, {}
    for dim in fields(data, kind):
        rows = np.where(data.kind == kind)[0]
        for name in names:
            if name == "rules":
                classes = sorted(set(data.y[rows][data.ok[rows]]))
                s = score(data, rows, np.zeros((len(rows), len(classes))), classes, np.zeros(len(rows), dtype=bool))
            else:
                P, knows, classes = preds[name, dim] = outer(data, kind, dim, CANDIDATES[name])
                s = score(data, rows, P, classes, domains(data, rows, knows)[domain])
                s["domains"] = {d: score(data, rows, P, classes, u)["top1"] for d, u in domains(data, rows, knows).items()}
            if dim == "style":  # the Q&A-style programs alone: the closest proxy to unseen runs
                qa = data.fam[dim][rows] == "qa"
                use = np.zeros(len(rows), dtype=bool) if name == "rules" else domains(data, rows, knows)[domain]
                P_ = np.zeros((len(rows), len(classes))) if name == "rules" else P
                s["qa"] = score(data, rows[qa], P_[qa], classes, use[qa])["top1"] if qa.any() else float("nan")
            out.setdefault(name, {})[dim] = s
            other = "  ".join(f"{d} {t:5.1%}" for d, t in s.get("domains", {}).items() if d != domain)
            print(f"{kind:14} {name:22} leave-one-{dim:9}-out: top1 {s['top1']:6.1%} top3 {s['top3']:6.1%} "
                  f"AUC(healthy) {s['auc']:.3f}  left to rules {s['left']:5.1%}  (faulty {s['n']})"
                  + (f"  held-out qa top1 {s['qa']:5.1%}" if "qa" in s else "")
                  + (f"  top1 by domain: {other}" if other else ""), flush=True)  # fmt: skip
    return {"scores": out, "preds": preds}


def domains(data, rows: np.ndarray, knows: np.ndarray) -> dict[str, np.ndarray]:
    """Where the layer may rank: 'knows' (the engine's rule, traindx.rerank.knows), 'wider'
    (wherever a rule fired), 'narrower' (where it knows and the rules' leading cause has
    less than half the rules' probability: a confident rules' answer stands)."""
    alarmed = data.comp.alarmed[rows]
    lo = data.lo[rows]
    with np.errstate(invalid="ignore"):
        top = np.where(np.isfinite(lo), lo, -np.inf).max(axis=1, keepdims=True)
        p_top = 1.0 / (np.where(np.isfinite(lo), np.exp(lo - top), 0.0).sum(axis=1) + data.comp.book.unknown_prior * np.exp(-top[:, 0]))
    return {"knows": knows, "wider": alarmed, "narrower": knows & (np.nan_to_num(p_top) < 0.5)}


def choose(scores: dict[str, dict[str, dict]], fields_: list[str]) -> str:
    """The candidate with the best worst-field top-1 (ties: leave-one-style-out, then mean)."""
    def key(name: str):
        s = scores[name]
        t = [s[f]["top1"] for f in fields_ if f in s]
        return (round(min(t), 3), s.get("style", {}).get("top1", 0.0), float(np.mean(t)))

    return max(scores, key=key)


def nested(data, kind: str, dim: str, names: list[str]) -> dict:
    """The selection itself cross-validated: for each held-out family of ``dim`` the
    candidate with the best worst inner fold (the field's other values in at most three
    folds, on the training side only) is refitted on the training side and scored on the
    held-out family. Returns the score and the choice per held-out family."""
    from fit_ranker import knows_rows

    rows, classes, fam, P = _frame(data, kind, dim)
    use = np.zeros(len(rows), dtype=bool)
    picked = {}
    for v in sorted(set(fam)):
        te = rows[fam == v]
        tr = _train(data, rows, te)
        inner_fold = _inner_folds(data, dim, tr)
        best, best_key = names[0], None
        for name in names:
            t1 = []
            for k in sorted(set(inner_fold)):
                ite = tr[inner_fold == k]
                itr = _train(data, tr, ite)
                if len(set(data.y[itr])) < 3 or "healthy" not in set(data.y[itr]):
                    continue
                m = data.fit(itr, kind, inner=0, **CANDIDATES[name])
                Q = np.zeros((len(ite), len(classes)))
                Q[:, classes.index("healthy")] = 1.0
                sel = data.comp.alarmed[ite]
                Q[np.ix_(np.where(sel)[0], [classes.index(c) for c in m.classes])] = data.predict(m, ite[sel])
                kn = np.zeros(len(ite), dtype=bool)
                kn[sel] = knows_rows(data, m, ite[sel])
                t1.append(score(data, ite, Q, classes, kn)["top1"])
            key = (min(t1), float(np.mean(t1))) if t1 else (-1.0, -1.0)
            if best_key is None or key > best_key:
                best, best_key = name, key
        picked[v] = best
        m = data.fit(tr, kind, inner=0, **CANDIDATES[best])
        sel = (fam == v) & data.comp.alarmed[rows]
        P[np.ix_(np.where(sel)[0], [classes.index(c) for c in m.classes])] = data.predict(m, rows[sel])
        use[sel] = knows_rows(data, m, rows[sel])
    s = score(data, rows, P, classes, use)
    print(f"{kind:14} {'NESTED selection':22} leave-one-{dim:9}-out: top1 {s['top1']:6.1%} top3 {s['top3']:6.1%} "
          f"AUC(healthy) {s['auc']:.3f}  picked: {', '.join(f'{k}->{p}' for k, p in picked.items())}", flush=True)  # fmt: skip
    return {"score": s, "picked": picked}


#: false-alarm costs (against one faulty run called healthy) the threshold is fitted at
COSTS = (3.0, 10.0, 40.0)
#: rulebook/verdict.yaml healthy_over_fault values tried beside the threshold
HEALTHY_OVER_FAULT = (0.25, 0.5, 1.0, 2.0, 4.0)


def tradeoff(data, kind: str, dim: str, opts: dict, costs=COSTS, over=HEALTHY_OVER_FAULT) -> dict:
    """The healthy verdict's trade-off, held out by ``dim``: for each false-alarm cost the
    fold's threshold is fitted on its training side's inner CV (as ``--write`` fits the
    shipped one) and applied to the held-out family with the engine's other conditions
    (p(healthy) >= ``healthy_over_fault`` x the likeliest fault's, rulebook/verdict.yaml;
    clearable alarms; the layer ranks the run at all). Returns {(cost, healthy_over_fault):
    (false alarms on healthy runs, faulty runs called healthy)}."""
    from fit_ranker import knows_rows
    from ranker import healthy_threshold

    from traindx.rerank import clearable

    book = data.comp.book
    sev = {s.code: s.severity for s in book.symptoms}
    rows = np.where(data.kind == kind)[0]
    fam = data.fam[dim][rows]
    y = data.y[rows]
    healthy = y == "healthy"
    scored = ~healthy & (data.visible[rows] | (data.kind[rows] != "logs"))
    grid = [(c, o) for c in costs for o in over]
    said = {g: np.zeros(len(rows), dtype=bool) for g in grid}
    floor = np.zeros(len(rows), dtype=bool)  # alarmed runs the layer may not call healthy
    for v in sorted(set(fam)):
        te = rows[fam == v]
        tr = _train(data, rows, te)
        if len(set(data.y[tr])) < 3 or "healthy" not in set(data.y[tr]):
            continue
        m = data.fit(tr, kind, **dict(opts, fa_cost=costs[0]))
        sel = np.where((fam == v) & data.comp.alarmed[rows])[0]
        P = data.predict(m, rows[sel])
        h = m.classes.index("healthy")
        ph, pf = P[:, h], np.delete(P, h, axis=1).max(axis=1)
        ok = knows_rows(data, m, rows[sel]) & np.array(
            [clearable(book, {c for c in data.comp.fired[i] if sev[c] != "info"}, sev) for i in rows[sel]], dtype=bool)
        floor[sel] = ~ok
        for c, o in grid:
            said[c, o][sel] = ok & (ph >= healthy_threshold(*m.inner_ph, c)) & (ph >= o * pf)
    out = {}
    print(f"{kind:14} leave-one-{dim:9}-out  false alarms no threshold can clear (an error or learned_keeps "
          f"symptom, or the layer does not rank the run): {floor[healthy].mean():6.1%}")  # fmt: skip
    for c, o in grid:
        # a healthy run nothing fired on is called healthy (rulebook requirements aside)
        called = said[c, o] | ~data.comp.alarmed[rows]
        out[c, o] = (float((~called[healthy]).mean()), float(said[c, o][scored].mean()))
        print(f"{kind:14} leave-one-{dim:9}-out  false-alarm cost {c:4g} healthy_over_fault {o:3g}: "
              f"false alarms {out[c, o][0]:6.1%}  faulty called healthy {out[c, o][1]:6.1%}", flush=True)  # fmt: skip
    return out


#: feature groups dropped one at a time by :func:`ablate`
GROUPS = ("has", "levels", "loss", "val_loss", "quality", "val_quality", "gap", "chance", "lr", "ce_bound", "test")


def ablate(data, kind: str, opts: dict, dims=("writer", "style"), groups=GROUPS) -> dict:
    """Style leakage check: each feature group dropped in turn, top-1 per field held out
    against the full set. A group whose removal lowers leave-one-writer-out but raises
    leave-one-style-out learned how the generator's runs look, not what failed."""
    base = {d: score(data, np.where(data.kind == kind)[0], *_pk(outer(data, kind, d, opts)))["top1"] for d in dims}
    out = {}
    for g in groups:
        o = dict(opts, features=f"all-{g}")
        out[g] = {d: score(data, np.where(data.kind == kind)[0], *_pk(outer(data, kind, d, o)))["top1"] - base[d] for d in dims}
        print(f"{kind:14} without {g:12} top-1 change: " + "  ".join(f"leave-one-{d}-out {v:+6.1%}" for d, v in out[g].items())
              + ("   <- style leakage" if out[g].get("writer", 0) < -0.003 and out[g].get("style", 0) > 0.003 else ""),
              flush=True)  # fmt: skip
    return out


def _pk(res):
    P, knows, classes = res
    return P, classes, knows
