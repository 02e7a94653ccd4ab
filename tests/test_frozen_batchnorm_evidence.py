"""Batch-norm frozen in inference mode vs unscaled inputs (issue 10, qa_fresh38's conv1d pair:
``model.eval()`` after loading a checkpoint, signals at 300 +- 250, SGD 0.01 + momentum).
Both adapter facts are true - CTX004 (training_mode false with batch-norm) and CTX003 (inputs
on a large scale) - but train-mode batch-norm would rescale the inputs (the fixed run trains
on the same signals to accuracy 1.00), while frozen at its initial statistics it passes them
through and the run diverges. The input-scale divergence evidence now credits
train_mode_not_set there; with batch-norm in train mode, or without one, it still credits
inputs_not_normalized. Synthetic adapter runs through the rule cases' harness."""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()

DIVERGES = {"loss": "19.5*3.0x6 nan"}


def ranked(model: dict, flags: dict | None = None, framework: str = "torch", series: dict | None = None) -> list[str]:
    ctx = {
        "framework": framework,
        "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
        "loss": {"name": "crossentropyloss", "from_logits": True, "expects": "logits"},
        "model": {"output_activation": "linear", "output_units": 3, **model},
        "data": {"batch_size": 32, "num_classes": 3, "input_min": -277.0, "input_max": 862.0,
                 "input_mean": 304.0, "input_std": 213.0, "task": "classification"},
        "flags": {"input_nonfinite": 0.0, **(flags or {})},
    }
    run = case_run(Case(name="r", series=series or DIVERGES, context=ctx, fires=True))
    return [c.id for c in diagnose_run(run, BOOK).causes]


def test_frozen_batchnorm_outranks_the_input_scale_it_would_have_normalised():
    order = ranked({"has_batchnorm": True, "has_dropout": True, "training_mode": False})
    assert order[0] == "train_mode_not_set", order
    assert "inputs_not_normalized" not in order[:1]


def test_the_input_scale_keeps_its_credit_in_train_mode_or_without_batchnorm():
    for model in ({"has_batchnorm": True, "training_mode": True}, {"has_batchnorm": False, "training_mode": True}):
        order = ranked(model)
        assert "train_mode_not_set" not in order[:3], (model, order)
        assert "inputs_not_normalized" in order[:3], (model, order)


def test_statistics_still_at_init_are_frozen_batchnorm_without_a_mode_flag():
    """qa_jax42's flax BatchNorm as the input layer applied with use_running_average=True
    (train=False) on raw breast-cancer features: a JAX model has no mode flag; the Recorder's
    log_state read the batch_stats still at 0 / 1 after 420 steps (read as lr_too_high 63 %)."""
    frozen = {"bn_layers": 1.0, "bn_stats_at_init": 1.0, "bn_stats_steps": 420.0}
    order = ranked({"has_batchnorm": True}, frozen, "jax")
    assert order[0] == "train_mode_not_set", order
    moved = {"bn_layers": 1.0, "bn_stats_at_init": 0.0, "bn_stats_steps": 420.0}
    order = ranked({"has_batchnorm": True}, moved, "jax")
    assert "train_mode_not_set" not in order[:3] and "inputs_not_normalized" in order[:3], order


def test_frozen_batchnorm_outranks_the_lr_when_the_gradients_explode_too():
    """The same divergence with the gradient norm growing 700x (GRAD001, x3 lr_too_high: the
    JAX Recorder's step-0 and step-1 telemetry rows show it): the frozen layer, not the step
    size, failed - lr_too_high stands aside on the same facts as inputs_not_normalized."""
    frozen = {"bn_layers": 1.0, "bn_stats_at_init": 1.0, "bn_stats_steps": 420.0}
    grads = {**DIVERGES, "grad_norm": "763*3.0x6 nan"}
    order = ranked({"has_batchnorm": True}, frozen, "jax", grads)
    assert order[0] == "train_mode_not_set", order


def test_frozen_batchnorm_on_counts_below_100_outranks_the_lr():
    """qa_mixed44's multi-label BN MLP: ``model.eval()`` left from a checkpoint snippet, raw word
    counts 0..42 (std 6: CTX003 fires, the old > 100 bar of shared.raw_scale_inputs did not),
    SGD 0.2; the loss and the gradient norm explode, a ReLU layer dies. Read as lr_too_high 79 %,
    train_mode_not_set 0 %: the frozen statistics pass any unscaled input through, not only one
    beyond 100, and train mode on the same counts trained (val F1 0.948)."""
    counts = {"input_min": 0.0, "input_max": 42.0, "input_mean": 1.2, "input_std": 6.16}
    grads = {**DIVERGES, "grad_norm": "5.2*3.0x6 nan"}
    ctx = {
        "framework": "torch",
        "optimizer": {"name": "sgd", "lr": 0.2, "weight_decay": 1e-4},
        "loss": {"name": "bcewithlogitsloss", "from_logits": True, "expects": "logits"},
        "model": {"output_activation": "linear", "output_units": 8, "has_batchnorm": True,
                  "has_dropout": False, "training_mode": False},
        "data": {"batch_size": 64, "task": "classification", **counts},
        "flags": {"input_nonfinite": 0.0, "mode_layers": 2.0, "mode_layers_checked": 40.0,
                  "mode_layers_eval_share": 1.0},
    }
    run = case_run(Case(name="r", series=grads, context=ctx, fires=True))
    order = [c.id for c in diagnose_run(run, BOOK).causes]
    assert order[0] == "train_mode_not_set", order
    ctx["model"] = {**ctx["model"], "training_mode": True}
    ctx["flags"] = {**ctx["flags"], "mode_layers_eval_share": 0.0}
    run = case_run(Case(name="r", series=grads, context=ctx, fires=True))
    assert "train_mode_not_set" not in [c.id for c in diagnose_run(run, BOOK).causes][:3]
