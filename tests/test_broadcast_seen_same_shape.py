"""A one-output regression whose loss never trended down points to a prediction broadcast
against its target ((N, 1) vs (N,)); when the adapter saw the loss called with output and
target of the same shape (``broadcast_in_loss`` false, an element-wise regression loss), that
reading is evidence against shape_broadcast_bug (qa_fresh40's vanilla RNN, whose gradients
exploded, ranked it first at 52 %). On the labelled corpus the item holds on 0 of the
shape_broadcast_bug runs and on 147 other faulty and 91 healthy ones.
"""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()
STALL = {"loss": "0.6x20 0.5x40 0.8x40 ~0.1"}


def p_broadcast(flags: dict) -> float:
    ctx = {"framework": "torch", "loss": {"name": "mseloss", "expects": "values"},
           "model": {"output_activation": "linear", "output_units": 1},
           "data": {"task": "regression"}, "flags": flags}  # fmt: skip
    run = case_run(Case(name="r", series=STALL, context=ctx, fires=True))
    return next((c.probability for c in diagnose_run(run, BOOK).causes if c.id == "shape_broadcast_bug"), 0.0)


def test_same_shapes_seen_in_the_loss_speak_against_broadcasting():
    base = {"loss_task": "regression", "target_integer": False, "target_distinct": 64.0}
    unseen = p_broadcast(base)
    seen = p_broadcast({**base, "broadcast_in_loss": False})
    assert unseen > 0.0 and seen < 0.5 * unseen, (unseen, seen)


def test_the_item_needs_a_regression_loss():
    cause = next(c for c in BOOK.causes if c.id == "shape_broadcast_bug")
    items = [r for r in cause.evidence if "broadcast_in_loss == false" in r.when]
    assert len(items) == 1 and items[0].lr < 1.0 and "loss_task == 'regression'" in items[0].when
