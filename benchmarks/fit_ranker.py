"""Fit the learned ranking layer per input kind, cross-validated by family, and write it.

For each input kind (log-only runs, the torch adapter, ...) the layer (benchmarks/ranker.py:
multinomial logistic regression over curve facts, context facts and fired symptoms, with the
rules' log-probabilities as an offset) is refitted inside every leave-one-family-out fold on
the training side only (no run of the held-out family, nor another recording of one of its
scenarios), with its temperature and healthy threshold from an inner CV of that training
side. How it is fitted (C, feature set, class weighting, offset form, false-alarm cost) is
data: the ``meta`` of the shipped file rulebook/learned/<kind>.json, chosen by ``--select``
(benchmarks/select_ranker.py: every candidate per kind and field held out, the choice by
the worst field and leave-one-style-out, the choosing itself cross-validated by ``--nested``).
A kind with no file is ranked by the rules alone (the torch adapter: see --select).

THE FULL REFIT (after rule or signal changes), two commands, nothing else:

    python benchmarks/fit_ranker.py --write      # each shipped kind refitted with its file's options
    python benchmarks/calibrate.py --write       # the confidence maps on the new layer's answers

Other uses:

    python benchmarks/fit_ranker.py                              # CV of the shipped options
    python benchmarks/fit_ranker.py --select --kinds logs,torch_adapter --tradeoff
    python benchmarks/fit_ranker.py --ablate --dims writer,style    # style leakage per feature group
    python benchmarks/fit_ranker.py --blends --dims style,framework # the blend weight by nested CV
    python benchmarks/fit_ranker.py --write --ship logs --candidate 'all C.01'   # ship a new choice
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# one BLAS thread: the fits are small, and threads that spin on a shared 2-core machine cost
# 30x more CPU time than they save
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from differential import Compiled  # noqa: E402
from labelled import CACHE, FAMILIES, ROOT, Labelled, load  # noqa: E402
from ranker import catalogue, design, fit, model_proba  # noqa: E402

from traindx.rules.loader import load_rulebook  # noqa: E402

KINDS = ("logs", "torch_adapter", "keras_adapter", "jax_adapter")
OUT = ROOT / "rulebook" / "learned"


def trainable(runs: list[Labelled]) -> np.ndarray:
    """Runs a model may learn from: healthy ones and faults their input can show (never a
    benign run: a fault present that did not hurt, where healthy and the cause are both right)."""
    return np.array([not r.benign and (r.cause == "healthy" or r.visible or r.input_kind != "logs") for r in runs])


class Data:
    """The design matrix of all runs (features of the widest catalogue)."""

    def __init__(self, runs: list[Labelled], book, comp: Compiled | None = None) -> None:
        self.runs = runs
        self.comp = comp or Compiled.cached(book, [r.facts for r in runs], CACHE)
        self.lo = self.comp.log_odds(self.comp.theta0)
        self.names = catalogue(book, with_ctx=True)
        self.X = design([r.facts for r in runs], self.lo, self.comp.fired, self.comp.causes, book.unknown_prior, self.names)
        self.y = np.array([r.cause for r in runs])
        self.kind = np.array([r.input_kind for r in runs])
        self.scen = np.array([r.scenario for r in runs])
        self.ok = trainable(runs)
        self.fam = {f: np.array([r.family(f) for r in runs]) for f in FAMILIES}
        self.visible = np.array([r.visible for r in runs])

    def cols(self, kind: str) -> np.ndarray:
        logs = kind == "logs"
        return np.array([not (logs and (n.startswith("ctx.") or n == "has:ctx")) for n in self.names])

    def fit(self, rows: np.ndarray, kind: str, **kw):
        """The layer fitted on ``rows`` (it is applied only where a rule fired: it weighs
        the rules' findings, which cause or healthy after all, and never alarms on its own)."""
        cols = self.cols(kind)
        names = [n for n, c in zip(self.names, cols, strict=True) if c]
        by = kw.pop("inner_by", "scenario")
        groups = self.scen[rows] if by == "scenario" else self.fam[by][rows]
        return fit(self.X[rows][:, cols], self.y[rows], names, kind=kind, groups=groups, inner_by=by,
                   scenarios=self.scen[rows], **kw)  # fmt: skip

    def predict(self, model, rows: np.ndarray) -> np.ndarray:
        return model_proba(model, self.X[rows], self.names)


def knows_rows(data: Data, model, rows: np.ndarray) -> np.ndarray:
    """Per row, whether the engine lets ``model`` rank it (traindx.rerank.knows: every alarm
    symptom is one of its features, the rules' leading cause one of its classes, and no
    evidence reading one of the run's ``ctx`` facts was weighed unless the layer has context
    features)."""
    from traindx.rerank import ranks_nothing

    syms = {f[4:] for f in model.features if f.startswith("sym:")}
    sev = {s.code: s.severity for s in data.comp.book.symptoms}
    out = np.zeros(len(rows), dtype=bool)
    for k, i in enumerate(rows):
        alarms = {c for c in data.comp.fired[i] if sev[c] != "info" and not ranks_nothing(data.comp.book, c)}  # as the engine
        finite = np.isfinite(data.lo[i])
        top = data.comp.causes[int(np.argmax(np.where(finite, data.lo[i], -np.inf)))] if finite.any() else None
        context = not any(f.startswith("ctx.") for f in model.features) and data.comp.context_weighed(int(i), data.runs[int(i)].facts.get("ctx") or {})
        out[k] = alarms <= syms and (top is None or top in model.classes) and not context
    return out


def cv_predict(data: Data, kind: str, dim: str, **kw) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Held-out (probabilities over all classes of the kind, healthy thresholds, rows,
    classes, whether the fold's layer ranks the row at all) of every run of ``kind`` with
    ``dim`` left out family by family. Each fold's layer is fitted on its training side
    only, temperature and healthy threshold included (an inner CV of that side), exactly as
    ``--write`` fits the shipped one."""
    rows = np.where(data.kind == kind)[0]
    classes = sorted(set(data.y[rows][data.ok[rows]]))
    h = classes.index("healthy")
    fam = np.array([data.runs[i].family(dim) for i in rows])
    P = np.zeros((len(rows), len(classes)))
    P[:, h] = 1.0  # a fold with nothing to learn from says healthy (no claim)
    thr = np.full(len(rows), 0.5)
    knows = np.zeros(len(rows), dtype=bool)
    for v in sorted(set(fam)):
        te = rows[fam == v]
        tr = rows[(fam != v) & ~np.isin(data.scen[rows], data.scen[te]) & data.ok[rows]]
        if len(set(data.y[tr])) < 3 or "healthy" not in set(data.y[tr]):
            continue
        m = data.fit(tr, kind, **kw)
        sel = (fam == v) & data.comp.alarmed[rows]  # no rule fired: healthy, as the rules say
        P[np.ix_(np.where(sel)[0], [classes.index(c) for c in m.classes])] = data.predict(m, rows[sel])
        thr[fam == v] = m.healthy_threshold
        knows[sel] = knows_rows(data, m, rows[sel])
    return P, thr, rows, classes, knows


def scores(data: Data, P: np.ndarray, thr: np.ndarray, rows: np.ndarray, classes: list[str]) -> dict:
    from traindx.rerank import clearable

    h = classes.index("healthy")
    sev = {s.code: s.severity for s in data.comp.book.symptoms}
    ok = np.array([clearable(data.comp.book, {c for c in data.comp.fired[i] if sev[c] != "info"}, sev) for i in rows])
    y = data.y[rows]
    scored = np.array([data.runs[i].cause != "healthy" and not data.runs[i].benign and (data.runs[i].visible or data.runs[i].input_kind != "logs") for i in rows])
    Q = P.copy()
    Q[:, h] = -1
    said = (P[:, h] >= thr) & (P[:, h] >= data.comp.book.healthy_over_fault * Q.max(axis=1)) & ok
    order = np.argsort(-Q, axis=1)
    cl = np.array(classes)
    top1 = (~said) & (cl[order[:, 0]] == y)
    top3 = (~said) & np.array([y[i] in cl[order[i, :3]] for i in range(len(y))])
    healthy = y == "healthy"
    conf = np.where(said, 0.0, Q.max(axis=1))
    wrong80 = int(((conf >= 0.8) & ~top1 & (scored | healthy)).sum())
    return {
        "n": int(scored.sum()), "top1": float(top1[scored].mean()), "top3": float(top3[scored].mean()),
        "fa": float((~said[healthy]).mean()) if healthy.any() else float("nan"), "h": int(healthy.sum()),
        "w80": wrong80,
    }  # fmt: skip


#: a kind with no shipped file (the adapters: no layer gained held out, see
#: benchmarks/accuracy.py --held-out-adapters) is tried with the log-only layer's mixture
UNSHIPPED_BLEND = 0.5
#: the fit's defaults where the shipped file's meta does not name them (a file fitted before
#: they existed): the bound on each class's facts correction and the quantile every graded
#: feature is held to (ranker.fit); benchmarks/select_bound.py compares them by CV. Not
#: shipped: bound 5 (accuracy.py --kinds logs --dims writer, main 240d1ce, same load) cut the
#: 1e4-1e5 factors and ECE 0.038 -> 0.027 but cost top-1 34.9 -> 32.5 %, top-3 52.2 -> 51.8 %
BOUND: float | None = None
WINSOR = 0.0
#: the hold on every standardized feature (ranker.fit ``zclip``) where the file's meta does
#: not name one (the next ``--write`` records it); benchmarks/select_bound.py compares values
#: by CV. 4 with the bounded relative facts (traindx.signals.curve ZERO_SHARE/QUALITY_FLOOR),
#: accuracy.py --kinds logs --dims writer against main 513c564, same load: top-1 36.3 -> 37.4 %,
#: top-3 54.1 -> 55.3 %, FA 2.3 -> 2.1 %, ECE 0.037 -> 0.030, w@80 0 -> 0 (other values untried)
ZCLIP: float | None = 4.0


def options(model) -> dict:
    """The fit options a shipped model file records (its ``meta``): what ``--write`` and
    benchmarks/accuracy.py refit it with (None: the defaults, blend UNSHIPPED_BLEND)."""
    meta = model.meta if model else {"blend": UNSHIPPED_BLEND}
    offset = {"fit": True, "fixed": "fixed", "none": False}.get(meta.get("offset"), bool(model.offset_weight) if model else True)
    weighting = meta.get("weighting")
    return {"C": meta.get("C", 0.05), "fa_cost": meta.get("fa_cost", 10.0), "offset": offset,
            "features": meta.get("features", "all"), "weighting": None if weighting in (None, "none") else weighting,
            "inner_by": meta.get("inner_by", "scenario"), "blend": float(meta.get("blend", 1.0)),
            "bound": meta.get("bound", BOUND), "winsor": float(meta.get("winsor", WINSOR)),
            "zclip": meta.get("zclip", ZCLIP)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from select_ranker import CANDIDATES, ablate, choose, fields, nested, table, tradeoff

    from traindx.learned import load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default="", help="input kinds (default: the kinds with a shipped model file)")
    ap.add_argument("--dims", default=",".join(FAMILIES))
    ap.add_argument("--candidate", default="", help=f"fit options by name ({'; '.join(CANDIDATES)}); default: the shipped file's")
    ap.add_argument("--fa-cost", type=float, help="cost of a false alarm against a faulty run called healthy")
    ap.add_argument("--blend", type=float, help="weight of the layer's probabilities against the rules' in what is shown (1: the layer alone)")
    ap.add_argument("--inner-by", help="the inner CV's folds (temperature, healthy threshold): 'scenario' or a family field")
    ap.add_argument("--select", action="store_true", help="compare the candidates by CV, field by field, and choose")
    ap.add_argument("--candidates", default="", help="with --select: '|'-separated names (default all)")
    ap.add_argument("--nested", default="style", help="with --select: fields whose selection is itself cross-validated")
    ap.add_argument("--tradeoff", action="store_true", help="false alarms vs faulty runs called healthy per false-alarm cost")
    ap.add_argument("--ablate", action="store_true", help="each feature group dropped in turn, per field (style leakage)")
    ap.add_argument("--blends", action="store_true", help="the blend weight picked by nested CV, per field of --dims (select_blend.py)")
    ap.add_argument("--write", action="store_true", help="refit and write the model files of --ship")
    ap.add_argument("--ship", default="", help="kinds to write (default: the kinds with a shipped model file)")
    args = ap.parse_args(argv)
    shipped = [p.stem for p in sorted(OUT.glob("*.json"))]
    kinds = [k for k in args.kinds.split(",") if k] or shipped

    def opts_for(kind: str, name: str = "") -> dict:
        """A candidate's ranking options (default: the shipped file's) with the verdict's
        (false-alarm cost, inner folds) from the file unless given."""
        shipped_opts = options(load_model(OUT, kind))
        o = dict(CANDIDATES[name or args.candidate]) if (name or args.candidate) else dict(shipped_opts)
        o.setdefault("fa_cost", shipped_opts["fa_cost"])
        o.setdefault("inner_by", shipped_opts["inner_by"])
        o.setdefault("blend", shipped_opts["blend"])
        return o | {k: v for k, v in (("fa_cost", args.fa_cost), ("inner_by", args.inner_by), ("blend", args.blend)) if v is not None}

    book = load_rulebook()
    data = Data(load(), book)
    chosen = {}
    for kind in kinds:
        if args.select:
            names = ["rules", *(args.candidates.split("|") if args.candidates else CANDIDATES)]
            sc = table(data, kind, names)["scores"]
            fs = fields(data, kind)
            best = choose({n: v for n, v in sc.items() if n != "rules"}, fs)
            worst = {n: min(v[f]["top1"] for f in fs) for n, v in sc.items()}
            print(f"{kind}: chosen by the worst field's top-1 (then leave-one-style-out): {best!r} "
                  f"(worst {worst[best]:.1%}, leave-one-style-out {sc[best].get('style', {}).get('top1', float('nan')):.1%}; "
                  f"rules alone worst {worst['rules']:.1%})", flush=True)  # fmt: skip
            chosen[kind] = best
            for dim in filter(None, args.nested.split(",")):
                if dim in fs:
                    nested(data, kind, dim, [n for n in names if n != "rules"])
        elif args.blends:
            from select_blend import nested_blend

            for dim in filter(None, args.dims.split(",")):
                if dim in fields(data, kind):
                    nested_blend(data, kind, dim, opts_for(kind))
        elif not (args.ablate or args.tradeoff or args.write):
            for dim in filter(None, args.dims.split(",")):
                if dim not in fields(data, kind):
                    continue
                P, thr, rows, classes, knows = cv_predict(data, kind, dim, **opts_for(kind))
                s = scores(data, P, thr, rows, classes)
                print(f"{kind:14} leave-one-{dim:9} out: top1 {s['top1']:6.1%} top3 {s['top3']:6.1%} "
                      f"FA {s['fa']:6.1%} w@80 {s['w80']:3}  (faulty {s['n']}, healthy {s['h']}; layer only, "
                      f"before knows/confidence maps)", flush=True)  # fmt: skip
        o = opts_for(kind, chosen.get(kind, ""))
        if args.ablate:
            ablate(data, kind, o)
        if args.tradeoff:
            for dim in filter(None, args.dims.split(",")):
                if dim in fields(data, kind):
                    tradeoff(data, kind, dim, o)
    if args.write:
        OUT.mkdir(parents=True, exist_ok=True)
        for kind in [k for k in args.ship.split(",") if k] or shipped:
            o = opts_for(kind, "" if args.candidate else chosen.get(kind, ""))
            rows = np.where((data.kind == kind) & data.ok)[0]
            m = data.fit(rows, kind, **o, meta={"runs": int(len(rows)), "candidate": args.candidate or chosen.get(kind, "as shipped")})
            path = OUT / f"{kind}.json"
            path.write_text(json.dumps(m.to_json(), separators=(",", ":")) + "\n")
            print(f"wrote {path.relative_to(ROOT)} ({len(m.features)} features, {len(m.classes)} classes, "
                  f"T={m.temperature:.2f}, healthy threshold {m.healthy_threshold:.3f}, options {o})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def outcomes(data: Data, P: np.ndarray, thr: np.ndarray, rows: np.ndarray, classes: list[str], make, healthy_ok,
             rules: dict | None = None, blend: float = 1.0) -> list:  # fmt: skip
    """benchmarks/accuracy.py Outcomes of the layer's held-out answers (``make``: the Outcome
    class; ``healthy_ok(run)``: the rulebook's requirements for a healthy verdict hold).
    Listed as the engine lists them (traindx.rerank: at least MIN_LISTED, or a rules'
    candidate), the layer's probabilities mixed with the rules' (``rules``: run path -> the
    rules' Outcome, calibrated, before the confidence maps) by ``blend`` as
    traindx.rerank.mixed; the healthy verdict is the layer's."""
    from labelled import FAMILIES

    from traindx.rerank import MIN_LISTED, bounded, clearable, mixed
    from traindx.separation import group_size

    book = data.comp.book
    sev = {s.code: s.severity for s in book.symptoms}
    h = classes.index("healthy")
    out = []
    for k, i in enumerate(rows):
        run = data.runs[i]
        p_fault = max((float(P[k, j]) for j in range(len(classes)) if j != h), default=0.0)
        said = (bool(P[k, h] >= thr[k]) and P[k, h] >= book.healthy_over_fault * p_fault
                and clearable(book, {c for c in data.comp.fired[i] if sev[c] != "info"}, sev))  # fmt: skip
        cand = {data.comp.causes[j] for j in np.where(np.isfinite(data.lo[i]))[0]}
        r = rules.get(run.path) if rules else None
        rules_p = dict(zip(r.ranked, r.probs, strict=True)) if r is not None and r.ranked else {}
        shown = mixed(classes, bounded(classes, P[k], rules_p, data.comp.countered(int(i))), rules_p, blend)
        order = [c for c in sorted(shown, key=lambda c: -shown[c]) if shown[c] >= MIN_LISTED or c in cand]
        ranked = [] if said else order
        probs = [shown[c] for c in order]
        if run.cause == "healthy":
            p_true = 1.0 if said else 0.0
        else:
            p_true = shown.get(run.cause, 0.0) if not said else 0.0
        out.append(make(
            run=run.path, writer=run.writer, cause=run.cause, visible=run.visible,
            healthy_said=said and healthy_ok(run), ranked=ranked, p_true=p_true, input_kind=run.input_kind,
            alarmed=not said, confidence=probs[0] if ranked else 0.0,
            group=ranked[: group_size(probs, 1.0 - sum(probs), book.confusable_mass, book.confusable_max)] if ranked else [],
            families={f: run.family(f) for f in FAMILIES},
            probs=probs if ranked else [], unknown=max(0.0, 1.0 - sum(probs)) if ranked else 0.0,
            ranker="learned", scenario=run.scenario, benign=run.benign,
        ))  # fmt: skip
    return out


def in_sample(data: Data, kind: str, **kw) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The layer fitted on every trainable run of the kind, scored on all of them."""
    rows = np.where(data.kind == kind)[0]
    m = data.fit(rows[data.ok[rows]], kind, **kw)
    P = data.predict(m, rows)
    P[~data.comp.alarmed[rows]] = np.eye(len(m.classes))[m.classes.index("healthy")]
    return P, np.full(len(rows), m.healthy_threshold), rows, m.classes, knows_rows(data, m, rows) & data.comp.alarmed[rows]


def learned_setup(arg: str, runs: list[Labelled], book, comp: Compiled) -> dict | None:
    """For benchmarks/accuracy.py: the kinds the layer ranks with their fit options (read
    from the shipped model files, so CV scores what ships) and the design matrix; None when
    ``arg`` is 'off' or no kind has a model ('auto': the kinds with a file)."""
    from traindx.learned import load_model

    if arg == "off":
        return None
    kinds = [p.stem for p in sorted(OUT.glob("*.json"))] if arg == "auto" else arg.split(",")
    if not kinds:
        return None
    opts = {}
    for k in kinds:
        opts[k] = options(load_model(OUT, k))
    print(f"learned layer, refitted inside every fold: {'; '.join(f'{k} {o}' for k, o in opts.items())}")
    return {"data": Data(runs, book, comp), "opts": opts, "book": book}


def replace_outcomes(outs: list, learned: dict | None, dim: str | None, make, healthy_said) -> list:
    """``outs`` with the layer's answers for its kinds: held out by ``dim`` (refitted on each
    fold's training side) or in-sample (``dim`` None)."""
    if not learned:
        return outs
    book = learned["book"]
    keep = [o for o in outs if o.input_kind not in learned["opts"]]
    for kind, opts in learned["opts"].items():
        *res, knows = cv_predict(learned["data"], kind, dim, **opts) if dim else in_sample(learned["data"], kind, **opts)
        rules = {o.run: o for o in outs}
        keep += _where_known(outs, res[2], knows, outcomes(learned["data"], *res, make, lambda run: healthy_said(book, run.facts, False),
                                                           rules, opts.get("blend", 1.0)))  # fmt: skip
    return keep


def _where_known(rules_outs: list, rows: np.ndarray, knows: np.ndarray, learned_outs: list) -> list:
    """The layer's answers where the engine lets it rank, the rules' elsewhere (a run with no
    alarm is the same either way; one whose leading cause or a symptom the layer was never
    fitted on stays with the rules, as traindx.rerank.knows does)."""
    by_path = {o.run: o for o in rules_outs}
    return [lo if (k or not by_path[lo.run].alarmed) else by_path[lo.run] for lo, k in zip(learned_outs, knows, strict=True)]


def shipped_outcomes(outs: list, runs: list[Labelled], book, comp: Compiled, make, healthy_said) -> list:
    """``outs`` with the shipped layer's answers (no refit) for the kinds it ships for."""
    from traindx.learned import load_model

    kinds = {r.input_kind for r in runs} & {p.stem for p in OUT.glob("*.json")}
    if not kinds:
        return outs
    data = Data(runs, book, comp)
    keep = [o for o in outs if o.input_kind not in kinds]
    for kind in sorted(kinds):
        m = load_model(OUT, kind)
        rows = np.where(data.kind == kind)[0]
        P = data.predict(m, rows)
        P[~comp.alarmed[rows]] = np.eye(len(m.classes))[m.classes.index("healthy")]
        thr = np.full(len(rows), m.healthy_threshold)
        lo = outcomes(data, P, thr, rows, m.classes, make, lambda run: healthy_said(book, run.facts, False),
                      {o.run: o for o in outs}, m.blend)  # fmt: skip
        keep += _where_known(outs, rows, knows_rows(data, m, rows), lo)
    return keep
