"""Cause evidence that reads ctx.num_classes (or chance.*, computed from it) as a
single-label class count is not applied to a multi-label model (flag loss_task multilabel):
1/C accuracy and ln(C) loss are no chance levels for C independent sigmoid labels. The
symptoms' own gates (GEN007, ACC001, ACC002, OUT002) have rule cases; cause evidence has
none, so this evaluates each gated evidence line of the shipped rulebook on facts where it
holds for a single-label classifier, then on the same facts flagged multi-label."""

from __future__ import annotations

import pytest

from traindx.engine import evaluate
from traindx.rules.loader import load_rulebook

#: (cause, start of the evidence's `says`, facts on which it holds for a single-label model)
GATED = [
    ("labels_corrupted", "validation accuracy {val_acc.last} is at chance", {"val_acc": {"last": 0.1}}),
    ("loss_sign_flipped", "validation accuracy reached", {"val_acc": {"max": 0.9}}),
    ("loss_sign_flipped", "accuracy ends below chance", {"loss": {"tail_neg_frac": 1.0}, "chance": {"acc_last_over_chance": 0.5}}),
    ("loss_sign_flipped", "accuracy ends above chance", {"loss": {"tail_neg_frac": 1.0}, "chance": {"acc_last_over_chance": 3.0}}),
    ("loss_sign_flipped", "the loss starts at {chance.loss_first_ratio}", {"loss": {"tail_neg_frac": 1.0}, "chance": {"loss_first_ratio": -1.0}}),
    ("logits_loss_mismatch", "the loss is negative and unbounded", {"loss": {"tail_neg_frac": 1.0}, "chance": {"acc_last_over_chance": 3.0}}),
    ("logits_loss_mismatch", "accuracy ends below chance", {"loss": {"tail_neg_frac": 1.0}, "chance": {"acc_last_over_chance": 0.5}}),
]


def _evidence(cause: str, says: str):
    book = load_rulebook()
    (c,) = [c for c in book.causes if c.id == cause]
    found = [e for e in c.evidence if e.says.startswith(says)]
    assert len(found) == 1, (cause, says)
    return found[0]


@pytest.mark.parametrize(("cause", "says", "facts"), GATED, ids=[f"{c}:{s[:30]}" for c, s, _ in GATED])
def test_single_label_reading_is_not_applied_to_a_multilabel_model(cause, says, facts):
    ev = _evidence(cause, says)
    ctx = {"num_classes": 10, "output_activation": "linear"}
    assert evaluate(ev.condition, {**facts, "ctx": {**ctx, "loss_task": "classification"}})[0] is True
    assert evaluate(ev.condition, {**facts, "ctx": ctx})[0] is True  # no flag: single-label
    assert evaluate(ev.condition, {**facts, "ctx": {**ctx, "loss_task": "multilabel"}})[0] is False
