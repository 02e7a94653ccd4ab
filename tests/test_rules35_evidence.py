"""Evidence for three misfires of the unseen batches qa_fresh34/qa_real34 (rules35), on synthetic
runs ranked by the shipped rulebook (the rule cases' own harness):

* a validation accuracy driven far BELOW chance while training learns - by more than the run's
  own validation size allows a guesser (signals/compare.py below_chance_log10p) - is a
  labelling fault (the splits' labels coded apart), not a shift of the inputs;
* linear outputs fed to a loss that clips probabilities (CTX011): the rising loss and the
  gradient that stops at exactly 0 are the clip's, not a step size's;
* a negative, falling loss whose first logged value is nearer 0 than -ln 2 is minus raw scores
  (NLL without log_softmax), not a flipped cross-entropy (which starts at -ln C and falls),
  wherever in the run that first value was logged.
"""

from __future__ import annotations

import math

import pytest
from scipy.stats import binom

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run
from traindx.signals import compute_facts
from traindx.signals.compare import below_chance_log10p

BOOK = load_rulebook()


def run_of(series: dict[str, str], context: dict):
    return case_run(Case(name="r", series=series, context=context, fires=True))


def ranked(series: dict[str, str], context: dict) -> list[str]:
    return [c.id for c in diagnose_run(run_of(series, context), BOOK).causes]


def above(order: list[str], a: str, b: str) -> bool:
    """``a`` is ranked and ranked before ``b`` (or ``b`` not at all)."""
    return a in order and (b not in order or order.index(a) < order.index(b))


@pytest.mark.parametrize(("acc", "c", "n"), [(0.03, 3, 500), (0.2, 2, 250), (0.02, 10, 54), (0.3, 3, 40)])
def test_below_chance_bound_never_overstates_the_binomial_tail(acc, c, n):
    exact = binom.logcdf(math.floor(acc * n), n, 1.0 / c) / math.log(10.0)
    got = below_chance_log10p(acc, c, n)
    assert got is not None and got >= exact - 1e-9


def test_below_chance_needs_size_and_grows_with_it():
    assert below_chance_log10p(0.5, 3, 500) == 0.0  # above chance
    assert below_chance_log10p(0.03, 3, None) is None
    assert below_chance_log10p(None, 3, 500) is None
    small, large = below_chance_log10p(0.2, 3, 30), below_chance_log10p(0.2, 3, 3000)
    assert small is not None and large is not None and large < small < 0.0
    assert small > -6.0  # 0.2 on 30 examples of 3 classes: a guesser does that now and then


# a 3-class run: the training set is learned fast, validation loss climbs from the start
LEARNED = {
    "loss": "1.1*0.85x20 ~0.01",
    "accuracy": "0.4+0.03x20",
    "val/loss": "2.0+0.3x20",
}
UNITS = {"loss": "epoch", "accuracy": "epoch", "val/loss": "epoch", "val/accuracy": "epoch"}
THREE = {"framework": "keras", "optimizer": {"name": "adam", "lr": 0.001},
         "model": {"output_activation": "softmax"}, "data": {"num_classes": 3, "n_val": 500}}  # fmt: skip


def ranked_units(series: dict[str, str], context: dict) -> list[str]:
    run = case_run(Case(name="r", series=series, units=UNITS, context=context, fires=True))
    return [c.id for c in diagnose_run(run, BOOK).causes]


def test_validation_driven_far_below_chance_is_a_labelling_fault():
    falling = {**LEARNED, "val/accuracy": "0.3-0.0135x20"}  # 0.30 -> 0.04 on 500 examples
    facts = compute_facts(run_of(falling, THREE))
    assert facts["chance"]["val_acc_below_log10p"] < -6.0
    order = ranked_units(falling, THREE)
    assert above(order, "labels_corrupted", "distribution_shift"), order
    # the same curves where the accuracy stays near chance: no such evidence, the shift leads
    near = {**LEARNED, "val/accuracy": "0.33x20 ~0.01"}
    assert compute_facts(run_of(near, THREE))["chance"]["val_acc_below_log10p"] > -6.0
    assert above(ranked_units(near, THREE), "distribution_shift", "labels_corrupted")


def test_validation_at_its_floor_from_the_first_evaluation_is_not_read():
    # a sorted split: validation classes never trained on score ~0 from the first evaluation on
    flat = {**LEARNED, "val/accuracy": "0.017x20"}
    cause = next(c for c in BOOK.causes if c.id == "labels_corrupted")
    item = [r for r in cause.evidence if r.says.startswith("validation accuracy fell to")]
    assert len(item) == 1 and item[0].lr > 1.0
    facts = compute_facts(run_of(flat, THREE))
    from traindx.engine import evaluate

    assert evaluate(item[0].condition, facts)[0] is not True


KERAS_LINEAR = {"framework": "keras", "optimizer": {"name": "adam", "lr": 0.001},
                "model": {"output_activation": "linear"},
                "loss": {"name": "categorical_crossentropy", "from_logits": False, "expects": "probabilities"},
                "data": {"num_classes": 10}}  # fmt: skip
# the loss climbs to the clip's ceiling while the gradient stops at exactly 0
CLIPPED = {"loss": "3.8x5 3.8+0.3x20 9.6x15", "accuracy": "0.1x40", "grad_norm": "16x5 0x35"}


def test_clipped_linear_outputs_point_to_the_loss_not_the_step():
    order = ranked(CLIPPED, KERAS_LINEAR)
    assert order[0] == "logits_loss_mismatch", order
    # the same curves with a softmax output (no CTX011): the step size stays ahead
    softmax = {**KERAS_LINEAR, "model": {"output_activation": "softmax"}}
    assert above(ranked(CLIPPED, softmax), "lr_too_high", "logits_loss_mismatch")


TORCH_10 = {"framework": "torch", "optimizer": {"name": "sgd", "lr": 0.1},
            "model": {"output_activation": "linear"}, "data": {"num_classes": 10}}  # fmt: skip


def test_a_first_loss_nearer_0_than_minus_ln2_is_no_flipped_cross_entropy():
    # NLL on raw scores, first printed after some steps at -0.32, then unbounded below
    nll_raw = {"loss": "-0.32*1.5x30"}
    assert above(ranked(nll_raw, TORCH_10), "logits_loss_mismatch", "loss_sign_flipped")
    # minus a 10-class cross-entropy starts at -ln 10 and falls: the sign's
    flipped = {"loss": "-2.3*1.1x30"}
    assert above(ranked(flipped, TORCH_10), "loss_sign_flipped", "logits_loss_mismatch")
