"""map_name over the naming conventions of Keras, torch, Lightning, HuggingFace and traindx."""

from __future__ import annotations

import pytest

from traindx.name_options import parse_map_option
from traindx.names import explain_mapping, is_bookkeeping, map_name
from traindx.schema import SeriesKey

# (logged name, default_split, expected key string)
MAPPED = [
    # Keras 3 TensorBoard: split from the train/ or validation/ directory.
    ("epoch_loss", None, "train/loss"),
    ("epoch_loss", "validation", "val/loss"),
    ("epoch_accuracy", "train", "train/accuracy"),
    ("epoch_accuracy", "validation", "val/accuracy"),
    ("epoch_learning_rate", "train", "train/lr"),
    ("batch_loss", "train", "train/loss:step"),
    ("evaluation_loss_vs_iterations", "validation", "val/loss:step"),
    ("evaluation_accuracy_vs_iterations", None, "val/accuracy:step"),
    ("epoch_sparse_categorical_accuracy", "validation", "val/accuracy"),
    # Keras CSVLogger / History.
    ("loss", None, "train/loss"),
    ("accuracy", None, "train/accuracy"),
    ("acc", None, "train/accuracy"),
    ("val_loss", None, "val/loss"),
    ("val_loss", "train", "val/loss"),  # the name's own split wins
    ("val_accuracy", None, "val/accuracy"),
    ("val_acc", None, "val/accuracy"),
    ("lr", None, "train/lr"),
    ("learning_rate", None, "train/lr"),
    ("sparse_categorical_accuracy", None, "train/accuracy"),
    ("categorical_accuracy", None, "train/accuracy"),
    ("binary_accuracy", None, "train/accuracy"),
    ("val_sparse_categorical_accuracy", None, "val/accuracy"),
    ("val_binary_accuracy", None, "val/accuracy"),
    ("mae", None, "train/mae"),
    ("mse", None, "train/mse"),
    ("val_mae", None, "val/mae"),
    ("mean_absolute_error", None, "train/mae"),  # Keras' name of the MAE: the stand-in mae
    ("top_k_categorical_accuracy", None, "train/top_k_categorical_accuracy"),
    # torch SummaryWriter / tensorboardX.
    ("train/loss", None, "train/loss"),
    ("Loss/train", None, "train/loss"),
    ("loss/val", None, "val/loss"),
    ("Accuracy/test", None, "test/accuracy"),
    ("train_loss", None, "train/loss"),
    ("valid_loss", None, "val/loss"),
    ("validation/accuracy", None, "val/accuracy"),
    ("eval/loss", None, "val/loss"),
    ("test_loss", None, "test/loss"),
    ("dev_acc", None, "val/accuracy"),
    ("trn_loss", None, "train/loss"),
    ("tr_loss", None, "train/loss"),
    ("va_loss", None, "val/loss"),
    ("va_acc", None, "val/accuracy"),
    ("loss_val", None, "val/loss"),
    ("grad_norm", None, "train/grad_norm"),
    ("grad_norm/fc1.weight", None, "train/grad_norm@fc1.weight"),
    ("gradients/layer1", None, "train/grad_norm@layer1"),
    ("gradient_norm", None, "train/grad_norm"),
    ("grad-norm", None, "train/grad_norm"),
    ("total_norm", None, "train/grad_norm"),
    ("weight_norm", None, "train/weight_norm"),
    ("param_norm", None, "train/weight_norm"),
    ("update_ratio", None, "train/update_ratio"),
    ("update_to_weight", None, "train/update_ratio"),
    ("LearningRate", None, "train/lr"),
    ("Train/Loss", None, "train/loss"),
    ("valLoss", None, "val/loss"),
    # Top-1, error, perplexity and other non-canonical metrics.
    ("top1", None, "train/accuracy"),
    ("acc@1", None, "train/accuracy"),
    ("val/acc@1", None, "val/accuracy"),
    ("Top-1 Accuracy", None, "train/accuracy"),
    ("prec@1", None, "train/accuracy"),
    ("top5", None, "train/top5_accuracy"),
    ("acc@5", None, "train/top5_accuracy"),
    ("error", None, "train/error"),
    ("err", None, "train/error"),
    ("val_error", None, "val/error"),
    ("top1_err", None, "train/error"),
    ("perplexity", None, "train/perplexity"),
    ("ppl", None, "train/perplexity"),
    ("eval/ppl", None, "val/perplexity"),
    ("f1", None, "train/f1"),
    ("val_auc", None, "val/auc"),
    ("AUC", None, "train/auc"),
    ("precision", None, "train/precision"),
    ("recall", None, "train/recall"),
    # one class's F1/precision/recall qualified by the class or the scheme (seqeval's entity/overall
    # scores in the HF Trainer's eval_ names, binary/positive-class scores, per-class scores) and
    # scikit-learn's function names (issue 10, qa_fresh37: eval_entity_f1 was not read)
    ("eval_entity_f1", None, "val/entity_f1"),
    ("eval/entity_recall", None, "val/entity_recall"),
    ("eval_overall_precision", None, "val/overall_precision"),
    ("val_binary_f1", None, "val/binary_f1"),
    ("f1_binary", None, "train/f1_binary"),
    ("test/f1_pos", None, "test/f1_pos"),
    ("recall_class1", None, "train/recall_class1"),
    ("fraud_precision", None, "train/fraud_precision"),
    ("val_precision_score", None, "val/precision"),
    ("recall_score", None, "train/recall"),
    ("val_roc_auc_score", None, "val/roc_auc"),
    ("val_f1_1", None, "val/f1"),  # a Keras instance number is still dropped
    ("val_macro_f1", None, "val/f1_macro"),
    ("kl_loss", None, "train/kl_loss"),
    # PyTorch Lightning.
    ("train_loss_step", None, "train/loss:step"),
    ("train_loss_epoch", None, "train/loss"),
    ("val_acc_epoch", None, "val/accuracy"),
    ("lr-Adam", None, "train/lr"),
    ("lr-SGD/pg1", None, "train/lr@pg1"),
    ("lr-Adam-momentum", None, "train/momentum"),
    # HuggingFace Trainer.
    ("eval/accuracy", None, "val/accuracy"),
    # torch SummaryWriter tags grouped by granularity (fixtures/qa_real27's StepLR autoencoder):
    # 'epoch/' and 'batch/' are tag groups, not the epoch or batch axis.
    ("epoch/loss", None, "train/loss"),
    ("epoch/lr", None, "train/lr"),
    ("epoch/val_loss", None, "val/loss"),
    ("Epoch/Accuracy", None, "train/accuracy"),
    ("batch/loss", None, "train/loss:step"),
    ("train/learning_rate", None, "train/lr"),
    ("train/grad_norm", None, "train/grad_norm"),
    ("eval_loss", None, "val/loss"),
    # traindx's own adapter tags are canonical key strings.
    ("val/loss", None, "val/loss"),
    ("val/loss", "train", "val/loss"),
    ("train/grad_norm@fc1.weight", None, "train/grad_norm@fc1.weight"),
    ("train/act_frac_zero@conv1:mean", None, "train/act_frac_zero@conv1:mean"),
    ("train/update_ratio@Encoder.Layer0", None, "train/update_ratio@Encoder.Layer0"),
    ("test/pred_class_frac@3", None, "test/pred_class_frac@3"),
    ("train/nonfinite", None, "train/nonfinite"),
]

NOT_MAPPED = [
    "step", "epoch", "Step", "time", "global_step", "wall_time", "_runtime", "_timestamp",
    "_step", "Unnamed: 0", "train/epoch", "trainer/global_step", "iteration", "timestamp",
    "hp_metric", "epoch_steps_per_second", "eval/samples_per_second", "train/train_runtime",
    "train/total_flos", "foo", "my_custom_thing", "train", "", "batch_size", "epoch/step",
]  # fmt: skip


@pytest.mark.parametrize(("raw", "default_split", "expected"), MAPPED)
def test_map_name(raw: str, default_split: str | None, expected: str) -> None:
    key = map_name(raw, default_split=default_split)
    assert key is not None, explain_mapping(raw, default_split=default_split)
    assert str(key) == expected, explain_mapping(raw, default_split=default_split)


@pytest.mark.parametrize("raw", NOT_MAPPED)
def test_not_a_series(raw: str) -> None:
    assert map_name(raw) is None, explain_mapping(raw)


def test_table_is_large() -> None:
    assert len(MAPPED) + len(NOT_MAPPED) >= 60


@pytest.mark.parametrize(
    "key",
    [
        SeriesKey(metric="loss", split="val"),
        SeriesKey(metric="grad_norm", scope="fc1.weight"),
        SeriesKey(metric="act_frac_zero", scope="conv1", statistic="mean"),
        SeriesKey(metric="loss", statistic="step"),
        SeriesKey(metric="f1", split="test", statistic="step"),
    ],
)
def test_key_strings_round_trip(key: SeriesKey) -> None:
    assert map_name(str(key)) == key
    assert SeriesKey.parse(str(key)) == key


def test_bookkeeping() -> None:
    assert is_bookkeeping("epoch") and is_bookkeeping("train/epoch") and is_bookkeeping("_runtime")
    assert not is_bookkeeping("loss") and not is_bookkeeping("foo")


def test_overrides_win() -> None:
    overrides = {"my_metric": "loss", "Score/Holdout": "test/accuracy", "acc": "val/accuracy"}
    assert str(map_name("my_metric", overrides)) == "train/loss"
    assert str(map_name("val_my_metric", {"val_my_metric": "loss"})) == "val/loss"
    assert str(map_name("my_metric", overrides, default_split="validation")) == "val/loss"
    assert str(map_name("score/holdout", overrides)) == "test/accuracy"  # case-insensitive
    assert str(map_name("acc", overrides)) == "val/accuracy"
    assert str(map_name("acc")) == "train/accuracy"


def test_explain_mapping_names_the_rule() -> None:
    assert "Keras TensorBoard 'epoch_' prefix" in explain_mapping("epoch_loss")
    assert "Lightning '_step' suffix" in explain_mapping("train_loss_step")
    assert "traindx key string" in explain_mapping("train/grad_norm@fc1.weight")
    assert "not mapped" in explain_mapping("step")
    assert "--map" in explain_mapping("foo")
    assert "--map foo=loss" in explain_mapping("foo", {"foo": "loss"})


def test_parse_map_option() -> None:
    assert parse_map_option([]) == {}
    assert parse_map_option(["custom=loss", "x = acc", "holdout=validation/accuracy"]) == {
        "custom": "loss",
        "x": "accuracy",
        "holdout": "val/accuracy",
    }
    assert parse_map_option(["g=train/grad_norm@fc1.weight"]) == {"g": "train/grad_norm@fc1.weight"}
    assert parse_map_option(["score=f1"]) == {"score": "f1"}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("custom", "expected NAME=METRIC"),
        ("custom=", "expected NAME=METRIC"),
        ("=loss", "expected NAME=METRIC"),
        ("custom=lose", "unknown metric 'lose'"),
        ("custom=holdout/loss", "'holdout' is not a split"),
        ("custom=val/", "unknown metric"),
    ],
)
def test_parse_map_option_errors(item: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as err:
        parse_map_option([item])
    assert item in str(err.value) or item.startswith("=")


def test_a_summarywriter_epoch_tag_group_is_read() -> None:
    """fixtures/qa_real27's StepLR autoencoder logs ``epoch/loss``, ``epoch/lr`` and
    ``epoch/val_loss`` with torch's SummaryWriter: all three are series (the learning rate that
    fell from 1e-3 to 1e-71 was dropped as an axis column before)."""
    from pathlib import Path

    from traindx.api import read

    run_dir = Path(__file__).resolve().parent.parent / "fixtures" / "qa_real27" / "logs"
    (run,) = read(run_dir / "torch_digits_autoencoder_steplr_every_batch" / "buggy")
    keys = {str(k) for k in run.series}
    assert {"train/lr", "train/loss", "val/loss", "train/loss:step"} <= keys, keys
    lr = run.series[next(k for k in run.series if str(k) == "train/lr")]
    assert len(lr) == 25
