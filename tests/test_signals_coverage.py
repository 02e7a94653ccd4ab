"""Facts that must not be assumed: a sampled prediction statistic read as the end's only where
its samples reach the end of training, and an output width read as a class count only for a
classifier (qa_fresh26: two false alarms on fixed runs)."""

from __future__ import annotations

import pytest

from traindx.rules.model import Case
from traindx.rules.testing import case_run
from traindx.signals import compute_facts


def facts(series, context=None, every=None):
    return compute_facts(case_run(Case(name="c", series=series, context=context or {}, every=every or {}, fires=False)))


@pytest.mark.parametrize(
    ("pred", "every", "seen"),
    [
        ("1.0x2", None, False),  # steps 0 and 1 of 100: telemetry steps of a tiny model only
        ("1.0x8", None, False),  # to step 7
        ("1.0x100", None, True),  # every step
        ("1.0x4", 32, True),  # steps 31, 63, 95, 127 - the last in the last quarter
        ("1.0x2", 35, True),  # steps 34, 69 of 0-99: no further from the end than its own gap
        ("1.0x2", 30, False),  # steps 29, 59: 40 steps from the end, beyond its gap and the quarter
    ],
)
def test_prediction_share_needs_samples_in_the_last_quarter(pred, every, seen):
    f = facts({"loss": "2.3*0.98x100", "train/pred_class_frac:max": pred},
              {"data": {"num_classes": 10}}, {"train/pred_class_frac:max": every} if every else None)  # fmt: skip
    assert ("pred_class_frac_max" in f.get("layers", {})) is seen


def test_prediction_share_without_a_loss_is_read_as_before():
    f = facts({"train/pred_class_frac:max": "1.0x2"}, {"data": {"num_classes": 10}})
    assert f["layers"]["pred_class_frac_max"] == 1.0


@pytest.mark.parametrize(
    ("context", "classes"),
    [
        ({"model": {"output_units": 16, "output_activation": "linear"}}, None),  # an embedding, loss unnamed
        ({"model": {"output_units": 16}}, None),
        ({"model": {"output_units": 16, "output_activation": "linear"}, "flags": {"loss_task": "unknown"}}, None),
        ({"model": {"output_units": 16, "output_activation": "linear"}, "loss": {"name": "CrossEntropyLoss"}}, 16),
        ({"model": {"output_units": 16, "output_activation": "linear"}, "flags": {"loss_task": "classification"}}, 16),
        ({"model": {"output_units": 16, "output_activation": "softmax"}}, 16),
        ({"model": {"output_units": 16}, "data": {"task": "classification"}}, 16),
        # a Keras custom loss: named after its function, not read as any task by the adapter
        ({"model": {"output_units": 16, "output_activation": "linear"}, "loss": {"name": "contrastive_loss"},
          "flags": {"loss_task": "unknown"}}, None),
        ({"model": {"output_units": 16}, "data": {"task": "regression"}, "loss": {"name": "mse"}}, None),
    ],
)
def test_output_width_counts_classes_only_for_a_classifier(context, classes):
    f = facts({"loss": "0.5*0.97x50"}, context)
    assert f["ctx"].get("num_classes") == classes
    assert ("chance" in f) is (classes is not None)
