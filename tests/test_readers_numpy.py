"""Loss curves saved with NumPy (``np.save``, ``np.savez``) read as logs (issue 10,
fixtures/qa_fresh27), and a Keras 3 ``fit(verbose=1)`` capture's repeated final bar state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import traindx
from traindx.errors import ReadError
from traindx.names import map_name
from traindx.readers.discovery import discover
from traindx.readers.numpy_arrays import numpy_kind, read_numpy, series_name
from traindx.readers.textlog import read_text_log

QA27 = Path(__file__).parent.parent / "fixtures" / "qa_fresh27" / "logs"


def _notes(run: traindx.Run) -> str:
    return "\n".join(p.message for p in run.ingest.problems)


def test_names_from_file_stems() -> None:
    assert series_name("train_losses") == "train_losses"  # map_name reads it already
    assert series_name("d_losses") == "d_loss"
    # plural accuracy names map as they are since gapsb49 (map_name reads accs / accuracies)
    for plural, singular in (("val_accuracies", "val_accuracy"), ("train_accs", "train_acc")):
        assert series_name(plural) == plural
        assert map_name(plural, None) == map_name(singular, None) is not None
    for data in ("X_train", "y_train", "embeddings", "labels", "preds", "history"):
        assert series_name(data) is None, data


def test_npy_files_are_series_and_data_arrays_are_not_logs(tmp_path: Path) -> None:
    np.save(tmp_path / "train_losses.npy", np.linspace(2.0, 0.5, 12))
    np.save(tmp_path / "val_accuracies.npy", np.linspace(0.3, 0.9, 12))
    np.save(tmp_path / "X_train.npy", np.zeros((30, 4)))  # a dataset beside them
    assert numpy_kind(tmp_path / "X_train.npy") is None
    found = discover(tmp_path)
    assert sorted(f.name for f, _ in found[tmp_path]) == ["train_losses.npy", "val_accuracies.npy"]
    (run,) = traindx.read(tmp_path)
    loss, acc = run.series["train/loss"], run.series["val/accuracy"]
    assert loss.values.tolist() == pytest.approx(np.linspace(2.0, 0.5, 12).tolist())
    assert loss.steps.tolist() == list(range(12)) and acc.steps.tolist() == list(range(12))
    assert "index order" in _notes(run)
    assert not run.ingest.unmapped


def test_npz_keys_and_a_shorter_array_read_per_epoch(tmp_path: Path) -> None:
    np.savez(tmp_path / "history.npz", loss=np.linspace(1.0, 0.2, 40), val_loss=np.linspace(1.1, 0.4, 4), seed=np.arange(3))
    assert numpy_kind(tmp_path / "history.npz") == "numpy"
    (run,) = traindx.read(tmp_path)
    assert run.series["train/loss"].steps.tolist() == list(range(40))
    val = run.series["val/loss"]
    assert val.steps.tolist() == [9, 19, 29, 39]  # the last step of each of 4 epochs of 10
    assert val.values.tolist() == pytest.approx(np.linspace(1.1, 0.4, 4).tolist())
    assert "per-epoch" in _notes(run)
    np.savez(tmp_path / "arrays.npz", x=np.zeros(3), y=np.ones(3))  # data only: not a log
    assert numpy_kind(tmp_path / "arrays.npz") is None


def test_sibling_npy_lengths_decide_the_axis(tmp_path: Path) -> None:
    np.save(tmp_path / "train_losses.npy", np.linspace(2.0, 0.5, 60))  # per batch
    np.save(tmp_path / "val_losses.npy", np.linspace(2.1, 0.9, 6))  # per epoch
    (run,) = traindx.read(tmp_path)
    assert run.series["val/loss"].steps.tolist() == [9, 19, 29, 39, 49, 59]
    assert run.series["train/loss"].steps[-1] == 59


def test_corrupt_2d_and_object_arrays_are_one_line_errors_the_rest_read(tmp_path: Path) -> None:
    np.save(tmp_path / "train_losses.npy", np.linspace(2.0, 0.5, 10))
    (tmp_path / "val_losses.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")  # a cut-off file
    np.save(tmp_path / "val_accuracies.npy", np.zeros((10, 3)))  # 2-D, no column names
    np.save(tmp_path / "test_acc.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "metrics.npz").write_bytes(b"PK\x03\x04 not a zip")
    (run,) = traindx.read(tmp_path)
    assert list(run.series) == ["train/loss"]
    bad = {Path(p.file).name: p.message for p in run.ingest.problems if p.kind == "unreadable"}
    assert set(bad) == {"val_losses.npy", "val_accuracies.npy", "test_acc.npy", "metrics.npz"}
    assert all("\n" not in m and n in m for n, m in bad.items())
    assert "2-D array of shape (10, 3) without column names" in bad["val_accuracies.npy"]
    assert "not a history" in bad["test_acc.npy"]  # its objects are read (npy_history), and are no history
    with pytest.raises(ReadError, match="val_losses.npy.*corrupt"):
        read_numpy(tmp_path / "val_losses.npy")


def test_a_column_vector_is_one_series(tmp_path: Path) -> None:
    np.save(tmp_path / "losses.npy", np.linspace(1.0, 0.1, 8).reshape(-1, 1).astype(np.float32))
    log = read_numpy(tmp_path / "losses.npy")
    assert [(s.name, len(s.values)) for s in log.series] == [("losses", 8)]


def test_qa_fresh27_gan_arrays_are_read() -> None:
    (run,) = traindx.read(QA27 / "torch_gan_1d_mixture_generator_relu_output_npy" / "buggy")
    assert {"train/d_loss", "train/g_loss"} <= set(run.series)
    assert len(run.series["train/d_loss"].values) == 2500


@pytest.mark.parametrize("name", ["kb_char_lstm_lm_two_units_progbar_tf/fixed/console.log",
                                  "kb_conv1d_load_forecast_unscaled_mw_target_tf/buggy/train.log"])  # fmt: skip
def test_keras3_repeated_final_bar_state_is_one_record(name: str) -> None:
    """Keras 3.15 ``fit(verbose=1)`` captured to a file prints an epoch's last state
    (``198/198 ... loss: 1.0378``) and then the same state again with the validation values:
    one record, no 'superseded ... a resumed run' note."""
    path = QA27 / name
    log = read_text_log(path)
    for s in log.series:
        assert (np.diff(s.steps) > 0).all(), s.name
    text = path.read_text()
    epochs = text.count("\nEpoch ") + text.startswith("Epoch ")
    assert len(next(s for s in log.series if s.name == "val_loss").values) == epochs
    (run,) = traindx.read(path)
    assert "superseded" not in _notes(run)
    assert all(s.superseded == 0 for s in run.series.values())


def test_a_repeated_bar_state_with_other_values_is_not_merged() -> None:
    bar = "10/10 [==============================] - 0s 1ms/step - loss: {}"
    text = "Epoch 1/2\n" + bar.format("0.50") + "\r" + bar.format("0.40") + " - val_loss: 0.6\nEpoch 2/2\n" + bar.format("0.3") + "\n"
    from traindx.readers.textlog import parse_text

    records, _ = parse_text(text)
    assert len(records) == 3  # the second state at 10/10 shows another loss: kept apart
