"""A validation gap measured by an evaluation in training mode (gapsa45, qa_mixed45's
textures16 pair): the torch Monitor saw the evaluation forwards run with ``model.training``
True and dropout / batch-norm in the model (CTX044), while validation sat far above training
from the first evaluation and never improved. A train-mode evaluation opens that gap on any
data, so train_mode_not_set leads, where the same curves without CTX044 read as a shift of
the validation data (distribution_shift)."""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()

# training fits (loss 0.69 -> ~0.03, accuracy to ~1) while validation stays at chance from the
# first evaluation, its loss above training's from the start
GAP = {
    "loss": "0.69*0.9x40",
    "train/accuracy": "0.5+0.0125x40",
    "val/loss": "0.75+0.02x10 ~0.01",
    "val/accuracy": "0.5x10 ~0.01",
}
UNITS = {"val/loss": "epoch", "val/accuracy": "epoch"}


def ranked(share: float) -> list[str]:
    flags = {"eval_train_mode_share": share, "eval_forwards": 40.0, "mode_layers": 3.0}
    ctx = {"framework": "torch", "data": {"num_classes": 2}, "flags": flags}
    run = case_run(Case(name="r", series=GAP, units=UNITS, context=ctx, fires=True))
    return [c.id for c in diagnose_run(run, BOOK).causes]


def test_gap_under_train_mode_evaluation_points_to_the_mode():
    order = ranked(1.0)
    assert order[0] == "train_mode_not_set", order


def test_same_gap_under_eval_mode_stays_a_shift():
    order = ranked(0.0)
    assert "train_mode_not_set" not in order[:1], order
    assert order.index("distribution_shift") < (order.index("train_mode_not_set") if "train_mode_not_set" in order else 99)
