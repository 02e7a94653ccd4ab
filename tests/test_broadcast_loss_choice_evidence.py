"""A regression loss on a C-unit classifier's output with class-id targets broadcasts (N, C)
against (N, 1): CTX006 (broadcast) and CTX010 (the loss does not fit the task) both fire, and
the loss choice is the root (qa_jax42's Keras-JAX softmax(3) + mse on integer wine labels,
read as shape_broadcast_bug 62 %). The classic broadcast - one output against (N,) real
targets - keeps shape_broadcast_bug first. Synthetic adapter runs through the cases' harness."""

from __future__ import annotations

from pathlib import Path

import traindx
from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()
STALLS = {"loss": "0.92*0.999x40", "accuracy": "0.34x40 ~0.02"}


def ranked(units: int, integer: bool, classes: int | None) -> list[str]:
    ctx = {
        "framework": "keras",
        "optimizer": {"name": "adam", "lr": 0.01},
        "loss": {"name": "mse", "expects": "values"},
        "model": {"output_activation": "softmax" if units > 1 else "linear", "output_units": units},
        "data": {"batch_size": 32, "num_classes": classes, "task": "classification" if classes else "regression"},
        "flags": {"broadcast_in_loss": True, "target_integer": integer, "target_width": 1.0,
                  "target_distinct": 3.0 if integer else 400.0},
    }
    run = case_run(Case(name="r", series=STALLS if classes else {"loss": "0.92*0.999x40"}, context=ctx, fires=True))
    return [c.id for c in diagnose_run(run, BOOK).causes]


RUN = Path(__file__).parents[1] / "fixtures/qa_jax42/logs/kj_wine_softmax_output_mse_on_integer_labels_tensorboard_callback_jax/buggy_adapter"


def test_mse_on_class_ids_with_a_softmax_output_is_the_loss_choice():
    order = ranked(3, True, 3)
    assert order[0] == "wrong_loss_function", order
    causes = traindx.diagnose(RUN).runs[0].causes
    assert causes[0].id == "wrong_loss_function", [(c.id, c.probability) for c in causes[:3]]


def test_one_output_against_real_targets_stays_a_broadcast():
    order = ranked(1, False, None)
    assert order[0] == "shape_broadcast_bug", order
