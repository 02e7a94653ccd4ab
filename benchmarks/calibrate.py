"""Fit the confidence maps (traindx/confidence.py) on held-out answers, cross-validated by
family, and write them to rulebook/calibration.yaml.

Per input kind and ranker (the rules, or the learned layer where it ranks), the map takes
the top answer's probability to how often such an answer is right. It is fitted on the
held-out answers of benchmarks/accuracy.py's leave-one-family-out CV; it is scored by nested
CV: for each held-out family the map is fitted on the other families' held-out answers only
(no run of that family, nor another recording of one of its scenarios) and applied to it.

A big held-out family counts for less than its size in the fit (an answer weighs 1 / sqrt of
its family's answers of that field): the next runs come from a family unlike any, and a map
fitted with the answers as they come learned mostly the largest family (the generator's
programs, torch), which made it overconfident on the Q&A-style programs and other frameworks;
the square root (not 1 / n) keeps a family of four answers from weighing as much as one of
five hundred. The pull toward the identity is ``PRIOR`` pseudo-answers.

The cap: a kind whose training answers at a mapped probability >= 0.8 are not all right (or
are fewer than ``CAP_MIN``) gets ``cap`` 0.79, so it never says 0.8 or more.

    python benchmarks/calibrate.py            # nested-CV table, the maps it would write
    python benchmarks/calibrate.py --write    # also rewrite rulebook/calibration.yaml
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import optimize

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from traindx.confidence import recalibrate  # noqa: E402
from traindx.separation import group_size  # noqa: E402

#: below this many answers at >= 0.8 a kind is capped under 0.8 whatever they say
CAP_MIN = 100
CAP = 0.79
#: pull of the map toward the identity (slope 1, shift 0), in pseudo-answers
PRIOR = 20.0
MIN_FIT = 15  # fewer shown answers: the identity map (capped)


class Map:
    def __init__(
        self, slope: float = 1.0, shift: float = 0.0, cap: float = 1.0, n: int = 0
    ) -> None:
        self.slope, self.shift, self.cap, self.n = slope, shift, cap, n

    def __repr__(self) -> str:
        return f"slope {self.slope:.3f} shift {self.shift:+.3f} cap {self.cap:g} ({self.n} answers)"


def shown(o) -> bool:
    """The answers the reliability table scores (benchmarks/accuracy.py)."""
    return bool(o.ranked) and (o.scored or o.cause == "healthy")


def fit_map(conf: np.ndarray, right: np.ndarray, weight: np.ndarray | None = None) -> Map:
    """Platt scaling of the top probability (log-loss of right/wrong, each answer weighted by
    ``weight``, scaled to a mean of 1; a pull to the identity), then the cap."""
    n = len(conf)
    if n < MIN_FIT:
        m = Map(n=n)
    else:
        x = np.log(np.clip(conf, 1e-6, 1 - 1e-6) / np.clip(1 - conf, 1e-6, 1))
        y = right.astype(float)
        w = np.ones(n) if weight is None else np.asarray(weight, float) * n / float(np.sum(weight))

        def nll(th: np.ndarray) -> tuple[float, np.ndarray]:
            a, b = th
            z = a * x + b
            p = 1.0 / (1.0 + np.exp(-z))
            loss = float(np.sum(w * (np.logaddexp(0.0, z) - y * z))) + 0.5 * PRIOR * (
                (a - 1.0) ** 2 + b**2
            )
            g = (p - y) * w
            return loss, np.array([float(g @ x) + PRIOR * (a - 1.0), float(g.sum()) + PRIOR * b])

        res = optimize.minimize(
            nll,
            np.array([1.0, 0.0]),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.05, 20.0), (-20.0, 20.0)],
        )
        m = Map(float(res.x[0]), float(res.x[1]), n=n)
    mapped = np.array([_top(c, m) for c in conf])
    high = mapped >= 0.8
    m.cap = 1.0 if high.sum() >= CAP_MIN and right[high].all() else CAP
    return m


def _top(c: float, m: Map) -> float:
    from traindx.confidence import top_probability

    return top_probability(float(c), m)


def apply(o, m: Map, book):
    """An Outcome with the map applied to its probabilities (as the engine does)."""
    if not o.ranked or not o.probs:
        return o
    probs, unknown = recalibrate(list(o.probs), o.unknown, m)
    p_true = o.p_true
    if o.cause in o.ranked and o.cause != "healthy":
        p_true = probs[o.ranked.index(o.cause)]
    n = group_size(probs, unknown, book.confusable_mass, book.confusable_max)
    return replace(
        o, probs=probs, unknown=unknown, confidence=probs[0], p_true=p_true, group=o.ranked[:n]
    )


def key(o) -> tuple[str, str]:
    return (o.input_kind, o.ranker)


def fit_maps(outs: list, by: str | list[str] | None = None) -> dict[tuple[str, str], Map]:
    """One map per (input kind, ranker) from these answers; ``by``: the family field each
    answer was held out by (one for all, or one per answer), so that a big family of it
    counts for less than its size (:func:`family_weights`); None: every answer counts as one."""
    w = family_weights(outs, by)
    out = {}
    for k in sorted({key(o) for o in outs}):
        idx = [i for i, o in enumerate(outs) if key(o) == k and shown(o)]
        out[k] = fit_map(
            np.array([outs[i].confidence for i in idx]),
            np.array([outs[i].rank == 1 for i in idx]),
            w[idx] if len(idx) else None,
        )
    return out


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
        maps = fit_maps(train, dim)
        for i in test:
            m = maps.get(key(outs[i]))
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
    text = path.read_text()
    lines = ["  confidence:"] + [
        f"    - {{kind: {k}, ranker: {r}, slope: {m.slope:.4g}, shift: {m.shift:.4g}, cap: {m.cap:g}}}  # {m.n} held-out answers, the five fields pooled"
        for (k, r), m in sorted(maps.items())
    ]
    block = "\n".join(lines) + "\n"
    pat = re.compile(r"^  confidence:\n(?:    - .*\n)*", re.M)
    if pat.search(text):
        text = pat.sub(block, text)
    else:
        text = text.replace("  calibration:\n", block + "  calibration:\n", 1)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from accuracy import DIMS_DEFAULT, _headline, by_kind, cv_all, load_all, reliability, summarize

    from traindx.rules.loader import builtin_dir

    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--dims", default=DIMS_DEFAULT)
    args = ap.parse_args(argv)
    runs, book, comp, learned = load_all()
    pooled, pooled_by, before, after_cfg, every = [], [], {}, {}, []
    for dim in args.dims.split(","):
        rules = cv_all(runs, comp, None, dim)
        outs = cv_all(runs, comp, learned, dim)
        fit_on = pool(rules, outs)
        pooled += fit_on
        pooled_by += [dim] * len(fit_on)
        after = nested(outs, dim, book, fit_on)
        every += after
        before[dim], after_cfg[dim] = by_kind(outs), by_kind(after)
        for k in sorted({o.input_kind for o in outs}):
            b = summarize([o for o in outs if o.input_kind == k])
            a = summarize([o for o in after if o.input_kind == k])
            print(f"leave-one-{dim:9} {k:14} ECE {b['ece']:.3f} -> {a['ece']:.3f}  w@80 {b['wrong_at_80']:3} -> {a['wrong_at_80']:3}  p_true {b['mean_p_true']:.2f} -> {a['mean_p_true']:.2f}", flush=True)  # fmt: skip
    print("\nBEFORE the confidence maps (same verdict rule):")
    _headline({"cv": before, "as_shipped": {}})
    print("\nAFTER, maps refitted per held-out family (nested):")
    _headline({"cv": after_cfg, "as_shipped": {}})
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
