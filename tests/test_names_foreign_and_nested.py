"""Names and shapes of beginners' own logs the readers skipped (issue 10, qa_begin49): loss,
accuracy, split and axis words in Japanese, Chinese and Russian (also in a non-ASCII file name),
a history JSON nested split -> metric or metric -> split, ``_te`` as the test split beside
``_tr``, plural ``accs`` lists."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from traindx.api import read
from traindx.errors import ReadError
from traindx.names import map_name


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("训练损失", "train/loss"), ("验证损失", "val/loss"), ("验证准确率", "val/accuracy"), ("训练精度", "train/accuracy"),
        ("測試損失", "test/loss"), ("驗證損失", "val/loss"), ("損失", "train/loss"), ("検証損失", "val/loss"),
        ("検証正解率", "val/accuracy"), ("訓練損失", "train/loss"), ("学習率", "train/lr"), ("精度", "train/accuracy"),
        ("потери", "train/loss"), ("потери_вал", "val/loss"), ("точность", "train/accuracy"),
        ("точность_вал", "val/accuracy"), ("Потери на обучении", "train/loss"), ("точность на валидации", "val/accuracy"),
        ("val_точность", "val/accuracy"), ("loss_te", "test/loss"), ("acc_te", "test/accuracy"),
        ("loss_tr", "train/loss"), ("train_accs", "train/accuracy"), ("val_accs", "val/accuracy"),
        ("val_accuracies", "val/accuracy"), ("验证集损失", "val/loss"), ("训练集准确率", "train/accuracy"),
        ("テストデータ損失", "test/loss"), ("交差エントロピー", "train/cross_entropy"),
        ("потери_тест", "test/loss"), ("точность на тестовой", "test/accuracy"),
    ],
)  # fmt: skip
def test_loss_accuracy_and_split_words_of_japanese_chinese_and_russian(name: str, key: str) -> None:
    assert str(map_name(name)) == key


@pytest.mark.parametrize("name", ["轮次", "エポック", "эпоха", "Эпоха", "ステップ"])
def test_epoch_and_step_words_are_axes(name: str) -> None:
    assert map_name(name) is None


@pytest.mark.parametrize("name", ["вальс", "наклон", "тестостерон_уровень", "损耗率", "クロス", "精确率"])
def test_words_that_only_look_alike_are_not_read_as_loss_or_accuracy(name: str) -> None:
    found = map_name(name)
    assert found is None or found.metric not in ("loss", "accuracy")


def test_a_csv_with_a_chinese_file_name_and_chinese_columns_is_read(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.6 - 0.05 * e:.3f},{1.5 - 0.04 * e:.3f},{0.4 + 0.02 * e:.3f}" for e in range(1, 13))
    (tmp_path / "训练记录.csv").write_text("轮次,训练损失,验证损失,验证准确率\n" + rows + "\n", encoding="utf-8")
    (run,) = read(tmp_path)
    assert {"train/loss", "val/loss", "val/accuracy"} <= set(run.series)
    assert list(run.series["val/loss"].steps) == list(range(1, 13))


def test_a_csv_with_russian_columns_is_read(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{0.3 + 0.02 * e:.3f},{2.0 - 0.05 * e:.3f},{0.3 + 0.02 * e:.3f},{2.1 - 0.05 * e:.3f}"
                     for e in range(1, 11))  # fmt: skip
    (tmp_path / "история.csv").write_text("эпоха,точность,потери,точность_вал,потери_вал\n" + rows + "\n")
    (run,) = read(tmp_path)
    assert {"train/loss", "val/loss", "train/accuracy", "val/accuracy"} == set(run.series)


@pytest.mark.parametrize(
    "doc",
    [
        {"train": {"loss": [1.0, 0.8, 0.6, 0.5], "acc": [0.5, 0.6, 0.7, 0.8]}, "valid": {"loss": [1.1, 0.9, 0.8, 0.7]}},
        {"loss": {"train": [1.0, 0.8, 0.6, 0.5], "val": [1.1, 0.9, 0.8, 0.7]}, "acc": {"train": [0.5, 0.6, 0.7, 0.8]}},
    ],
    ids=["split_then_metric", "metric_then_split"],
)
def test_a_history_json_nested_one_level_is_read_with_the_outer_or_inner_key_as_split(tmp_path: Path, doc: dict) -> None:
    (tmp_path / "metrics.json").write_text(json.dumps(doc))
    (run,) = read(tmp_path)
    assert set(run.series) == {"train/loss", "train/accuracy", "val/loss"}
    assert list(run.series["val/loss"].values) == pytest.approx([1.1, 0.9, 0.8, 0.7])


def test_a_pickled_nested_history_is_read(tmp_path: Path) -> None:
    doc = {"train": {"loss": [1.0, 0.8, 0.6]}, "val": {"loss": [1.1, 0.9, 0.8]}}
    (tmp_path / "hist.pkl").write_bytes(pickle.dumps(doc))
    (run,) = read(tmp_path)
    assert set(run.series) == {"train/loss", "val/loss"}


def test_a_nested_json_that_is_no_history_is_not_read_as_one(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text(json.dumps({"config": {"lr": 0.1, "layers": 3}, "train": {"loss": [1.0, 0.5]}}))
    with pytest.raises(ReadError, match="metrics.json|no recognizable series"):
        read(tmp_path)
