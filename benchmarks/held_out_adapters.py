"""benchmarks/accuracy.py --held-out-adapters: what a fitted component does on the adapter
kinds when its fold is held out.

The adapter kinds are ranked by the rules alone, whose likelihood ratios were hand-set
looking at the adapter runs, so their accuracy.py rows are in-sample. Two components could
be fitted instead, each refitted inside every leave-one-family-out fold on the training
side only and scored on the held-out family: the rules' numbers (benchmarks/differential.fit:
a MAP fit with the hand-set values as the prior mean, ``--adapter-lam`` its strength; one
rulebook for every input kind, so the fit learns from all runs) and a learned layer per
adapter kind (benchmarks/fit_ranker.py's options; a kind with no shipped file gets its
defaults and fit_ranker.UNSHIPPED_BLEND). The structure (which symptom a cause explains,
which evidence it weighs) stays hand-written either way. ``fit_ranker.py --blends`` picks
the layer's blend weight by nested CV.

Measured on main f5617bd's tree (2,321 runs; top-1 / top-3 / false alarms, held out; the hand-set
rules give torch 58.3 / 70.5 / 7.0 %, Keras 67.7 / 78.1 / 6.8 %, JAX 90.3 / 96.8 / 9.1 % on every field):

    field      rules fitted per fold (lam 1)          learned layer per fold (blend 0.5)
               torch       Keras       JAX            torch             Keras             JAX
    style      61.2/70.5   66.7/78.1   90.3/96.8      59.9/69.6 FA 5.2  67.7/74.0         90.3/96.8
    framework  59.0/71.5   68.8/77.1   90.3/96.8      58.3/70.5         67.7/76.0 FA 5.5  90.3/96.8
    writer     62.5/72.1   69.8/78.1   90.3/96.8      59.0/70.2         67.7/78.1         90.3/96.8
    model      59.0/71.2   64.6/78.1   87.1/96.8      61.5/74.4 FA 6.1  67.7/72.9 FA 5.5  90.3/96.8

The fitted numbers gain on every field for torch but lose Keras's and JAX's worst field (one
rulebook serves every kind); the layer gains little where it has data (torch framework: none
to learn from) and costs Keras top-3; the nested blend pick (fit_ranker.py --blends) for torch
is 0-0.5 and scores 55.9 % on style and 55.6 % on writer against the rules' 55.6 %
(select_ranker's ranking score).
Neither ships for an adapter kind.
"""

from __future__ import annotations

import calibrate as calibrate_maps
from accuracy import by_kind, cv_outcomes, with_learned
from differential import Compiled
from labelled import Labelled


def held_out_setup(runs: list[Labelled], book, comp: Compiled, learned: dict | None, layered: set[str]) -> dict | None:
    """For --held-out-adapters: the adapter kinds the rules alone rank, and a learned layer
    for each (its shipped file's fit options, or fit_ranker's defaults) on the design matrix."""
    from fit_ranker import OUT, Data, options

    from traindx.learned import load_model

    kinds = sorted({r.input_kind for r in runs} - layered - {"logs"})
    if not kinds:
        return None
    data = learned["data"] if learned else Data(runs, book, comp)
    opts = {k: options(load_model(OUT, k)) for k in kinds}
    print(f"held-out adapter components: rules fitted per fold; learned layer refitted per fold: {opts}")
    return {"kinds": kinds, "learned": {"data": data, "opts": opts, "book": book}}


def held_out_rows(runs, comp, book, dim: str, alt: dict, lam: float, no_confidence: bool) -> dict[str, dict]:
    """By kind, the held-out (``dim``) scores of the adapter kinds with each fitted component."""
    out = {}
    fitted = cv_outcomes(runs, comp, dim, lam)
    hand = cv_outcomes(runs, comp, dim, None)
    for name, (rules_outs, outs) in {
        f"rules fitted per fold (lam {lam:g})": (fitted, fitted),
        "learned layer refitted per fold": (hand, with_learned(hand, alt["learned"], dim)),
    }.items():  # fmt: skip
        if not no_confidence:
            outs = calibrate_maps.nested(outs, dim, book, calibrate_maps.pool(rules_outs, outs))
        out[name] = by_kind([o for o in outs if o.input_kind in alt["kinds"]])
    return out
