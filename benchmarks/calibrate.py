"""Fit the confidence maps (traindx/confidence.py) on held-out answers, cross-validated by
family, and write them to rulebook/calibration.yaml.

Per input kind and ranker (the rules, or the learned layer where it ranks), the map takes
the top answer's probability (form "share", the default: its share of the listed causes'
mass and the unknown mass, :data:`FORM`) to how often such an answer is right. It is fitted on the
held-out answers of benchmarks/accuracy.py's leave-one-family-out CV; it is scored by nested
CV: for each held-out family the map is fitted on the other families' held-out answers only
(no run of that family, nor another recording of one of its scenarios) and applied to it.

Each held-out answer counts one in the fit, as it does in the ECE the fit is judged by
(``--weights sqrt``: an answer weighs 1 / sqrt of its family's answers of that field, so a
big family counts for less than its size; under this nested CV it gave a worse ECE and Brier
score on every kind, main f18a6ae: torch adapter 0.105 vs 0.101, Keras 0.096 vs 0.090, JAX
0.132 vs 0.131, log-only 0.041 vs 0.036). The pull toward the identity is ``PRIOR``
pseudo-answers. Besides one map per kind, one is fitted on every adapter kind's answers
(``kind: adapter``): it serves an adapter kind without its own map, as when leave-one-
framework holds out the only framework of a kind (before, such a kind got the capped identity).

The cap: a kind whose training answers at a mapped probability >= 0.8 are not all right (or
are fewer than ``CAP_MIN``) gets ``cap`` 0.79, so it never says 0.8 or more. The Platt map is
fitted with the cap inside its likelihood. ``--form pool`` fits instead an isotonic step map
whose top step is merged down until it is right no more often than the cap: it meets both
issue-10 targets (ECE <= 0.05, nothing wrong at >= 0.8) on the adapters, but by saying about
0.77 for ~90 % of their answers (the ~10 % wrong answers among the adapters' confident ones
are not told apart by the top probability, the margin over the second, the unknown mass, or
whether an error-severity symptom the top cause explains fired), at a worse Brier score.

    python benchmarks/calibrate.py            # nested-CV table, the maps it would write
    python benchmarks/calibrate.py --write    # also rewrite rulebook/calibration.yaml
    python benchmarks/calibrate.py --dump f   # also keep the held-out answers (pickle) ...
    python benchmarks/calibrate.py --load f --form pool   # ... to compare maps in seconds
"""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import optimize

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from traindx.confidence import group_probability, recalibrate  # noqa: E402
from traindx.separation import group_size  # noqa: E402

#: below this many answers at >= 0.8 a kind is capped under 0.8 whatever they say
CAP_MIN = 100
CAP = 0.79
#: pull of the map toward the identity (slope 1, shift 0), in pseudo-answers
PRIOR = 20.0
MIN_FIT = 15  # fewer shown answers: the identity map (capped)
#: the map's form: "share" (sigmoid of logit(the top's share of the listed causes' mass)
#: and logit(the unknown mass), fitted knowing the cap), "platt" (sigmoid of logit(p)) or
#: "pool" (an isotonic step map whose top step is merged down until it is right no more
#: often than it says: calibrated under the cap, at the price of saying one number for most
#: answers). "share" against "platt", nested CV on main 2244f96 (mean [worst field]): ECE
#: torch 0.113 [0.134] vs 0.126 [0.157], Keras 0.093 [0.114] vs 0.100 [0.123], JAX 0.126
#: [0.147] vs 0.144 [0.174], log-only 0.034 [0.042] vs 0.037 [0.045]; no wrong answer at
#: >= 0.8 either way (the adapters' rules give the top a small probability where their
#: unknown mass is large, and such answers were right about as often as larger ones)
FORM = "share"
#: how held-out answers weigh in the fit: "none" (each counts one, as in the ECE) or "sqrt"
#: (1 / sqrt of its family's answers, :func:`family_weights`)
WEIGHTS = "none"
#: the adapter kinds' pooled map (serves an adapter kind without its own map)
ADAPTER = "adapter"


class Map:
    def __init__(
        self, slope: float = 1.0, shift: float = 0.0, cap: float = 1.0, n: int = 0,
        knots: list[tuple[float, float]] | None = None, share: bool = False, unknown_slope: float = 0.0,
        group_slope: float = 1.0, group_shift: float = 0.0,
    ) -> None:  # fmt: skip
        self.slope, self.shift, self.cap, self.n = slope, shift, cap, n
        self.knots = knots or []
        self.share, self.unknown_slope = share, unknown_slope
        self.group_slope, self.group_shift = group_slope, group_shift

    def __repr__(self) -> str:
        form = f"{len(self.knots)} knots" if self.knots else f"slope {self.slope:.3f} shift {self.shift:+.3f}"
        if self.share and not self.knots:
            form = f"share {form} unknown {self.unknown_slope:+.3f}"
        return f"{form} cap {self.cap:g}; group slope {self.group_slope:.3f} shift {self.group_shift:+.3f} ({self.n} answers)"


def shown(o) -> bool:
    """The answers the reliability table scores (benchmarks/accuracy.py)."""
    return bool(o.ranked) and (o.scored or o.cause == "healthy")


def _logit(conf: np.ndarray) -> np.ndarray:
    return np.log(np.clip(conf, 1e-6, 1 - 1e-6) / np.clip(1 - conf, 1e-6, 1))


def fit_map(
    conf: np.ndarray, right: np.ndarray, weight: np.ndarray | None = None, form: str | None = None,
    share: np.ndarray | None = None, unknown: np.ndarray | None = None,
) -> Map:  # fmt: skip
    """The map of ``form`` (default :data:`FORM`) fitted on these answers (each weighted by
    ``weight``, scaled to a mean of 1; a pull to the identity), then the cap; ``share`` and
    ``unknown`` (the top's share of the listed mass, the unknown mass: default ``conf`` and
    0) are the "share" form's inputs."""
    n, form = len(conf), form or FORM
    w = np.ones(n) if weight is None else np.asarray(weight, float) * n / max(float(np.sum(weight)), 1e-12)
    share = np.asarray(conf if share is None else share, float)
    unknown = np.zeros(n) if unknown is None else np.asarray(unknown, float)
    extra = (share, unknown) if form == "share" else None
    if n < MIN_FIT:
        m = Map(n=n)
    elif form == "pool":
        m = Map(n=n, knots=_pool(conf, right, w))
    else:
        m = _platt(conf, right, w, extra=extra)
    mapped = np.array([_top(c, m, sh, u) for c, sh, u in zip(conf, share, unknown, strict=True)])
    high = mapped >= 0.8
    m.cap = 1.0 if high.sum() >= CAP_MIN and right[high].all() else CAP
    if m.cap == 1.0 and n >= MIN_FIT and form != "pool":  # no cap: the curve above it counts
        m = _platt(conf, right, w, cap=1.0, extra=extra)
        m.cap = 1.0
    return m


def _platt(
    conf: np.ndarray, right: np.ndarray, w: np.ndarray, cap: float | None = None,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> Map:  # fmt: skip
    """Platt scaling fitted with the cap inside the likelihood: ``min(sigmoid(a x + b), CAP)``
    (an answer the cap holds says CAP whatever a, b; the fit that does not know the cap
    flattens the curve to pull the top answers down, and under-states the middle ones).
    With ``extra`` (share, unknown): ``x`` is logit(share) and ``c * logit(unknown)`` is
    added (traindx.confidence.top_probability), pulled toward c = 0."""
    cap = CAP if cap is None else cap
    y = right.astype(float)
    x = _logit(conf if extra is None else extra[0])
    xu = np.zeros(len(conf)) if extra is None else _logit(np.maximum(extra[1], 1e-4))

    def nll(th: np.ndarray) -> float:
        c = th[2] if len(th) > 2 else 0.0
        z = th[0] * x + c * xu + th[1]
        p = np.clip(np.minimum(1.0 / (1.0 + np.exp(-z)), cap), 1e-9, 1 - 1e-9)
        loss = -float(np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))))
        return loss + 0.5 * PRIOR * ((th[0] - 1.0) ** 2 + th[1] ** 2 + c**2)

    start = np.array([1.0, 0.0, 0.0])
    opts = {"xatol": 1e-4, "fatol": 1e-6} | ({"maxiter": 4000} if extra else {})
    res = optimize.minimize(nll, start if extra else start[:2], method="Nelder-Mead", options=opts)
    th = np.r_[res.x, 0.0] if extra is None else res.x
    a, b = float(np.clip(th[0], 0.05, 20.0)), float(np.clip(th[1], -20.0, 20.0))
    return Map(a, b, n=len(conf), share=extra is not None, unknown_slope=float(np.clip(th[2], -20.0, 20.0)))


def _pool(conf: np.ndarray, right: np.ndarray, w: np.ndarray) -> list[tuple[float, float]]:
    """Knots of an isotonic step map (pool-adjacent-violators on the answers sorted by their
    top probability, with ``PRIOR`` pseudo-answers on the identity), whose top step is then
    merged with the ones below until it is right no more often than ``CAP``."""
    x0 = _logit(conf)
    px = np.linspace(x0.min(), x0.max(), 20)
    x = np.concatenate([x0, px])
    y = np.concatenate([right.astype(float), 1.0 / (1.0 + np.exp(-px))])
    ww = np.concatenate([w, np.full(20, PRIOR / 20)])
    o = np.argsort(x, kind="stable")
    blocks: list[list[float]] = []  # [sum w*y, sum w, lowest logit, highest logit]

    def merge() -> None:
        b = blocks.pop()
        blocks[-1][0] += b[0]
        blocks[-1][1] += b[1]
        blocks[-1][3] = b[3]

    for xi, yi, wi in zip(x[o], y[o], ww[o], strict=True):
        blocks.append([yi * wi, wi, xi, xi])
        while len(blocks) > 1 and (
            blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1] or blocks[-2][3] >= blocks[-1][2]
        ):  # a violator, or a tie (the same top probability gets one value)
            merge()
    while len(blocks) > 1 and blocks[-1][0] / blocks[-1][1] > CAP:
        merge()
    knots: list[tuple[float, float]] = []
    for b in blocks:  # a step: flat from its lowest answer to its highest
        for z in (b[2], b[3]):
            p = float(1.0 / (1.0 + np.exp(-z)))
            if not knots or p > knots[-1][0]:
                knots.append((p, min(float(b[0] / b[1]), CAP)))
    if len(knots) == 1:
        knots.append((min(knots[0][0] + 1e-6, 1 - 1e-6), knots[0][1]))
    return knots


def _top(c: float, m: Map, share: float | None = None, unknown: float = 0.0) -> float:
    from traindx.confidence import top_probability

    return top_probability(float(c), m, None if share is None else float(share), float(unknown))


def apply(o, m: Map, book):
    """An Outcome with the map applied to its probabilities (as the engine does)."""
    if not o.ranked or not o.probs:
        return o
    probs, unknown = recalibrate(list(o.probs), o.unknown, m)
    p_true = o.p_true
    if o.cause in o.ranked and o.cause != "healthy":
        p_true = probs[o.ranked.index(o.cause)]
    n = group_size(probs, unknown, book.confusable_mass, book.confusable_max)
    group_p = group_probability(sum(probs[:n]), m) if n >= 2 else None
    return replace(
        o, probs=probs, unknown=unknown, confidence=probs[0], p_true=p_true, group=o.ranked[:n], group_p=group_p
    )


def key(o) -> tuple[str, str]:
    return (o.input_kind, o.ranker)


def fit_maps(
    outs: list, by: str | list[str] | None = None, weights: str | None = None, book=None
) -> dict[tuple[str, str], Map]:
    """One map per (input kind, ranker) from these answers, and per ranker one fitted on
    every adapter kind's answers (:data:`ADAPTER`); ``by``: the family field each answer
    was held out by (one for all, or one per answer), used with ``weights`` "sqrt" (default
    :data:`WEIGHTS`) so that a big family of it counts for less than its size
    (:func:`family_weights`)."""
    w = family_weights(outs, by if (weights or WEIGHTS) == "sqrt" else None)
    book = book or _book()
    keys = [key(o) for o in outs]
    idx_of: dict[tuple[str, str], list[int]] = {k: [] for k in sorted(set(keys))}
    for i, (k, o) in enumerate(zip(keys, outs, strict=True)):
        if shown(o):
            idx_of[k].append(i)
            if k[0].endswith("_adapter"):
                idx_of.setdefault((ADAPTER, k[1]), []).append(i)
    out = {k: _fit(outs, idx_of[k], w, book) for k in sorted({key(o) for o in outs})}
    for r in sorted({o.ranker for o in outs if o.input_kind.endswith("_adapter")}):
        out[(ADAPTER, r)] = _fit(outs, idx_of.get((ADAPTER, r), []), w, book)
    return out


@lru_cache(maxsize=1)
def _book():
    """The shipped rulebook, loaded once (fit_group needs only its confusable settings;
    loading it per fitted map was 35 % of a ``--load`` run's time)."""
    from traindx.rules.loader import load_rulebook

    return load_rulebook()


def _fit(outs: list, idx: list[int], w: np.ndarray, book=None) -> Map:
    """The top answer's map on these answers, then the group map on the groups they state
    after it (:func:`fit_group`)."""
    m = _fit_top(outs, idx, w)
    return fit_group(m, [outs[i] for i in idx], w[idx] if len(idx) else np.ones(0), book)


def fit_group(m: Map, outs: list, w: np.ndarray, book=None) -> Map:
    """``m`` with its group map fitted: each answer's "cannot separate" group (of two or
    more causes) after ``m``, its members' summed probability against whether it holds the
    true cause (Platt scaling pulled toward the identity, no cap: a group is not the top
    answer the cap guards). Fewer than MIN_FIT groups: the identity."""
    book = book or _book()
    xs, ys, ws = [], [], []
    for o, wi in zip(outs, w, strict=True):
        probs, unknown = recalibrate(list(o.probs), o.unknown, m)
        n = group_size(probs, unknown, book.confusable_mass, book.confusable_max)
        if n >= 2:
            xs.append(sum(probs[:n]))
            ys.append(o.cause in o.ranked[:n])
            ws.append(wi)
    if len(xs) >= MIN_FIT:
        g = _platt(np.array(xs), np.array(ys), np.array(ws) * len(ws) / max(sum(ws), 1e-12), cap=1.0)
        m.group_slope, m.group_shift = g.slope, g.shift
    return m


def _fit_top(outs: list, idx: list[int], w: np.ndarray) -> Map:
    return fit_map(
        np.array([outs[i].confidence for i in idx]),
        np.array([outs[i].rank == 1 for i in idx]),
        w[idx] if len(idx) else None,
        share=np.array([outs[i].probs[0] / sum(outs[i].probs) if sum(outs[i].probs) > 0 else outs[i].confidence for i in idx]),
        unknown=np.array([outs[i].unknown for i in idx]),
    )


def pick(maps: dict[tuple[str, str], Map], k: tuple[str, str]) -> Map | None:
    """The map the engine would use (traindx.confidence.find): the kind's own, else for an
    adapter kind the adapters' pooled one."""
    m = maps.get(k)
    if m is None and k[0].endswith("_adapter"):
        m = maps.get((ADAPTER, k[1]))
    return m


def family_weights(outs: list, by: str | list[str] | None) -> np.ndarray:
    """Per answer, 1 / sqrt(the shown answers of its (kind, ranker) and family of the field
    it was held out by); ones without ``by``."""
    if by is None:
        return np.ones(len(outs))
    fields = [by] * len(outs) if isinstance(by, str) else list(by)
    fam = [(key(o), f, o.families.get(f, "")) for o, f in zip(outs, fields, strict=True)]
    count: dict = {}
    for o, g in zip(outs, fam, strict=True):
        if shown(o):
            count[g] = count.get(g, 0) + 1
    return np.array([count.get(g, 1) ** -0.5 for g in fam])


def pool(rules_outs: list, learned_outs: list) -> list:
    """The answers the maps are fitted on: the rules' on every run (the rules' map of a kind
    the learned layer ranks serves the runs it leaves to the rules) and the layer's own."""
    return list(rules_outs) + [o for o in learned_outs if o.ranker == "learned"]


def nested(outs: list, dim: str, book, fit_on: list | None = None) -> list:
    """Each held-out family's answers with maps fitted on the other families' answers
    (of ``fit_on``, default ``outs``; see :func:`pool`)."""
    fit_on = outs if fit_on is None else fit_on
    fam = np.array([o.families[dim] for o in outs])
    ffam = np.array([o.families[dim] for o in fit_on])
    fscen = np.array([o.scenario for o in fit_on])
    result = list(outs)
    for v in sorted(set(fam)):
        test = np.where(fam == v)[0]
        held = {o.scenario for o in (outs[i] for i in test)}
        train = [fit_on[i] for i in np.where((ffam != v) & ~np.isin(fscen, list(held)))[0]]
        maps = fit_maps(train, dim, book=book)
        for i in test:
            m = pick(maps, key(outs[i]))
            result[i] = apply(outs[i], m if m is not None else Map(cap=CAP), book)
    return result


def shipped(outs: list, book) -> list:
    """Answers with the rulebook's maps applied (what ``traindx diagnose`` says)."""
    from traindx.confidence import find

    res = []
    for o in outs:
        m = find(book, o.input_kind, o.ranker)
        res.append(apply(o, m, book) if m is not None else o)
    return res


def write(maps: dict[tuple[str, str], Map], path: Path) -> None:
    """Rewrite the ``confidence:`` block of rulebook/calibration.yaml."""
    from yaml_block import rewrite

    def form(m: Map) -> str:
        if m.knots:
            return "knots: [" + ", ".join(f"[{p:.6g}, {q:.4g}]" for p, q in m.knots) + "]"
        grp = f", group_slope: {m.group_slope:.4g}, group_shift: {m.group_shift:.4g}"
        if m.share:
            return f"share: true, slope: {m.slope:.4g}, unknown_slope: {m.unknown_slope:.4g}, shift: {m.shift:.4g}{grp}"
        return f"slope: {m.slope:.4g}, shift: {m.shift:.4g}{grp}"

    lines = ["  confidence:"] + [
        f"    - {{kind: {k}, ranker: {r}, {form(m)}, cap: {m.cap:g}}}  # {m.n} held-out answers, the five fields pooled"
        for (k, r), m in sorted(maps.items())
    ]
    rewrite(path, "confidence", "\n".join(lines) + "\n")


EXTRA = "_evidence"


def evidence_of(runs: list, comp) -> dict[str, dict]:
    """Per run (its path): the fired symptom codes, and per candidate cause the symptoms it
    explains that fired and the indices of its evidence items that hold."""
    out = {}
    for r, run in enumerate(runs):
        causes = {}
        for ci, _groups, params in comp._rows[r]:
            cid = comp.causes[ci]
            c = comp.book.cause(cid)
            causes[cid] = {
                "explains": sorted(set(c.explains) & comp.fired[r]),
                "evidence": [comp.names[k][2] for k in params[1:]],
            }
        out[run.path] = {"fired": sorted(comp.fired[r]), "causes": causes}
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import pickle

    from accuracy import DIMS_DEFAULT, _headline, by_kind, cv_all, load_all, reliability, summarize

    from traindx.rules.loader import builtin_dir, load_rulebook

    global FORM, WEIGHTS, CAP
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--dims", default=DIMS_DEFAULT)
    ap.add_argument("--form", choices=("share", "platt", "pool"), default=FORM)
    ap.add_argument("--weights", choices=("none", "sqrt"), default=WEIGHTS)
    ap.add_argument("--dump", type=Path, help="also pickle the held-out answers before the maps")
    ap.add_argument("--load", type=Path, help="read the held-out answers from a --dump file (no CV run)")
    ap.add_argument(
        "--cap", type=float, default=CAP,
        help="the ceiling of a kind whose answers at >= 0.8 were not all right (default %(default)s: no wrong "
        "answer at >= 0.8); a higher one measures what the ceiling costs in ECE against wrong answers >= 0.8",
    )  # fmt: skip
    args = ap.parse_args(argv)
    FORM, WEIGHTS, CAP = args.form, args.weights, args.cap
    if args.load:
        dumped, book = pickle.loads(args.load.read_bytes()), load_rulebook()
    else:
        runs, book, comp, learned = load_all()
        dumped = {}
        if args.dump:  # what the rules saw per run, for maps with a second input
            dumped[EXTRA] = evidence_of(runs, comp)
        for dim in args.dims.split(","):
            outs = cv_all(runs, comp, learned, dim)
            dumped[dim] = (outs, pool(cv_all(runs, comp, None, dim), outs))
            if args.dump:
                args.dump.write_bytes(pickle.dumps(dumped))
    pooled, pooled_by, before, after_cfg, every = [], [], {}, {}, []
    dumped.pop(EXTRA, None)
    for dim, (outs, fit_on) in dumped.items():
        pooled += fit_on
        pooled_by += [dim] * len(fit_on)
        after = nested(outs, dim, book, fit_on)
        every += after
        before[dim], after_cfg[dim] = by_kind(outs), by_kind(after)
        for k in sorted({o.input_kind for o in outs}):
            b = summarize([o for o in outs if o.input_kind == k])
            a = summarize([o for o in after if o.input_kind == k])
            print(f"leave-one-{dim:9} {k:14} ECE {b['ece']:.3f} -> {a['ece']:.3f}  w@80 {b['wrong_at_80']:3} -> {a['wrong_at_80']:3}  "
                  f"Brier {b['brier']:.4f} -> {a['brier']:.4f}  log-loss {b['log_loss']:.4f} -> {a['log_loss']:.4f}  "
                  f"p_true {b['mean_p_true']:.2f} -> {a['mean_p_true']:.2f}", flush=True)  # fmt: skip
    print("\nBEFORE the confidence maps (same verdict rule):")
    _headline({"cv": before, "as_shipped": {}})
    print(f"\nAFTER, maps ({FORM}, weights {WEIGHTS}) refitted per held-out family (nested):")
    _headline({"cv": after_cfg, "as_shipped": {}})
    print("\ntop answer's Brier score / log-loss, mean over the fields, before -> after:")
    for k in sorted({k for d in after_cfg.values() for k in d}, key=lambda k: (k == "ALL", k)):
        b_, a_ = ([c[k][m] for c in cfg.values()] for cfg, m in ((before, "brier"), (after_cfg, "brier")))
        lb, la = ([c[k]["log_loss"] for c in cfg.values()] for cfg in (before, after_cfg))
        print(f"   {k:14} Brier {np.mean(b_):.4f} -> {np.mean(a_):.4f}   log-loss {np.mean(lb):.4f} -> {np.mean(la):.4f}")
    print("\nreliability after, per input kind (held-out answers of every field pooled):")
    for k in sorted({o.input_kind for o in every}):
        print(f"  {k}: bin, mean confidence, accuracy, answers")
        for lo_, conf, acc, n in reliability([o for o in every if o.input_kind == k]):
            print(f"     [{lo_:.1f},{lo_ + 0.1:.1f})  {conf:.3f}  {acc:.3f}  {n}")
    maps = fit_maps(pooled, pooled_by)
    for k, m in maps.items():
        print(f"map {k[0]} / {k[1]}: {m}")
    if args.write:
        write(maps, builtin_dir() / "calibration.yaml")
        print("rewrote rulebook/calibration.yaml (confidence:)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
