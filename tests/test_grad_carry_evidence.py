"""Evidence from the torch Monitor's gradient carry-over fact (``ctx.grad_accumulating``): a
divergence the monitor saw with gradients added onto the previous step's is the
accumulation's, not the LR's; accumulated gradients that no optimizer applies are not the
fault. Synthetic runs through the rule cases' harness; removing the fact moves the ranking back."""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()
TORCH = {"framework": "torch", "optimizer": {"name": "sgd", "lr": 0.05}, "data": {"num_classes": 10}}
# learns for 10 steps, then the loss climbs, accuracy falls, updates are 40 % of the weights
DIVERGES = {"loss": "2.3*0.98x10 1.9*1.2x20", "grad_norm": "0.3*1.2x30", "train/update_ratio@l1": "0.4x30",
            "train/accuracy": "0.2*1.1x10 0.5*0.9x20"}  # fmt: skip


def ranked(series: dict[str, str], context: dict) -> list[str]:
    run = case_run(Case(name="r", series=series, context=context, fires=True))
    return [c.id for c in diagnose_run(run, BOOK).causes]


def test_a_divergence_with_gradients_carried_over_is_the_accumulation():
    order = ranked(DIVERGES, {**TORCH, "flags": {"grad_accumulating": True}})
    assert order[0] == "grad_not_zeroed", order
    zeroed = ranked(DIVERGES, {**TORCH, "flags": {"grad_accumulating": False}})
    assert zeroed[0] == "lr_too_high", zeroed


def _p(series: dict[str, str], context: dict) -> dict[str, float]:
    run = case_run(Case(name="r", series=series, context=context, fires=True))
    return {c.id: c.probability for c in diagnose_run(run, BOOK).causes}


def test_accumulated_gradients_never_applied_point_to_the_missing_update():
    # an optimizer over another model's parameters: the trained model's gradients are never
    # reset (its zero_grad resets the other's) and never applied
    series = {"loss": "0.97x60 ~0.01", "grad_norm": "30*1.1x60",
              "train/update_ratio@l1": "0x20", "train/update_ratio@l2": "0x20"}  # fmt: skip
    ctx = {**TORCH, "flags": {"grad_accumulating": True}}
    p = _p(series, ctx)
    assert max(p, key=p.get) == "updates_not_applied"
    assert p["updates_not_applied"] > 10 * p.get("grad_not_zeroed", 0.0), p
    applied = {**series, "train/update_ratio@l1": "0.01x20", "train/update_ratio@l2": "0.01x20"}
    p = _p(applied, ctx)
    assert max(p, key=p.get) == "grad_not_zeroed", p


def test_keras_on_torch_with_gradients_carried_over_is_the_accumulation():
    # Keras resets gradients in its own train_step; a torch-way train_step on the torch
    # backend may not, and the callback's watch of .grad (grad_accumulating) then says so
    keras_torch = {**TORCH, "framework": "keras", "flags": {"keras_backend": "torch", "grad_accumulating": True}}
    assert ranked(DIVERGES, keras_torch)[0] == "grad_not_zeroed"
    zeroed = ranked(DIVERGES, {**keras_torch, "flags": {"keras_backend": "torch", "grad_accumulating": False}})
    assert zeroed[0] != "grad_not_zeroed" and _p(DIVERGES, {**keras_torch, "flags": {"grad_accumulating": False}}).get(
        "grad_not_zeroed", 0.0) < 0.05  # fmt: skip
