"""A capacity cause does not outrank a NaN/inf loss (qa_mixed45: a 24-block residual MLP whose
loss and gradient norm were NaN from step 1 was ranked model_too_small 79 %, on a linear-stack
flag; model_too_small's evidence now counts a non-finite loss against it: a model too small
underfits with a high, finite loss - 0 of 128 labelled model_too_small runs have LOSS001).
Synthetic runs ranked by the shipped rulebook (the rule cases' own harness)."""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()
CTX = {"framework": "torch", "loss": {"name": "mseloss", "expects": "values"}, "data": {"task": "regression"},
       "flags": {"linear_stack": 2.0, "linear_stack_full_rank": 2.0}}  # fmt: skip


def ranked(series: dict[str, str]) -> list[str]:
    run = case_run(Case(name="r", series=series, context=CTX, fires=True))
    return [c.id for c in diagnose_run(run, BOOK).causes]


def test_a_nan_loss_from_the_start_is_not_a_capacity_fault():
    order = ranked({"loss": "5 nanx40", "grad_norm": "50 nanx40"})
    assert order and order[0] != "model_too_small"


def test_a_linear_stack_on_a_high_finite_loss_still_points_to_capacity():
    assert ranked({"loss": "0.69*0.999x40"})[0] == "model_too_small"
