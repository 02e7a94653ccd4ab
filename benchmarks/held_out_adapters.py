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
