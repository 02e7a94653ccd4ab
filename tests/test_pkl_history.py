"""Histories pickled the way users write them (``pickle.dump(history.history, open("history.pkl",
"wb"))``), read by the restricted unpickler: the values come back, nothing a pickle names is run,
and a pickle that is not a history (a dataset, a model) is left alone."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from pickle_payload import Payload

import traindx
from traindx.errors import ReadError
from traindx.readers.discovery import _kind
from traindx.readers.pkl_history import read_pkl_history


def _series(log) -> dict[str, list[float]]:
    return {s.name: [float(v) for v in s.values] for s in log.series}


def test_a_pickled_keras_history_dict_is_found_and_read(tmp_path: Path) -> None:
    history = {"loss": [0.9, 0.7, 0.6], "val_loss": [1.0, np.float64(0.8), 0.75],
               "accuracy": [np.float32(0.5), 0.6, 0.7]}  # fmt: skip
    with open(tmp_path / "history.pkl", "wb") as f:  # as the user's program writes it
        pickle.dump(history, f)
    got = _series(read_pkl_history(tmp_path / "history.pkl"))
    assert got["loss"] == pytest.approx([0.9, 0.7, 0.6])
    assert got["val_loss"] == pytest.approx([1.0, 0.8, 0.75])
    assert got["accuracy"] == pytest.approx([0.5, 0.6, 0.7])
    (run,) = traindx.read(tmp_path)
    assert {"train/loss", "val/loss", "train/accuracy"} <= set(run.series)


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_list_of_epoch_dicts_under_any_name_and_protocol(tmp_path: Path, protocol: int) -> None:
    p = tmp_path / "run_3.pickle"  # the name says nothing: the content makes it a log
    p.write_bytes(pickle.dumps([{"epoch": i, "loss": 1.0 / (i + 1)} for i in range(4)], protocol=protocol))
    assert _kind(p) == "pickle"
    assert _series(read_pkl_history(p))["loss"] == pytest.approx([1.0, 0.5, 1 / 3, 0.25])


def test_a_pickle_naming_a_function_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = tmp_path / "history.pkl"
    p.write_bytes(pickle.dumps({"loss": [0.5, 0.4], "hook": Payload(str(marker))}))
    with pytest.raises(ReadError) as e:
        read_pkl_history(p)
    msg = str(e.value)
    assert str(p) in msg and "does not unpickle" in msg and "pickle.dump" in msg and "\n" not in msg
    assert not marker.exists()
    pickle.loads(p.read_bytes())  # the same bytes do run code under a plain unpickler
    assert marker.exists()


def test_other_pickles_are_not_logs_and_a_named_corrupt_one_says_why(tmp_path: Path) -> None:
    data = tmp_path / "dataset.pkl"
    data.write_bytes(pickle.dumps({"X": [[1.0, 2.0], [3.0, 4.0]], "y": [0, 1]}))
    model = tmp_path / "scaler.pkl"
    model.write_bytes(pickle.dumps(Payload("never")))
    assert _kind(data) is None and _kind(model) is None
    bad = tmp_path / "history.pkl"
    bad.write_bytes(b"\x80\x04not a pickle")
    assert _kind(bad) == "pickle"  # named a history: read, and the error says why
    with pytest.raises(ReadError, match="corrupt or not a pickle"):
        read_pkl_history(bad)
