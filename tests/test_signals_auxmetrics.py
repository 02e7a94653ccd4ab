"""The aux facts (R^2, AUC, F1/precision, error metrics against the loss) on the Q&A logs
that showed them - each buggy run has the mark, its fixed run not - and on synthetic runs for
the bounds (absurd hand-written values, too few points)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.readers import read
from traindx.schema import Run, Series, SeriesKey
from traindx.signals import compute_facts
from traindx.signals.auxmetrics import aux_facts

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def facts(qa_set: str, pair: str, which: str) -> dict:
    (run,) = read(FIX / qa_set / "logs" / pair / which)
    return compute_facts(run).get("aux", {})


def synthetic(**series: list[float]) -> Run:
    run = Run(id="aux")
    for name, values in series.items():
        split, _, metric = name.rpartition("__")
        key = SeriesKey(metric=metric, split=split or "train")
        run.add(Series(key=key, steps=np.arange(len(values)), values=np.asarray(values, dtype=float)))
    return run


def test_loss_at_zero_beside_a_flat_mae_is_a_loss_that_measures_nothing():
    buggy = facts("qa_real27", "kr_diabetes_wide_deep_categorical_ce_torch", "buggy")
    assert buggy["err_flat"] and buggy["err_gain"] < 0.05
    fixed = facts("qa_real27", "kr_diabetes_wide_deep_categorical_ce_torch", "fixed")
    assert not fixed.get("err_flat", False)


def test_r2_never_above_zero_and_its_fix():
    assert facts("qa_real26", "kr_custom_mae_without_abs_torch", "buggy")["r2_best"] < 0
    assert facts("qa_real26", "kr_custom_mae_without_abs_torch", "fixed")["r2_best"] > 0.3


def test_auc_at_chance_and_f1_at_zero():
    assert facts("qa_fresh26", "kb_tabular_store_embedding_relu_bias_minus1_tf", "buggy")["auc_dev"] < 0.05
    assert facts("qa_real27", "torch_churn_class_weight_inverted", "buggy")["pos_zero"]
    assert not facts("qa_real27", "torch_churn_class_weight_inverted", "fixed").get("pos_zero", False)


def test_absurd_values_are_bounded_and_short_series_ignored():
    a = aux_facts(synthetic(val__r2=[-4.7e13, -3e5, -2e4], val__auc=[0.5, 0.5]))
    assert a == {"r2_best": -1e3}  # clipped; a two-point AUC says nothing
    a = aux_facts(synthetic(val__r2=[np.nan, np.inf, 0.4, 0.5, 0.6]))
    assert a["r2_best"] == 0.6


def test_loss_and_metric_falling_together_is_no_disagreement():
    a = aux_facts(synthetic(loss=list(1.0 * 0.8 ** np.arange(10)), mae=list(5.0 * 0.9 ** np.arange(10))))
    assert not a["err_flat"] and a["loss_gain"] > 0.5 and a["err_gain"] > 0.5
    a = aux_facts(synthetic(loss=list(1.0 * 0.8 ** np.arange(10)), mae=[5.0] * 10))
    assert a["err_flat"]
    a = aux_facts(synthetic(loss=[2e-5] * 10, mae=[148.0] * 10))  # a loss at 0 from the start
    assert a["err_flat"] and a["loss_gain"] == 0.0


def test_validation_perplexity_at_one_is_a_model_that_sees_its_target():
    # targets not shifted against the inputs (data_leakage): every held-out character "predicted"
    assert facts("qa_fresh27", "torch_char_gru_lm_targets_not_shifted", "buggy")["val_ppl_min"] <= 1.05
    assert facts("qa_fresh27", "torch_char_gru_lm_targets_not_shifted", "fixed")["val_ppl_min"] > 1.15
    # a training perplexity is not read (memorizing a training set is not leakage)
    assert "val_ppl_min" not in aux_facts(synthetic(train__perplexity=[20.0, 3.0, 1.0, 1.0]))


def test_dice_or_iou_best_and_a_mean_iou_left_out():
    got = aux_facts(synthetic(val__dice=[0.0, 0.01, 0.02], val__iou=[0.0, 0.0, 0.03]))
    assert got["overlap_best"] == 0.03
    assert "overlap_best" not in aux_facts(synthetic(val__miou=[0.0, 0.0, 0.0]))
    assert facts("qa_fresh27", "kb_seg_flip_augment_image_not_mask_tf", "fixed")["overlap_best"] > 0.9


def test_error_metric_against_the_adapters_trivial_level():
    run = synthetic(loss=[1.0, 0.9, 0.8, 0.7], val__mae=[2.2, 2.1, 2.05, 2.1], val__rmse=[3.0, 2.9, 2.95, 2.9])
    assert "err_trivial" not in aux_facts(run)  # no target statistics recorded
    run.context.flags.update(trivial_mae=2.0, trivial_mse=9.0)
    assert abs(aux_facts(run)["err_trivial"] - min(2.05 / 2.0, 2.9 / 3.0)) < 1e-9


def test_a_loss_that_is_the_dice_it_should_raise():
    """qa_real37 `model.compile(loss=dice_coef)`: history.json's loss and dice_coef are one series
    falling to 0; the Keras callback logs the loss per step, the Dice per epoch (its interval
    mean is the Dice). `1 - dice_coef` (the fix) is no such series."""
    pair = "kb_shapes_small_unet_dice_coef_passed_as_loss_callback_history_json_tf"
    for which in ("buggy", "buggy_adapter"):
        assert facts("qa_real37", pair, which).get("loss_is_quality") is True
    for which in ("fixed", "fixed_adapter"):
        assert "loss_is_quality" not in facts("qa_real37", pair, which)
    run = Run(id="aux")
    loss = np.repeat([0.6, 0.4, 0.2, 0.1], 5) + np.tile([0.01, -0.01, 0.02, -0.02, 0.0], 4)
    run.add(Series(key=SeriesKey(metric="loss", split="train"), steps=np.arange(20), values=loss))
    acc = np.array([0.6, 0.4, 0.2, 0.1])
    run.add(Series(key=SeriesKey(metric="accuracy", split="train"), steps=np.arange(4, 20, 5), values=acc))
    assert aux_facts(run).get("loss_is_quality") is True
    run.series["train/accuracy"] = Series(
        key=SeriesKey(metric="accuracy", split="train"), steps=np.arange(4, 20, 5), values=acc + 0.05
    )
    assert "loss_is_quality" not in aux_facts(run)


def test_one_class_scores_however_qualified_are_read_averaged_ones_not():
    """An F1, precision or recall of one class is 0 at every evaluation when that class is never
    predicted right, whatever prefix or suffix names the class; a macro/weighted F1 or an
    average precision of a one-class predictor is not 0 (signals/degenerate.py reads those)."""
    zeros, rising = [0.0] * 5, [0.0, 0.1, 0.3, 0.5, 0.6]
    for name in ("val__entity_f1", "val__overall_f1", "val__binary_f1", "test__f1_pos", "val__recall_class1",
                 "val__fraud_precision", "val__entity_recall", "val__recall"):
        assert aux_facts(synthetic(**{name: zeros}))["pos_zero"], name
        assert not aux_facts(synthetic(**{name: rising}))["pos_zero"], name
    for name in ("val__f1_macro", "val__f1_weighted", "val__macro_recall", "val__average_precision",
                 "val__mean_average_precision"):
        assert "pos_zero" not in aux_facts(synthetic(**{name: zeros})), name


def test_entity_f1_at_zero_read_from_an_hf_trainer_state():
    """qa_fresh37: sentences shuffled apart from their tags - seqeval's entity F1 (eval_entity_f1)
    is 0.000 at every evaluation; the fixed run's reaches 1."""
    pair = "hf_trainer_tiny_bert_token_tags_sentences_shuffled_without_labels"
    assert facts("qa_fresh37", pair, "buggy")["pos_zero"]
    assert not facts("qa_fresh37", pair, "fixed")["pos_zero"]


def test_a_loss_that_falls_by_orders_of_magnitude_while_the_error_metric_halves():
    """qa_fresh41's MSLE on a z-scored target: the loss falls 0.038 -> 0.00027 (140x) while the
    logged MSE only halves 0.77 -> 0.39 - the metric followed 14 % of the loss's fall (log scale)."""
    buggy = facts("qa_fresh41", "kt_swiss_roll_standardized_position_msle_loss_history_json_torch", "buggy")
    assert buggy["err_flat"] and buggy["err_share"] < 0.2 and buggy["err_gain"] > 0.4
    fixed = facts("qa_fresh41", "kt_swiss_roll_standardized_position_msle_loss_history_json_torch", "fixed")
    assert not fixed["err_flat"]


def test_an_mae_beside_an_mse_loss_follows_half_its_fall_and_is_no_disagreement():
    loss = 1.0 * 0.7 ** np.arange(20.0)  # 1,000x
    a = aux_facts(synthetic(loss=list(loss), mae=list(2.0 * np.sqrt(loss))))
    assert not a["err_flat"] and abs(a["err_share"] - 0.5) < 1e-9
    a = aux_facts(synthetic(loss=list(loss), mae=list(2.0 * loss ** 0.1)))
    assert a["err_flat"]
