"""Histories np.save'd as Python objects (``np.save("history.npy", history.history)``), read by a
restricted unpickler: the values come back, nothing the pickle names is ever run."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from pickle_payload import Payload

import traindx
from traindx.errors import ReadError
from traindx.readers.npy_history import read_npy_history
from traindx.readers.numpy_arrays import numpy_kind


def _series(log) -> dict[str, list[float]]:
    return {s.name: [float(v) for v in s.values] for s in log.series}


def test_a_keras_history_dict_with_floats_and_numpy_scalars(tmp_path: Path) -> None:
    p = tmp_path / "history.npy"
    np.save(p, {"loss": [0.9, 0.7, 0.6], "val_loss": [np.float32(1.0), np.float64(0.8), 0.75],
                "accuracy": [np.float32(0.5), 0.6, 0.7]})  # fmt: skip
    got = _series(read_npy_history(p))
    assert got["loss"] == pytest.approx([0.9, 0.7, 0.6])
    assert got["val_loss"] == pytest.approx([1.0, 0.8, 0.75])
    assert got["accuracy"] == pytest.approx([0.5, 0.6, 0.7])
    (run,) = traindx.read(tmp_path)  # found in a folder, mapped onto the run's series
    assert {"train/loss", "val/loss", "train/accuracy"} <= set(run.series)


def test_a_list_of_epoch_dicts(tmp_path: Path) -> None:
    p = tmp_path / "train_history.npy"
    np.save(p, np.array([{"epoch": i, "loss": 1.0 / (i + 1), "val_loss": 1.2 / (i + 1)} for i in range(4)], dtype=object))
    got = _series(read_npy_history(p))
    assert got["loss"] == pytest.approx([1.0, 0.5, 1 / 3, 0.25])


def test_a_pickle_naming_a_function_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = tmp_path / "history.npy"
    np.save(p, {"loss": [0.5, 0.4], "hook": Payload(str(marker))})
    with pytest.raises(ReadError) as e:
        read_npy_history(p)
    assert str(p) in str(e.value) and "does not unpickle" in str(e.value)
    assert not marker.exists()
    with open(p, "rb") as f:  # the same file does run code under a plain unpickler
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        pickle.load(f)
    assert marker.exists()


def test_a_numeric_array_named_history_and_object_data_arrays(tmp_path: Path) -> None:
    np.save(tmp_path / "X_train.npy", np.array([{"a": 1}], dtype=object))  # data, not a log
    assert numpy_kind(tmp_path / "X_train.npy") is None
    np.save(tmp_path / "history.npy", np.array([[{"loss": 1.0}] * 2] * 2, dtype=object))  # 2-D: refused
    with pytest.raises(ReadError, match="more than one dimension"):
        read_npy_history(tmp_path / "history.npy")
    (tmp_path / "history.npy").write_bytes((tmp_path / "history.npy").read_bytes()[:90])  # truncated
    with pytest.raises(ReadError, match="history.npy"):
        read_npy_history(tmp_path / "history.npy")
