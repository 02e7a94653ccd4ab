"""Names of beginners' own logs the readers skipped (issue 10, qa_begin48): loss and accuracy
words in other languages, lists named ``<metric>_history``, split short forms with a metric
letter (``tr_l``/``va_l``/``va_a``), and a column whose values are all NaN (read and counted,
never dropped). Also: an adapter fact over an all-NaN input column prints no numpy warning."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from traindx.adapters._common.splits import input_shift
from traindx.api import read
from traindx.names import map_name, paired_names


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Verlust", "train/loss"), ("Val_Verlust", "val/loss"), ("Genauigkeit", "train/accuracy"),
        ("perte", "train/loss"), ("perte_val", "val/loss"), ("exactitude_val", "val/accuracy"),
        ("costo", "train/loss"), ("costo_val", "val/loss"), ("pérdida", "train/loss"),
        ("pérdida_validación", "val/loss"), ("precisión_val", "val/precision"), ("perdita", "train/loss"),
        ("accuratezza_validazione", "val/accuracy"), ("perda_treino", "train/loss"), ("acurácia", "train/accuracy"),
        ("custo_teste", "test/loss"), ("coût", "train/loss"), ("exactitud_entrenamiento", "train/accuracy"),
        ("cost_history", "train/loss"), ("val_cost_history", "val/loss"), ("acc_history", "train/accuracy"),
        ("val_acc_history", "val/accuracy"), ("loss_history", "train/loss"), ("loss_curve", "train/loss"),
    ],
)  # fmt: skip
def test_loss_and_accuracy_words_of_other_languages_and_history_lists(name: str, key: str) -> None:
    assert str(map_name(name)) == key


@pytest.mark.parametrize("name", ["perdido", "costume", "history", "verlustfrei", "val_history"])
def test_words_that_only_look_alike_are_not_read(name: str) -> None:
    found = map_name(name)
    assert found is None or found.metric not in ("loss", "accuracy")


def test_split_short_forms_with_a_metric_letter_are_read_where_the_file_shows_the_habit() -> None:
    assert paired_names(["ep", "tr_l", "va_l", "va_a"]) == {
        "tr_l": "train/loss", "va_l": "val/loss", "va_a": "val/accuracy"}  # fmt: skip
    assert paired_names(["tr_a", "te_a", "tr_l"]) == {
        "tr_a": "train/accuracy", "te_a": "test/accuracy", "tr_l": "train/loss"}  # fmt: skip
    assert paired_names(["tr_l"]) == {}  # alone: could mean anything
    assert paired_names(["tr_l", "va_l", "lr"]) == {}  # beside other names: not the habit
    assert paired_names(["tr_a", "va_a"]) == {}  # no loss among them
    assert paired_names(["trl", "val"]) == {}  # no separator: not the form


def test_a_csv_with_split_short_forms_reads_each_split(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.5 - 0.02 * e:.3f},{1.6 - 0.02 * e:.3f},{0.3 + 0.01 * e:.3f}" for e in range(12))
    (tmp_path / "log.csv").write_text("ep,tr_l,va_l,va_a\n" + rows + "\n")
    (run,) = read(tmp_path)
    assert {"train/loss", "val/loss", "val/accuracy"} <= set(run.series)
    assert len(run.series["val/accuracy"].steps) == 12


def test_a_json_history_in_german_is_read(tmp_path: Path) -> None:
    doc = {"Verlust": [2.3 - 0.1 * i for i in range(10)], "Val_Verlust": [2.4 - 0.1 * i for i in range(10)],
           "Genauigkeit": [0.1 + 0.05 * i for i in range(10)]}  # fmt: skip
    (tmp_path / "verlauf.json").write_text(json.dumps(doc))
    (run,) = read(tmp_path)
    assert {"train/loss", "val/loss", "train/accuracy"} <= set(run.series)


def test_a_column_whose_values_are_all_nan_is_read_and_counted(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},,{0.5 - 0.01 * e:.3f}" for e in range(20))
    (tmp_path / "historial.csv").write_text(",costo,error_abs\n" + rows + "\n")
    (run,) = read(tmp_path)
    values = np.asarray(run.series["train/loss"].values, dtype=float)
    assert len(values) == 20 and np.isnan(values).all()


def test_input_statistics_over_an_all_nan_column_print_no_warning() -> None:
    rng = np.random.default_rng(0)
    x, vx = rng.normal(size=(200, 4)), rng.normal(size=(60, 4))
    x[:, 2], vx[:, 2] = np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        f = input_shift(x, vx)
    assert f["val_input_shift"] < 0.5 and 0.6 < f["val_input_std_ratio"] < 1.6
