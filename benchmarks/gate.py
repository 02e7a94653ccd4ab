"""The healthy / not-healthy decision measured as a detector, cross-validated by family.

For each input kind and each family field held out (benchmarks/accuracy.py's folds), prints

* the ROC point today's decision sits at: healthy recall (healthy runs called healthy: no
  cause raised) and faulty recall (faulty runs whose fault the input can show, NOT called
  healthy), from the held-out answers accuracy.py scores (rules + the learned layer refitted
  per fold);
* the held-out AUC of candidate scores of "healthy": ``current`` (the learned layer's held-out
  p(healthy) where it may clear the run, 1 where no rule fired, 0 where an alarm it cannot
  clear fired), ``logit`` (an L2 logistic regression) and ``hgb`` (scikit-learn's
  HistGradientBoosting) on the same scale-free features as the learned layer (curve shapes,
  ratios, the rules' log-odds and fired symptoms; context facts for the adapter kinds),
  ``blend`` (the mean of current's and hgb's log-odds);
* each fitted gate as a decision: its threshold chosen on the fold's training side alone (an
  inner CV by the same field: the lowest threshold whose inner held-out false alarms stay
  at most today's inner false-alarm rate, so the gate can only win by catching more faulty
  runs at equal or lower false alarms), the run called healthy when its score reaches it and
  no error-severity or ``learned_keeps`` symptom fired.

Every fit sees only the training side of its fold (no run of the held-out family nor another
recording of one of its scenarios; never a benign run).

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/gate.py [--kinds logs] [--dims style,data]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import fit_ranker  # noqa: E402
from accuracy import cv_all, load_all  # noqa: E402
from labelled import FAMILIES  # noqa: E402
from select_ranker import _inner_folds, fields  # noqa: E402

KINDS = ("logs", "torch_adapter", "keras_adapter", "jax_adapter")


def auc(score: np.ndarray, healthy: np.ndarray) -> float:
    """P(a healthy run scores above a faulty one), ties counted half (Mann-Whitney)."""
    from scipy.stats import rankdata

    n1, n0 = int(healthy.sum()), int((~healthy).sum())
    if not n1 or not n0:
        return float("nan")
    r = rankdata(score)
    return float((r[healthy].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _models(kind: str):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logit": lambda: make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced")),
        "hgb": lambda: HistGradientBoostingClassifier(max_iter=80, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20,
                                                      l2_regularization=1.0, class_weight="balanced", random_state=0),
    }  # fmt: skip


def _fit_score(make, X: np.ndarray, y: np.ndarray, Xt: np.ndarray) -> np.ndarray:
    """Held-out log-odds of healthy."""
    m = make()
    fin = np.isfinite(X)
    use = fin.any(axis=0) & (
        np.nanmax(np.where(fin, X, -np.inf), axis=0) > np.nanmin(np.where(fin, X, np.inf), axis=0)
    )
    X, Xt = X[:, use], Xt[:, use]  # a feature never varying on the training side says nothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, y)
        p = m.predict_proba(Xt)[:, list(m.classes_).index(True)]
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _threshold(score: np.ndarray, healthy: np.ndarray, fa_max: float) -> float:
    """The highest threshold (the most runs called not healthy) whose false-alarm rate on
    these healthy runs (a score under the threshold) is at most ``fa_max``."""
    hs = np.sort(score[healthy])
    if not len(hs):
        return float("inf")
    k = int(np.floor(fa_max * len(hs) + 1e-9))  # healthy runs allowed under the threshold
    return float(hs[k]) if k < len(hs) else float(hs[-1]) + 1e-9


def run_kind(data, outs_by_dim: dict, cur_by_dim: dict, kind: str, dims: list[str]) -> None:
    rows_k = np.where(data.kind == kind)[0]
    cols = data.cols(kind)
    X = data.X[:, cols]
    book = data.comp.book
    sev = {s.code: s.severity for s in book.symptoms}
    from traindx.rerank import clearable

    keep = np.array(
        [
            not clearable(book, {c for c in data.comp.fired[i] if sev[c] != "info"}, sev)
            for i in range(len(data.runs))
        ]
    )
    healthy_all = data.y == "healthy"
    scored_all = np.array(
        [
            r.cause != "healthy" and not r.benign and (r.visible or r.input_kind != "logs")
            for r in data.runs
        ]
    )
    models = _models(kind)
    print(
        f"\n== {kind}: {int((healthy_all[rows_k]).sum())} healthy, {int(scored_all[rows_k].sum())} faulty (scored) ==",
        flush=True,
    )
    print(
        f"   {'held out':10} {'decision':9} {'h-recall':>8} {'f-recall':>8} {'FA':>6} {'missed':>7}   AUC: "
        + " ".join(f"{n:>7}" for n in ("current", "logit", "hgb", "blend"))
    )
    for dim in dims:
        if dim not in fields(data, kind):
            continue
        outs = {o.run: o for o in outs_by_dim[dim] if o.input_kind == kind}
        said = np.array([not outs[data.runs[i].path].alarmed for i in rows_k])  # no cause raised
        cur = cur_by_dim[dim].get(kind)
        if cur is None:  # rules alone: 1 no alarm, 0 an alarm
            cur = said.astype(float)
        fam = data.fam[dim][rows_k]
        S = {n: np.full(len(rows_k), np.nan) for n in models}
        thr = {n: np.full(len(rows_k), np.nan) for n in models}
        for v in sorted(set(fam)):
            te = rows_k[fam == v]
            tr = rows_k[(fam != v) & ~np.isin(data.scen[rows_k], data.scen[te]) & data.ok[rows_k]]
            ytr = healthy_all[tr]
            if ytr.sum() < 5 or (~ytr).sum() < 5:
                continue
            inner = _inner_folds(data, dim, tr)
            for n, make in models.items():
                S[n][fam == v] = _fit_score(make, X[tr], ytr, X[te])
                # the threshold from an inner CV of the training side, at today's inner FA
                si = np.full(len(tr), np.nan)
                for f in sorted(set(inner)):
                    a, b = tr[inner != f], tr[inner == f]
                    if healthy_all[a].sum() >= 3 and (~healthy_all[a]).sum() >= 3:
                        si[inner == f] = _fit_score(make, X[a], healthy_all[a], X[b])
                ok = np.isfinite(si)
                pos = np.searchsorted(rows_k, tr)
                fa_today = float(np.mean(~said[pos][ok & ytr])) if (ok & ytr).any() else 0.03
                thr[n][fam == v] = _threshold(si[ok], ytr[ok], fa_today)
        h = healthy_all[rows_k]
        f = scored_all[rows_k]
        ev = h | f
        blend = np.where(
            np.isfinite(S["hgb"]),
            0.5 * S["hgb"] + 0.5 * np.log(np.clip(cur, 1e-6, 1) / np.clip(1 - cur, 1e-6, 1)),
            np.nan,
        )
        aucs = [auc(cur[ev], h[ev])] + [
            auc(np.nan_to_num(s[ev], nan=0.0), h[ev]) for s in (S["logit"], S["hgb"], blend)
        ]

        def row(
            name: str, said_: np.ndarray, dim: str = dim, h: np.ndarray = h, f: np.ndarray = f
        ) -> str:
            return (f"   {dim:10} {name:9} {said_[h].mean():8.1%} {(~said_[f]).mean():8.1%} {(~said_[h]).mean():6.1%} "
                    f"{int(said_[f].sum()):>3}/{int(f.sum()):<3}")  # fmt: skip

        print(row("today", said) + "   " + " ".join(f"{a:7.3f}" for a in aucs), flush=True)
        for n in models:
            g = np.isfinite(S[n]) & np.isfinite(thr[n])
            gsaid = np.where(g, S[n] >= np.nan_to_num(thr[n], nan=np.inf), said) & ~keep[rows_k]
            print(row(f"gate {n}", gsaid), flush=True)
            per = [
                f"{v}: FA {(~gsaid[h & (fam == v)]).sum()}/{(h & (fam == v)).sum()} "
                f"miss {gsaid[f & (fam == v)].sum()}/{(f & (fam == v)).sum()}"
                for v in sorted(set(fam))
            ]
            print("      per held-out value: " + "; ".join(per))
        per = []
        for v in sorted(set(fam)):
            m = fam == v
            if (h & m).any() or (f & m).any():
                per.append(
                    f"{v}: FA {(~said[h & m]).sum()}/{(h & m).sum()} miss {said[f & m].sum()}/{(f & m).sum()}"
                )
        print("      today per held-out value: " + "; ".join(per))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--dims", default=",".join(FAMILIES))
    args = ap.parse_args(argv)
    runs, book, comp, learned = load_all()
    data = learned["data"] if learned else fit_ranker.Data(runs, book, comp)
    dims = args.dims.split(",")
    # today's held-out answers, and the learned layer's held-out p(healthy) captured as it is computed
    captured: dict = {}
    orig = fit_ranker.cv_predict

    def spy(d, kind, dim, **kw):
        P, thr, rows, classes, knows = orig(d, kind, dim, **kw)
        captured[kind] = (P[:, classes.index("healthy")], rows, knows)
        return P, thr, rows, classes, knows

    fit_ranker.cv_predict = spy
    outs_by_dim, cur_by_dim = {}, {}
    sev = {s.code: s.severity for s in book.symptoms}
    from traindx.rerank import clearable

    for dim in dims:
        captured.clear()
        outs_by_dim[dim] = cv_all(runs, comp, learned, dim)
        cur_by_dim[dim] = {}
        for kind, (ph, rows, knows) in captured.items():
            alarmed = comp.alarmed[rows]
            clear = np.array(
                [clearable(book, {c for c in comp.fired[i] if sev[c] != "info"}, sev) for i in rows]
            )
            cur_by_dim[dim][kind] = np.where(~alarmed, 1.0, np.where(knows & clear, ph, 0.0))
    fit_ranker.cv_predict = orig
    for kind in args.kinds.split(","):
        run_kind(data, outs_by_dim, cur_by_dim, kind, dims)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
