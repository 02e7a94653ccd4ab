"""Cause evidence for the confusions among log-only runs that raise an alarm (logconf24).

Counted over the labelled corpus (benchmarks/fact_separation.py, accuracy.py --per-cause):

* a first loss equal to ln C to five digits means outputs that start exactly uniform: zero
  or constant weights (a random initialization lands 0.1-1 % off).
"""

from __future__ import annotations

import math

import numpy as np

from traindx.engine import check
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts

BOOK = load_rulebook()
LN10 = math.log(10)


def _run(series: dict[str, np.ndarray]) -> Run:
    run = Run(id="case", context=RunContext.model_validate({}))
    for key_text, values in series.items():
        steps = np.arange(values.size, dtype=np.int64) * 50
        run.add(Series(key=SeriesKey.parse(key_text), steps=steps, values=np.asarray(values, dtype=float), unit="step"))
    return run


def _fired(cause_id: str, says_start: str, run: Run) -> bool | None:
    cause = next(c for c in BOOK.causes if c.id == cause_id)
    rules = [r for r in cause.evidence if r.says.startswith(says_start)]
    assert len(rules) == 1, [r.says for r in cause.evidence]
    ok, _needs, err = check(rules[0].condition, compute_facts(run))
    assert err is None, err
    return ok


UNIFORM = "the first loss sits at ln"


def test_a_first_loss_at_ln_c_to_five_digits_reads_as_uniform_outputs():
    loss = np.concatenate([[LN10], np.full(59, 2.3)])
    assert _fired("bad_weight_init", UNIFORM, _run({"loss": loss, "accuracy": np.full(60, 0.1)})) is True


def test_a_random_inits_first_loss_near_ln_c_is_not_uniform():
    loss = np.concatenate([[2.318], LN10 * 0.97 ** np.arange(1.0, 60.0)])  # 0.7 % above ln 10
    acc = np.linspace(0.1, 0.99, 60)
    assert _fired("bad_weight_init", UNIFORM, _run({"loss": loss, "accuracy": acc})) is False
