"""A hand loop's ``tl``/``vl`` pair (train and validation loss) is read only as a pair in one
file: alone, ``vl`` is ambiguous (``vl_loss`` is a value loss in RL code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from traindx.api import read
from traindx.errors import ReadError
from traindx.names import map_name, paired_names


def test_the_pair_maps_and_either_alone_does_not() -> None:
    assert paired_names(["epoch", "tl", "vl"]) == {"tl": "train/loss", "vl": "val/loss"}
    assert paired_names(["epoch", " TL ", "VL"]) == {" TL ": "train/loss", "VL": "val/loss"}
    assert paired_names(["epoch", "vl"]) == {}
    assert paired_names(["tl", "vl_loss"]) == {}
    assert map_name("vl") is None and map_name("tl") is None


def test_a_csv_with_the_pair_reads_train_and_val_loss(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.0 / (e + 1):.4f},{1.2 / (e + 1):.4f}" for e in range(8))
    (tmp_path / "log.csv").write_text("epoch,tl,vl\n" + rows + "\n")
    run = read(tmp_path)[0]
    assert sorted(str(k) for k in run.series) == ["train/loss", "val/loss"]
    assert run.series["val/loss"].original_name == "vl"


def test_a_printed_log_with_the_pair_is_read(tmp_path: Path) -> None:
    lines = [f"epoch {e} tl {1.0 / e:.4f} vl {1.3 / e:.4f}" for e in range(1, 11)]
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    run = read(tmp_path)[0]
    assert sorted(str(k) for k in run.series) == ["train/loss", "val/loss"]


def test_vl_alone_is_not_read_as_validation_loss(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text("epoch,vl\n0,1.0\n1,0.9\n2,0.8\n3,0.7\n")
    with pytest.raises(ReadError):
        read(tmp_path)


def test_a_user_map_wins_over_the_pair(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.0 / (e + 1):.4f},{1.2 / (e + 1):.4f}" for e in range(8))
    (tmp_path / "log.csv").write_text("epoch,tl,vl\n" + rows + "\n")
    run = read(tmp_path, overrides={"vl": "test/loss"})[0]
    assert sorted(str(k) for k in run.series) == ["test/loss", "train/loss"]
