"""Facts added for issue 10's Keras Q&A programs (fixtures/qa_keras): each separates a cause
from a look-alike on evidence the run itself records."""

from __future__ import annotations

import pytest

from traindx.rules.model import Case
from traindx.rules.testing import case_run
from traindx.signals import compute_facts


def facts_of(series: dict[str, str], context: dict | None = None, units: dict | None = None) -> dict:
    case = Case(name="t", series=series, context=context or {}, units=units or {}, fires=False)
    return compute_facts(case_run(case))


def test_gradient_that_stopped_after_flowing_is_counted_apart():
    f = facts_of({"train/grad_norm@l1": "0.5x2 0x18", "train/grad_norm@l2": "0x20", "train/grad_norm@l3": "0.2x20"})
    assert f["layers"]["grad_zero_layers"] == 2  # l1 (stopped) and l2 (never had one)
    assert f["layers"]["grad_died_layers"] == 1  # only l1 had a gradient at first


def test_output_layer_saturation_is_not_hidden_saturation():
    layers = {"model": {"layers": [{"name": "h1", "type": "Dense"}, {"name": "out", "type": "Dense"}]}}
    f = facts_of({"train/act_frac_saturated@h1": "0.1x20", "train/act_frac_saturated@out": "0.99x20"}, layers)
    assert f["layers"]["saturated_frac_max"] == pytest.approx(0.1)
    assert f["layers"]["out_saturated_frac"] == pytest.approx(0.99)
    # without a recorded model the last layer is unknown: every layer counts, as before
    f = facts_of({"train/act_frac_saturated@h1": "0.1x20", "train/act_frac_saturated@out": "0.99x20"})
    assert f["layers"]["saturated_frac_max"] == pytest.approx(0.99)


def test_every_marked_output_head_is_left_out_of_hidden_saturation():
    layers = {"model": {"layers": [{"name": "h1", "type": "Dense"}, {"name": "head_a", "type": "Dense", "is_output": True},
                                   {"name": "head_b", "type": "Dense", "is_output": True}]}}  # fmt: skip
    series = {"train/act_frac_saturated@h1": "0.1x20", "train/act_frac_saturated@head_a": "0.97x20",
              "train/act_frac_saturated@head_b": "0.6x20"}  # fmt: skip
    f = facts_of(series, layers)
    assert f["layers"]["saturated_frac_max"] == pytest.approx(0.1)
    assert f["layers"]["out_saturated_frac"] == pytest.approx(0.97)
    # unmarked (torch, JAX, older recordings): only the last layer is the output
    for layer in layers["model"]["layers"]:
        layer.pop("is_output", None)
    f = facts_of(series, layers)
    assert f["layers"]["saturated_frac_max"] == pytest.approx(0.97)
    assert f["layers"]["out_saturated_frac"] == pytest.approx(0.6)


def test_loss_per_wrong_answer():
    # Keras' cross-entropy at its clip: (1 - acc) * -ln(1e-7)
    f = facts_of({"loss": "14.39x30", "accuracy": "0.107x30"})
    assert f["loss"]["per_error"] == pytest.approx(14.39 / 0.893, rel=1e-3)
    f = facts_of({"loss": "2.3x30", "accuracy": "0.1x30"})  # fresh / frozen: ~ln(C) per example
    assert f["loss"]["per_error"] == pytest.approx(2.3 / 0.9, rel=1e-3)
    assert "per_error" not in facts_of({"loss": "2.3x30"})["loss"]  # no accuracy logged


def test_accuracy_compiled_on_a_regression_is_ignored():
    # a falling MSE with metrics=['accuracy'] ~0 throughout: the accuracy measures nothing
    f = facts_of({"loss": "3000*0.9x30", "accuracy": "0x29 0.003", "val/accuracy": "0x30"})
    assert "acc" not in f and "val_acc" not in f and "per_error" not in f["loss"]
    # the adapter says regression with continuous targets: ignored whatever its values
    ctx = {"data": {"task": "regression"}, "flags": {"target_integer": False}}
    assert "acc" not in facts_of({"loss": "1*0.9x30", "accuracy": "0.2x30"}, ctx)
    # class ids fitted by MSE (target_integer): the accuracy is evidence, kept
    ctx = {"data": {"task": "regression"}, "flags": {"target_integer": True}}
    assert "acc" in facts_of({"loss": "1*0.9x30", "accuracy": "0.2x30"}, ctx)
    # a classifier at chance with a flat loss keeps its accuracy (that is the symptom)
    assert "acc" in facts_of({"loss": "4.6x30", "accuracy": "0.008x30"})


def test_accuracy_seen_only_after_the_loss_broke_is_no_evidence():
    case = Case(name="t", series={"loss": "1x5 nanx15", "accuracy": "0.5x5 0.9x15", "val/accuracy": "0.34x4"},
                every={"val/accuracy": 5}, fires=False)
    f = compute_facts(case_run(case))
    assert "val_acc" not in f  # evaluations at steps 4, 9, ...: only one before the NaN at step 5
    assert f["acc"]["last"] == pytest.approx(0.5)  # read up to the break, as before


def test_steps_per_epoch_from_the_adapter_count():
    # Keras fit on whole arrays with batch_size=len(x): the callback counts 1 step per epoch
    f = facts_of({"loss": "2.3*0.99x40"}, {"steps_per_epoch": 1, "epochs": 40})
    assert f["ctx"]["steps_per_epoch"] == 1
    f = facts_of({"loss": "2.3*0.99x40"}, {"steps_per_epoch": 1, "data": {"n_train": 1000, "batch_size": 32}})
    assert f["ctx"]["steps_per_epoch"] == 32  # n_train / batch_size when both are known
