"""The degen facts (a one-class predictor, a loss at 0 without a fit), the first loss whose class
count the accuracy contradicts (infer.chance_contradicted) and the depth of a negative loss,
read on the qa_fresh26 logs that showed them: each buggy run has the mark, its fixed run not."""

from __future__ import annotations

from pathlib import Path

import pytest

from traindx.engine import diagnose_run
from traindx.readers import read
from traindx.rules.loader import load_rulebook
from traindx.signals import compute_facts
from traindx.signals.degenerate import constant_f1

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "qa_fresh26" / "logs"


def facts(pair: str, which: str) -> dict:
    (run,) = read(LOGS / pair / which)
    return compute_facts(run)


def fired(pair: str, which: str) -> set[str]:
    (run,) = read(LOGS / pair / which)
    return {s.code for s in diagnose_run(run, load_rulebook()).symptoms}


def test_constant_f1_is_the_majority_answer_macro_f1():
    # 3 classes, 85.6 % in the largest: F1 of that class 2p/(1+p), the others 0
    assert constant_f1(0.856, 3) == pytest.approx(0.3075, abs=1e-4)
    assert constant_f1(0.5, 2) == pytest.approx(1 / 3)


def test_recall_zero_at_every_evaluation_is_a_one_class_predictor():
    d = facts("hf_tiny_bert_scam_messages_imbalance_printed", "buggy")["degen"]
    assert d["acc_mode_frac"] == 1.0 and d["recall_zero_frac"] == 1.0
    fixed = facts("hf_tiny_bert_scam_messages_imbalance_printed", "fixed")["degen"]
    assert fixed["recall_zero_frac"] < 0.6  # 0 only at the first evaluations, then it learns
    assert "ACC010" in fired("hf_tiny_bert_scam_messages_imbalance_printed", "buggy")
    assert "ACC010" not in fired("hf_tiny_bert_scam_messages_imbalance_printed", "fixed")


def test_macro_f1_at_the_constant_predictors_value():
    d = facts("torch_gru_tickets_ce_weight_counts_not_inverse", "buggy")["degen"]
    assert d["f1_const_frac"] > 0.9 and d["acc_mode_frac"] > 0.9
    assert "ACC010" in fired("torch_gru_tickets_ce_weight_counts_not_inverse", "buggy")
    assert "ACC010" not in fired("torch_gru_tickets_ce_weight_counts_not_inverse", "fixed")


def test_validation_loss_at_zero_beside_a_chance_accuracy():
    d = facts("torch_siamese_digits_cosine_embedding_targets_01_tbx", "buggy")["degen"]
    assert d["loss_zero"] and d["loss_zero_split"] == "val" and d["loss_zero_acc"] < 0.6
    assert not facts("torch_siamese_digits_cosine_embedding_targets_01_tbx", "fixed")["degen"][
        "loss_zero"
    ]
    assert "LOSS022" in fired("torch_siamese_digits_cosine_embedding_targets_01_tbx", "buggy")
    assert "LOSS022" not in fired("torch_siamese_digits_cosine_embedding_targets_01_tbx", "fixed")


def test_an_accuracy_far_above_the_implied_chance_drops_the_implied_class_count():
    buggy = facts("torch_finetune_new_plant_features_not_scaled_tb", "buggy")["infer"]
    assert buggy["chance_contradicted"] is True and "num_classes" not in buggy  # not 461 classes
    assert "LOSS023" in fired("torch_finetune_new_plant_features_not_scaled_tb", "buggy")
    assert "LOSS023" not in fired("torch_finetune_new_plant_features_not_scaled_tb", "fixed")


def test_a_negative_loss_far_below_minus_one_is_put_on_the_sign():
    (run,) = read(LOGS / "lightning_embbag_topics_loglik_no_minus" / "buggy")
    d = diagnose_run(run, load_rulebook())
    f = facts("lightning_embbag_topics_loglik_no_minus", "buggy")["loss"]
    assert (
        f["first_raw"] < -0.5 and f["min_raw"] < -5.0
    )  # neither -p (>= -1) nor NLL on logits (starts ~0)
    by_id = {c.id: c for c in d.causes}
    says = [e.says for e in by_id["loss_sign_flipped"].evidence]
    assert any("far below -1" in t for t in says), says


def _degen(series: dict[str, str]) -> dict:
    from traindx.rules.model import Case
    from traindx.rules.testing import case_run

    case = Case(name="c", series=series, units=dict.fromkeys(series, "epoch"), fires=False)
    return compute_facts(case_run(case)).get("degen", {})


def test_binary_entropy_is_the_priors_cross_entropy():
    from traindx.signals.degenerate import binary_entropy

    assert binary_entropy(0.5) == pytest.approx(0.693147, abs=1e-6)
    assert binary_entropy(0.9) == pytest.approx(0.325083, abs=1e-6)


def test_prior_loss_ratio_reads_the_loss_at_the_frozen_accuracy():
    # accuracy frozen at 0.9 and a validation loss at H(0.9) = 0.325: the prior's loss
    d = _degen({"val/loss": "0.325x10", "val/accuracy": "0.9x10"})
    assert d["acc_mode"] == pytest.approx(0.9) and d["prior_loss_ratio"] == pytest.approx(
        1.0, abs=1e-3
    )
    # the same accuracy with a confident model's loss: far below the prior's
    d = _degen({"val/loss": "0.1x10", "val/accuracy": "0.9x10"})
    assert d["prior_loss_ratio"] == pytest.approx(0.1 / 0.325083, abs=1e-3)


def test_prior_loss_ratio_needs_a_majority_share_and_the_same_splits_loss():
    assert "prior_loss_ratio" not in _degen({"val/loss": "0.69x10", "val/accuracy": "0.5x10"})
    assert "prior_loss_ratio" not in _degen({"val/loss": "0.1x10", "val/accuracy": "1.0x10"})
    # a training loss is not read against a validation accuracy
    assert "prior_loss_ratio" not in _degen({"loss": "0.325x10", "val/accuracy": "0.9x10"})


def test_a_qualified_recall_at_zero_is_read_as_the_plain_recall():
    """seqeval's entity recall (eval_entity_recall) or a class's recall (recall_pos) at 0 beside an
    accuracy frozen at the majority share is the same one-class predictor as a plain recall."""
    import numpy as np

    from traindx.schema import Run, Series, SeriesKey
    from traindx.signals.degenerate import one_class_facts

    for metric in ("recall", "entity_recall", "recall_pos"):
        run = Run(id="r")
        steps = np.arange(6)
        run.add(Series(key=SeriesKey(metric="accuracy", split="val"), steps=steps, values=np.full(6, 0.894)))
        run.add(Series(key=SeriesKey(metric=metric, split="val"), steps=steps, values=np.zeros(6)))
        assert one_class_facts(run)["recall_zero_frac"] == 1.0, metric
    run.add(Series(key=SeriesKey(metric="macro_recall", split="train"), steps=steps, values=np.zeros(6)))
    assert one_class_facts(run)["recall_zero_frac"] == 1.0


REAL41 = Path(__file__).resolve().parent.parent / "fixtures" / "qa_real41" / "logs"


def test_a_low_recall_beside_a_high_accuracy_bounds_the_class_share():
    """qa_real41's 3 %-positive Keras run: val recall 0.13 beside val accuracy 0.974 holds the
    positive class to (1 - 0.974) / (1 - 0.13) = 3 % at most; its fixed (class-weighted) run
    recalls far more."""
    pair = "kb_transactions_3pct_positives_no_class_weight_callback_verbose2_stdout_tf"
    (run,) = read(REAL41 / pair / "buggy")
    d = compute_facts(run)["degen"]
    assert d["recall_last"] == pytest.approx(0.1333, abs=1e-3)
    assert d["minority_share_max"] == pytest.approx(0.026 / (1 - 0.1333), abs=2e-3)
    assert d["recall_zero_frac"] < 1.0
    (fixed,) = read(REAL41 / pair / "fixed")
    assert compute_facts(fixed)["degen"]["recall_last"] >= 0.3
