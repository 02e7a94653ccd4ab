"""The corpus generator's JAX runs hand the Recorder the loss a user would name: a hand-written
MSE or L1 (the shape_broadcast_bug forms) by its family's name, as the default losses are, so
the Recorder can compare the step's loss with the row-wise and the broadcast value
(fixtures/corpus/jax_run.py ``_recorder``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("optax")
ROOT = Path(__file__).resolve().parent.parent


def _jax_run():
    """fixtures/corpus/jax_run.py, loaded by path; the corpus scripts' module names (data,
    summary, writers...) and the paths it puts on sys.path are taken off again."""
    path, mods = list(sys.path), set(sys.modules)
    try:
        spec = importlib.util.spec_from_file_location("corpus_jax_run", ROOT / "fixtures" / "corpus" / "jax_run.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path[:] = path
        for name in set(sys.modules) - mods:
            f = getattr(sys.modules[name], "__file__", None) or ""
            if str(ROOT / "fixtures") in f:
                del sys.modules[name]
    return mod


def test_hand_written_losses_are_named_to_the_recorder():
    jr = _jax_run()
    d = SimpleNamespace(task="regression", n_classes=0, x_train=None, y_train=None, x_val="xv", y_val="yv")

    def loss_given(form: str, rec: str = "full"):
        spec = {"loss": {"loss": form}, "call": {"rec": rec}, "name": "r"}
        return jr._recorder(lambda out, **kw: kw, "out", spec, d, {}, None, 10, None).get("loss")

    assert loss_given("broadcast_mse") == "mse"
    assert loss_given("broadcast_manual", "data") == "mse"
    assert loss_given("broadcast_l1") == "l1"
    assert loss_given("default") == "mse"  # regression's default
    assert loss_given("mse_class_id") is None  # not a loss a user would name as such
    assert loss_given("broadcast_mse", "no_loss") is None  # the call variant without a loss
    # the arrays call variant hands over the validation split too (the Recorder's val_shared_frac)
    spec = {"loss": {"loss": "default"}, "call": {"rec": "data"}, "name": "r"}
    assert jr._recorder(lambda out, **kw: kw, "out", spec, d, {}, None, 10, None)["val_data"] == ("xv", "yv")


def test_the_full_call_variants_state_the_loops_plan():
    """The call variants that pass what the README shows (`full`, `data`) state the loop's plan
    (epochs run, steps per epoch); the minimal ones (`no_loss`, `lr`) do not."""
    jr = _jax_run()
    d = SimpleNamespace(task="multiclass", n_classes=3, x_train="x", y_train="y", x_val="xv", y_val="yv")
    plan = {"epochs": 7, "steps_per_epoch": 12}

    def given(rec: str):
        spec = {"loss": {"loss": "default"}, "call": {"rec": rec}, "name": "r"}
        return jr._recorder(lambda out, **kw: kw, "out", spec, d, {}, None, 10, None, plan=plan)

    for rec in ("full", "data"):
        assert {k: given(rec).get(k) for k in plan} == plan
    for rec in ("no_loss", "lr"):
        assert not set(plan) & set(given(rec))
