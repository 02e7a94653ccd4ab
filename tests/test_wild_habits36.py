"""Naming and layout habits of logs from the wild (issue 10) that an unseen batch showed read wrong:
a group prefix (``metrics/acc`` beside ``metrics/val_acc``), ``[val] epoch N`` lines printed between
a tqdm bar's states, and a hand CSV's share of dead ReLU units (``dead_frac``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.api import diagnose, read
from traindx.names import map_name
from traindx.writers.tfevents import EventFileWriter


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("metrics/acc", "train/accuracy"),  # the group says no split; the leaf says none either
        ("metrics/val_acc", "val/accuracy"),
        ("Metrics/loss", "train/loss"),
        ("Metrics/val_loss", "val/loss"),
        ("scores/acc", "train/accuracy"),
        ("scores/val_acc", "val/accuracy"),
        ("stats/train_loss", "train/loss"),
        ("metrics/acc_val", "val/accuracy"),
        # Ultralytics' and YOLOv5's evaluation metrics stay validation metrics
        ("metrics/mAP50(B)", "val/map50"),
        ("metrics/precision(B)", "val/precision"),
        ("metrics/recall", "val/recall"),
        ("metrics/mAP_0.5:0.95", "val/map"),
        ("coco/bbox_mAP", "val/map"),
    ],
)
def test_a_group_prefix_carries_no_split_but_its_leaf_does(raw: str, key: str) -> None:
    assert str(map_name(raw)) == key


def test_a_group_prefix_under_a_validation_directory_takes_its_split() -> None:
    assert str(map_name("metrics/acc", default_split="validation")) == "val/accuracy"


def test_tensorboard_metrics_acc_beside_metrics_val_acc_keeps_both(tmp_path: Path) -> None:
    train = [0.2 + 0.05 * e for e in range(12)]
    val = [0.1 + 0.02 * e for e in range(12)]
    with EventFileWriter(tmp_path) as w:
        for e in range(12):
            w.add_scalars({"metrics/acc": train[e], "metrics/val_acc": val[e], "metrics/loss": 2.0 - 0.1 * e,
                           "metrics/val_loss": 2.1 - 0.05 * e}, step=e)  # fmt: skip
    run = read(tmp_path)[0]
    assert {"train/accuracy", "val/accuracy", "train/loss", "val/loss"} <= {str(k) for k in run.series}
    np.testing.assert_allclose(run.series["val/accuracy"].values, val, rtol=1e-6)
    np.testing.assert_allclose(run.series["train/accuracy"].values, train, rtol=1e-6)
    assert run.series["val/accuracy"].original_name == "metrics/val_acc"


def _tqdm_log(epochs: int, batches: int) -> str:
    out = []
    for e in range(1, epochs + 1):
        states = [f"Epoch {e}/{epochs}:   0%|          | 0/{batches} [00:00<?, ?it/s]"]
        for b in range(1, batches + 1):
            loss, acc = 2.3 / (e + b / batches), 0.1 + 0.05 * e
            pct = 100 * b // batches
            states.append(f"Epoch {e}/{epochs}: {pct:3d}%|###       | {b}/{batches} [00:01<00:00, 30.1it/s, "
                          f"acc={acc:.3f}, loss={loss:.4f}]")  # fmt: skip
        out.append("\r".join(states))
        out.append(f"[val] epoch {e} loss={2.5 / (e + 1):.4f} acc={0.05 + 0.06 * e:.3f}")
    return "\n".join(out) + "\n"


def test_tqdm_file_with_val_lines_reads_the_validation_series(tmp_path: Path) -> None:
    (tmp_path / "train_progress.log").write_text(_tqdm_log(6, 5), encoding="utf-8")
    run = read(tmp_path)[0]
    keys = {str(k) for k in run.series}
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy"} <= keys
    val = run.series["val/loss"]
    assert len(val.values) == 6
    np.testing.assert_allclose(val.values, [2.5 / (e + 1) for e in range(1, 7)], rtol=1e-3)
    np.testing.assert_allclose(run.series["val/accuracy"].values, [0.05 + 0.06 * e for e in range(1, 7)], rtol=1e-3)


@pytest.mark.parametrize("raw", ["dead_frac", "dead_relu_frac", "frac_dead", "pct_dead", "dead_pct",
                                 "dead_fraction", "share_dead_units"])  # fmt: skip
def test_a_share_of_dead_units_maps_to_act_frac_zero(raw: str) -> None:
    assert str(map_name(raw)) == "train/act_frac_zero"


@pytest.mark.parametrize("raw", ["dead_units", "n_dead", "dead", "num_dead_relus"])
def test_a_count_of_dead_units_is_not_a_share(raw: str) -> None:
    assert map_name(raw) is None or map_name(raw).metric != "act_frac_zero"  # type: ignore[union-attr]


def _dead_csv(path: Path, name: str, dead: list[float]) -> None:
    rows = [f"{e},{1.47 - 0.6 * (e > 0) + 0.01 * (e % 3):.4f},{0.95 + 0.01 * (e % 2):.4f},{d}"
            for e, d in enumerate(dead)]  # fmt: skip
    (path / "metrics.csv").write_text(f"epoch,train_loss,val_loss,{name}\n" + "\n".join(rows) + "\n")


def test_a_logged_dead_share_fires_the_dead_units_symptom(tmp_path: Path) -> None:
    _dead_csv(tmp_path, "dead_frac", [0.984] + [1.0] * 19)
    d = diagnose(tmp_path)[0]
    assert "ACT001" in [s.code for s in d.symptoms]
    assert "dying_relu" in [c.id for c in d.causes]


def test_a_low_dead_share_does_not_fire(tmp_path: Path) -> None:
    _dead_csv(tmp_path, "dead_frac", [0.05] + [0.0125] * 19)
    assert "ACT001" not in [s.code for s in diagnose(tmp_path)[0].symptoms]


def test_a_dead_share_in_percent_reads_as_a_fraction(tmp_path: Path) -> None:
    _dead_csv(tmp_path, "pct_dead", [98.4] + [100.0] * 19)
    run = read(tmp_path)[0]
    assert float(np.max(run.series["train/act_frac_zero"].values)) == pytest.approx(1.0)
