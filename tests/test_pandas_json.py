"""A history saved by pandas' ``DataFrame.to_json()`` in each orient, and the cost letter ``J``
(fixtures/qa_begin42: ``{"J": {"0": ..}, "J_test": {..}}`` was read under no file name)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import traindx
from traindx.names import paired_names

LOSS = [round(2.0 / (e + 1), 4) for e in range(8)]
VAL = [round(2.2 / (e + 1), 4) for e in range(8)]


def _frame(orient: str) -> object:
    if orient == "columns":
        return {"loss": {str(i): v for i, v in enumerate(LOSS)}, "val_loss": {str(i): v for i, v in enumerate(VAL)}}
    if orient == "index":
        return {str(i): {"loss": a, "val_loss": b} for i, (a, b) in enumerate(zip(LOSS, VAL, strict=True))}
    if orient == "split":
        return {"columns": ["loss", "val_loss"], "index": list(range(8)), "data": [list(p) for p in zip(LOSS, VAL, strict=True)]}
    return {"schema": {"fields": [], "primaryKey": ["index"]},
            "data": [{"index": i, "loss": a, "val_loss": b} for i, (a, b) in enumerate(zip(LOSS, VAL, strict=True))]}


@pytest.mark.parametrize("orient", ["columns", "index", "split", "table"])
@pytest.mark.parametrize("name", ["history.json", "results.json"])
def test_each_pandas_orient_is_read_with_the_index_as_the_epoch(tmp_path: Path, orient: str, name: str) -> None:
    (tmp_path / name).write_text(json.dumps(_frame(orient)))
    (run,) = traindx.read(tmp_path)
    assert list(run.series["train/loss"].values) == pytest.approx(LOSS)
    assert list(run.series["val/loss"].values) == pytest.approx(VAL)
    assert list(run.series["val/loss"].steps) == list(range(8)) and run.series["val/loss"].unit == "epoch"


def test_dicts_filled_at_a_global_counter_are_on_the_step_axis(tmp_path: Path) -> None:
    doc = {"J": {str(s): 2.0 / (s + 1) for s in range(40)}, "J_test": {str(s): 2.1 / (s + 1) for s in range(0, 40, 10)}}
    (tmp_path / "costs.json").write_text(json.dumps(doc))
    (run,) = traindx.read(tmp_path)
    assert run.series["train/loss"].unit == "step" and len(run.series["train/loss"]) == 40
    assert list(run.series["test/loss"].steps) == [0, 10, 20, 30]


def test_the_cost_letter_j_is_the_loss_of_its_split() -> None:
    assert paired_names(["J", "J_test"]) == {"J": "train/loss", "J_test": "test/loss"}
    assert paired_names(["it", "J"]) == {"J": "train/loss"}
    assert paired_names(["J_train", "J_cv"]) == {"J_train": "train/loss", "J_cv": "val/loss"}
    assert paired_names(["i", "j", "value"]) == {}  # a lower-case j is an index
    assert "J" not in paired_names(["J", "loss"])  # the file names its training loss otherwise
