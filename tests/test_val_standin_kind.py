"""A split without a validation loss reads a validation error metric (``eval_mse``,
``valid_rmse``, ``val_mean_absolute_error``) as its loss-like curve only where it is of the
training loss's kind, or where the run does not say the training loss's kind; a classifier's
cross-entropy beside a validation MAE gives no validation loss (signals/pick.py loss_kind)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import traindx
from traindx.schema import Run
from traindx.signals import compute_facts
from traindx.signals.pick import loss_kind, pick


def _csv(tmp_path: Path, header: str, cols: dict[str, np.ndarray]) -> Run:
    names = header.split(",")
    n = len(next(iter(cols.values())))
    rows = [",".join([str(e)] + [f"{cols[c][e]:.5f}" for c in names[1:]]) for e in range(n)]
    (tmp_path / "log.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    (run,) = traindx.read(tmp_path / "log.csv")
    return run


E = np.arange(20)
FALL = 1.0 / (1.0 + 0.3 * E) + 0.05  # a falling error
RISE = 0.4 + 0.01 * (E - 10) ** 2  # a validation curve that falls then rises
ACC = 0.5 + 0.4 * (1 - np.exp(-0.3 * E))


def test_an_accelerate_regression_reads_eval_mse_as_its_validation_loss(tmp_path: Path) -> None:
    run = _csv(tmp_path, "epoch,train_loss,eval_mse", {"train_loss": FALL, "eval_mse": FALL * 1.1})
    val = pick(run, "loss", "val")
    assert val is not None and val.original_name == "eval_mse"
    facts = compute_facts(run)
    assert "val_loss" in facts and "gap" in facts  # one kind of curve: the gap is read too


def test_a_regression_error_of_the_training_losss_kind_is_read_and_another_is_not(tmp_path: Path) -> None:
    same = _csv(tmp_path, "epoch,train_mse,val_mae,val_mse", {"train_mse": FALL, "val_mae": FALL, "val_mse": RISE})
    assert loss_kind(same) == "mse" and pick(same, "loss", "val").original_name == "val_mse"  # type: ignore[union-attr]
    other = _csv(tmp_path, "epoch,train_mse,val_mae", {"train_mse": FALL, "val_mae": RISE})
    assert pick(other, "loss", "val") is None and "val_loss" not in compute_facts(other)


def test_a_classifiers_loss_beside_a_validation_mae_gives_no_validation_loss(tmp_path: Path) -> None:
    run = _csv(tmp_path, "epoch,loss,accuracy,val_mae,val_accuracy",
               {"loss": FALL * 2, "accuracy": ACC, "val_mae": RISE, "val_accuracy": ACC - 0.05})  # fmt: skip
    assert loss_kind(run) == "likelihood"
    assert pick(run, "loss", "val") is None
    facts = compute_facts(run)
    assert "val_loss" not in facts and "gap" not in facts
    # a likelihood of the same kind is read: a classifier's validation NLL
    nll = _csv(tmp_path, "epoch,loss,accuracy,val_nll", {"loss": FALL * 2, "accuracy": ACC, "val_nll": RISE})
    assert pick(nll, "loss", "val").original_name == "val_nll"  # type: ignore[union-attr]


def test_the_only_validation_curve_is_read_beside_a_plain_loss(tmp_path: Path) -> None:
    run = _csv(tmp_path, "epoch,loss,valid_rmse", {"loss": FALL, "valid_rmse": np.sqrt(RISE)})
    assert loss_kind(run) is None
    val = pick(run, "loss", "val")
    assert val is not None and val.original_name == "valid_rmse"


@pytest.mark.parametrize(("loss_name", "read"), [("CrossEntropyLoss", False), ("MSELoss", True), ("mean_squared_error", True)])
def test_the_loss_an_adapter_recorded_names_the_kind(tmp_path: Path, loss_name: str, read: bool) -> None:
    run = _csv(tmp_path, "epoch,loss,val_mean_squared_error", {"loss": FALL, "val_mean_squared_error": RISE})
    run.context.loss.name = loss_name
    val = pick(run, "loss", "val")
    assert (val is not None and val.key.metric == "mse") is read


def test_every_loss_standin_has_a_kind():
    """A stand-in the reader may pick (LOSS_STANDINS) without a kind raised KeyError in pick()
    when qa_wild49's rmsle/msle names met the kind check (a merge of two helpers' changes)."""
    from traindx.signals.pick import LOSS_STANDINS, STANDIN_KIND

    assert set(LOSS_STANDINS) <= set(STANDIN_KIND)


def test_val_rmsle_stands_in_beside_a_train_rmsle(tmp_path):
    run = _csv(tmp_path, "epoch,train_rmsle,val_rmsle", {"train_rmsle": FALL, "val_rmsle": RISE})
    assert loss_kind(run) == "rmsle"
    s = pick(run, "loss", "val")
    assert s is not None and s.key.metric == "rmsle"
