"""Beginners' logs the readers skipped or misread (issue 10, qa_begin50): Korean column names,
the epoch and step columns of German, French, Spanish, Italian and Portuguese notebooks, and
numpy's ``savetxt`` table whose header sits behind a ``# `` comment mark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.api import read
from traindx.names import map_name


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("손실", "train/loss"), ("검증_손실", "val/loss"), ("검증손실", "val/loss"), ("정확도", "train/accuracy"),
        ("검증_정확도", "val/accuracy"), ("학습_손실", "train/loss"), ("훈련 정확도", "train/accuracy"),
        ("테스트_손실", "test/loss"), ("학습률", "train/lr"), ("val_손실", "val/loss"),
    ],
)  # fmt: skip
def test_loss_accuracy_and_split_words_of_korean(name: str, key: str) -> None:
    assert str(map_name(name)) == key


@pytest.mark.parametrize("name", ["에폭", "에포크", "스텝", "Epoche", "Época", "époque", "epoca", "Schritt", "paso"])
def test_epoch_and_step_words_of_other_languages_are_axes(name: str) -> None:
    assert map_name(name) is None


def _rows(n: int, sep: str = ",", comma: bool = False) -> str:
    lines = []
    for e in range(1, n + 1):
        cells = [str(e)] + [f"{v:.4f}" for v in (0.5 + 0.03 * e, 1.6 - 0.1 * e, 0.5 + 0.02 * e, 1.5 - 0.08 * e)]
        lines.append(sep.join(c.replace(".", ",") if comma else c for c in cells))
    return "\n".join(lines) + "\n"


def test_a_csv_with_korean_columns_and_a_bom_is_read_per_epoch(tmp_path: Path) -> None:
    (tmp_path / "학습기록.csv").write_text("\ufeff에폭,정확도,손실,검증_정확도,검증_손실\n" + _rows(8), encoding="utf-8")
    (run,) = read(tmp_path)
    assert set(run.series) == {"train/loss", "val/loss", "train/accuracy", "val/accuracy"}
    assert list(run.series["val/loss"].steps) == list(range(1, 9))


@pytest.mark.parametrize(
    ("header", "sep", "comma"),
    [
        ("Epoche;Genauigkeit;Verlust;Val_Genauigkeit;Val_Verlust", ";", True),
        ("época,acurácia,perda,acurácia_val,perda_val", ",", False),
        ("époque,exactitude,perte,exactitude_validation,perte_validation", ",", False),
        ("epoca,accuratezza,perdita,accuratezza_validazione,perdita_validazione", ",", False),
    ],
    ids=["german", "portuguese", "french", "italian"],
)
def test_the_epoch_column_of_a_european_notebook_is_the_x_axis(tmp_path: Path, header: str, sep: str, comma: bool) -> None:
    (tmp_path / "history.csv").write_text(header + "\n" + _rows(6, sep, comma), encoding="utf-8")
    (run,) = read(tmp_path)
    assert {"train/loss", "val/loss"} <= set(run.series)
    assert list(run.series["train/loss"].steps) == list(range(1, 7))  # the logged epochs, not the row numbers
    assert run.series["train/loss"].values[0] == pytest.approx(1.5)


def test_a_np_savetxt_table_with_a_commented_header_is_read(tmp_path: Path) -> None:
    table = np.c_[np.linspace(2.0, 0.3, 12), np.linspace(2.1, 0.5, 12), np.linspace(1.2, 0.4, 12)]
    np.savetxt(tmp_path / "history.txt", table, header="loss val_loss mae")
    (run,) = read(tmp_path)
    assert {"train/loss", "val/loss", "train/mae"} <= set(run.series)
    assert len(run.series["val/loss"].values) == 12
    assert run.series["val/loss"].values[-1] == pytest.approx(0.5)


def test_a_np_savetxt_table_of_nan_reads_nan_and_no_series_named_nan(tmp_path: Path) -> None:
    table = np.full((8, 2), np.nan)
    np.savetxt(tmp_path / "history.txt", table, header="loss val_loss")
    (run,) = read(tmp_path)
    assert set(run.series) == {"train/loss", "val/loss"}
    assert np.isnan(run.series["train/loss"].values).all()
    assert len(run.series["train/loss"].values) == 8


def test_per_epoch_validation_lands_at_the_epoch_ends_of_a_batch_counter_that_restarts(tmp_path: Path) -> None:
    """``epoch,batch,loss`` with ``batch`` 1..10 in every epoch beside ``epoch,val_loss``: the
    batch count is renumbered 1..40, and epoch e's validation point sits at step 10 e."""
    batches = "\n".join(f"{e},{b},{2.0 - 0.01 * (10 * e + b):.4f}" for e in range(1, 5) for b in range(1, 11))
    (tmp_path / "batch_log.csv").write_text("epoch,batch,loss\n" + batches + "\n")
    (tmp_path / "val_log.csv").write_text("epoch,val_loss\n" + "\n".join(f"{e},{2.0 - 0.1 * e:.3f}" for e in range(1, 5)) + "\n")
    (run,) = read(tmp_path)
    assert list(run.series["train/loss"].steps) == list(range(1, 41))
    assert list(run.series["val/loss"].steps) == [10, 20, 30, 40]
