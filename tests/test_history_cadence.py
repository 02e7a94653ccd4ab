"""A history object whose lists have two cadences - a per-step ``loss`` beside per-epoch
``val_*`` lists (a hand-written JAX/PyTorch loop), or Keras' ``val_*`` under
``validation_freq`` - is read with each coarser item at the end of its span of the finer axis,
never lined up with the finer list by index (gapsj48: qa_jax48's plain-JAX history.json put 5
per-epoch validation points on steps 0..4 of a 420-step loss)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from traindx.readers.json_history import list_positions, read_json_history
from traindx.readers.pkl_history import read_pkl_history


def _by_name(log) -> dict:
    return {s.name: s for s in log.series}


def test_per_epoch_lists_are_spread_over_a_per_step_loss(tmp_path: Path) -> None:
    doc = {"loss": [2.3 - 0.05 * i for i in range(40)], "val_loss": [2.0, 1.6, 1.3, 1.1], "val_accuracy": [0.3, 0.5, 0.6, 0.7]}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(doc))
    s = _by_name(read_json_history(p))
    assert list(s["loss"].steps) == list(range(40))
    assert list(s["val_loss"].steps) == [9, 19, 29, 39]
    assert list(s["val_accuracy"].steps) == [9, 19, 29, 39]
    assert list(s["val_loss"].values) == doc["val_loss"]


def test_a_span_that_is_not_a_whole_number_of_steps_still_ends_at_the_last_step(tmp_path: Path) -> None:
    p = tmp_path / "history.json"
    p.write_text(json.dumps({"loss": [1.0] * 10, "val_loss": [0.9, 0.8, 0.7]}))
    assert list(_by_name(read_json_history(p))["val_loss"].steps) == [2, 6, 9]


def test_keras_validation_freq_lands_on_the_evaluated_epochs(tmp_path: Path) -> None:
    p = tmp_path / "history.json"
    p.write_text(json.dumps({"loss": [1.0 - 0.05 * i for i in range(10)], "val_loss": [0.9, 0.7]}))
    assert list(_by_name(read_json_history(p))["val_loss"].steps) == [4, 9]


def test_a_list_a_little_shorter_stays_aligned_at_the_start(tmp_path: Path) -> None:
    p = tmp_path / "history.json"
    p.write_text(json.dumps({"loss": [1.0, 0.8, 0.7, 0.6, 0.5], "accuracy": [0.5, 0.6, 0.7]}))
    assert list(_by_name(read_json_history(p))["accuracy"].steps) == [0, 1, 2]


def test_a_pickled_history_dict_is_spread_the_same_way(tmp_path: Path) -> None:
    p = tmp_path / "history.pkl"
    p.write_bytes(pickle.dumps({"loss": [1.0 - 0.01 * i for i in range(30)], "val_loss": [0.9, 0.8, 0.7]}))
    assert list(_by_name(read_pkl_history(p))["val_loss"].steps) == [9, 19, 29]


def test_positions() -> None:
    assert list_positions(5, 5) == [0, 1, 2, 3, 4]
    assert list_positions(1, 8) == [7]
    assert list_positions(5, 420) == [83, 167, 251, 335, 419]
