"""Reader gaps seen on fixed programs (issue 10): ``metrics/precision`` beside
``metrics/val_precision`` is the training metric, and the stax example's ``Epoch 3 in 0.05 sec``
names no metric ``in``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.api import read
from traindx.names import explain_mapping, paired_names
from traindx.readers.textlog import parse_text
from traindx.writers.tfevents import EventFileWriter


def test_metrics_precision_beside_its_val_twin_is_training() -> None:
    names = ["metrics/precision", "metrics/val_precision", "metrics/recall"]
    p = paired_names(names)
    assert p == {"metrics/precision": "train/precision"}
    assert "beside 'metrics/val_precision'" in explain_mapping("metrics/precision", p)
    # without a twin the group's split holds (Ultralytics' metrics/precision(B) is validation)
    assert paired_names(["metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)"]) == {}
    assert paired_names(["metrics/precision", "metrics/recall"]) == {}


def test_tensorboard_metrics_precision_beside_val_precision_keeps_both(tmp_path: Path) -> None:
    train = [0.5 + 0.03 * e for e in range(12)]
    val = [0.4 + 0.02 * e for e in range(12)]
    with EventFileWriter(tmp_path) as w:
        for e in range(12):
            w.add_scalars({"metrics/precision": train[e], "metrics/val_precision": val[e],
                           "metrics/loss": 2.0 - 0.1 * e, "metrics/val_loss": 2.1 - 0.05 * e}, step=e)  # fmt: skip
    run = read(tmp_path)[0]
    keys = {str(k) for k in run.series}
    assert {"train/precision", "val/precision"} <= keys
    np.testing.assert_allclose(run.series["train/precision"].values, train, rtol=1e-6)
    np.testing.assert_allclose(run.series["val/precision"].values, val, rtol=1e-6)


def test_a_csv_with_precision_beside_val_precision(tmp_path: Path) -> None:
    rows = "\n".join(f"{e},{1.0 / (e + 1):.4f},{0.5 + 0.03 * e:.4f},{0.4 + 0.02 * e:.4f}" for e in range(8))
    (tmp_path / "log.csv").write_text("epoch,loss,metrics/precision,metrics/val_precision\n" + rows + "\n")
    run = read(tmp_path)[0]
    assert {"train/precision", "val/precision"} <= {str(k) for k in run.series}
    assert run.series["train/precision"].original_name == "metrics/precision"


STAX = "".join(
    f"Epoch {e} in {0.31 if e == 0 else 0.05:.2f} sec\nTraining set accuracy {0.5 + 0.04 * e:.3f}\n"
    f"Test set accuracy {0.48 + 0.04 * e:.3f}\n"
    for e in range(10)
)


def test_stax_epoch_timing_is_not_a_metric() -> None:
    records, _ = parse_text(STAX)
    names = {k for _, r in records for k in r}
    assert "in" not in names
    assert {"training accuracy", "test accuracy"} <= names


def test_stax_log_reads_no_unmapped_in(tmp_path: Path) -> None:
    (tmp_path / "train.log").write_text(STAX)
    run = read(tmp_path)[0]
    assert "in" not in run.ingest.unmapped
    assert len(run.series["test/accuracy"].values) == 10


@pytest.mark.parametrize("line", ["Epoch 3 took 12.1 s, loss 0.3", "Epoch 3 in 0.05 sec | loss 0.3"])
def test_a_linking_word_before_a_number_is_prose(line: str) -> None:
    records, _ = parse_text("\n".join([line] * 4))
    names = {k for _, r in records for k in r}
    assert names & {"took", "in"} == set()
    assert "loss" in names
