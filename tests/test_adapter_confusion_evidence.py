"""Evidence against the adapter runs' most common confusions (adapterconf22): the shipped
rulebook ranks synthetic adapter runs (series notation + recorded context, the rule cases'
own harness), and removing the fact that carries the evidence moves the ranking back.

* tiny update/weight ratios (UPD002) are what a huge Adam epsilon or plain SGD gives, not
  only a small LR: optimizer_choice explains them;
* per-layer update ratios that are positive in every layer mean the updates are applied:
  evidence against updates_not_applied (every such labelled run has them all 0);
* a negative loss that starts near 0 is minus the raw output of the target class (NLL on
  values that are not log-probabilities), not minus a cross-entropy (which starts at -ln C).
"""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()


def ranked(series: dict[str, str], context: dict) -> list[str]:
    run = case_run(Case(name="r", series=series, context=context, fires=True))
    return [c.id for c in diagnose_run(run, BOOK).causes]


def above(order: list[str], a: str, b: str) -> bool:
    """``a`` is ranked and ranked before ``b`` (or ``b`` not at all)."""
    return a in order and (b not in order or order.index(a) < order.index(b))


def adam(eps: float) -> dict:
    return {"framework": "jax", "optimizer": {"name": "adam", "lr": 0.001, "eps": eps},
            "model": {"output_activation": "linear"}, "data": {"num_classes": 4}}  # fmt: skip


# a 4-class run whose loss sits at ln 4 while every layer moves by ~2e-6 of its norm per step
CRAWL = {
    "loss": "1.386x60 ~0.002",
    "train/update_ratio@dense": "2e-6x30",
    "train/update_ratio@dense_1": "2e-6x30",
}


def test_tiny_updates_under_a_huge_adam_epsilon_point_to_the_optimizer():
    order = ranked(CRAWL, adam(10.0))
    assert order[0] == "optimizer_choice", order
    assert above(order, "optimizer_choice", "lr_too_low")
    # the default epsilon: the same tiny steps are a small LR's
    assert above(ranked(CRAWL, adam(1e-8)), "lr_too_low", "optimizer_choice")


def test_layers_that_all_moved_speak_against_unapplied_updates():
    cause = next(c for c in BOOK.causes if c.id == "updates_not_applied")
    moved = [r for r in cause.evidence if r.says.startswith("every layer's weights changed")]
    assert len(moved) == 1 and moved[0].lr < 1.0
    ctx = {
        "framework": "torch",
        "optimizer": {"name": "sgd", "lr": 0.01},
        "model": {"output_activation": "linear"},
    }
    flat = {"loss": "1.386x60 ~0.001"}
    some = {**flat, "train/update_ratio@fc1": "3e-4x30", "train/update_ratio@fc2": "3e-4x30"}
    none = {**flat, "train/update_ratio@fc1": "0x30", "train/update_ratio@fc2": "0x30"}
    # the same flat loss: with every layer frozen the missing step leads, with every layer
    # moving it drops below the causes of a crawl
    assert ranked(none, ctx)[0] == "updates_not_applied"
    order = ranked(some, ctx)
    assert above(order, "lr_too_low", "updates_not_applied"), order


TORCH_NLL = {"framework": "torch", "optimizer": {"name": "adam", "lr": 0.001},
             "model": {"output_activation": "linear"}, "data": {"num_classes": 10}}  # fmt: skip


def item(cause_id: str, says_start: str) -> float:
    cause = next(c for c in BOOK.causes if c.id == cause_id)
    rules = [r for r in cause.evidence if r.says.startswith(says_start)]
    assert len(rules) == 1, [r.says for r in cause.evidence]
    return rules[0].lr


def test_a_negative_loss_from_near_zero_outweighs_what_both_causes_share():
    # the start near 0 separates the two (16 of 21 logits_loss_mismatch runs with a negative
    # loss, 0 of 78 loss_sign_flipped); what a negative, unbounded loss does next (falls
    # steadily, accuracy falls or ends below chance, LOSS006) both show, and it favours
    # loss_sign_flipped's items: the start must outweigh them
    near0 = "the loss starts near 0"
    assert item("logits_loss_mismatch", near0) / item("loss_sign_flipped", near0) >= 100.0
    # falls steadily from ~0 into large negative values, accuracy a little below chance
    series = {
        "loss": "-0.02-0.5x60",
        "train/accuracy": "0.1x60 ~0.005",
        "val/accuracy": "0.09x60 ~0.005",
    }
    order = ranked(series, TORCH_NLL)
    assert above(order, "logits_loss_mismatch", "loss_sign_flipped"), order
    # the same fall from -ln(10): minus a cross-entropy, gradient ascent
    order = ranked({**series, "loss": "-2.3-0.5x60"}, TORCH_NLL)
    assert above(order, "loss_sign_flipped", "logits_loss_mismatch"), order


def test_a_grown_lr_s_overshoot_marks_are_the_schedule_s():
    # SGD from 0.02, a schedule growing the LR ~1000x to the end: the loss turns up, the
    # accuracy collapses, every layer moves by ~20 % of its norm per step (UPD001) and the
    # gradient grows, then stops (GRAD007): the marks of a step too large, which the
    # schedule made so
    ctx = {"framework": "torch", "optimizer": {"name": "sgd", "lr": 0.02},
           "model": {"output_activation": "linear"}, "data": {"num_classes": 4}}  # fmt: skip
    run = {
        "loss": "1.39*0.99x50 0.8*1.03x50 ~0.03",
        "train/accuracy": "0.3+0.01x50 0.8-0.012x50",
        "train/update_ratio@fc1": "0.2x30",
        "train/update_ratio@fc2": "0.2x30",
        "grad_norm": "1.0*1.05x60 0x40",
    }
    order = ranked({**run, "lr": "0.02*1.072x100"}, ctx)
    assert above(order, "lr_schedule_bad", "lr_too_high"), order
    # the same marks at a constant LR: its value
    order = ranked({**run, "lr": "0.02x100"}, ctx)
    assert above(order, "lr_too_high", "lr_schedule_bad"), order


def test_a_training_set_learned_while_validation_stays_at_chance_is_a_shift_first():
    # the training accuracy climbs to 1.0 while the validation accuracy stays at chance
    # (GEN007) and the validation loss never improves (GEN002): on the labelled runs both fire
    # 3-4x as often on distribution_shift runs as on labels_corrupted ones (adapter and
    # log-only alike; shuffled labels are memorized slowly), which the ratios now say
    ctx = {"framework": "keras", "optimizer": {"name": "adam", "lr": 0.001},
           "model": {"output_activation": "softmax"}, "data": {"num_classes": 10}}  # fmt: skip
    run = {
        "loss": "2.3*0.96x60 ~0.02",
        "train/accuracy": "0.1+0.015x60 ~0.01",
        "val/loss": "2.3+0.02x60 ~0.01",
        "val/accuracy": "0.1x60 ~0.002",
    }
    order = ranked(run, ctx)
    assert above(order, "distribution_shift", "labels_corrupted"), order
    assert above(order, "distribution_shift", "overfitting"), order
