"""Console habits of the unseen batch fixtures/qa_wild49 (issue 10) the reader missed: a table whose
first column is a ``date time`` timestamp, Python warnings printed between a table's header and its
rows, ``[ep 3/20] train: loss=.., acc=.. | val: ..`` brackets, ``rmsle``, and a YAML configuration
printed before training. Each test writes its own log in the layout, never the fixture's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx
from traindx.metric_direction import LOWER_IS_BETTER
from traindx.names import map_name
from traindx.readers.textconfig import config_blocks, split_config


def _read(tmp_path: Path, lines: list[str]) -> traindx.Run:
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    return run


@pytest.mark.parametrize("stamp", ["2026-12-07 21:01:{:02d}", "2026-12-07T21:01:{:02d}.5", "21:01:{:02d}", "2026-12-{:02d}"])
def test_a_table_opening_with_a_timestamp_column(tmp_path: Path, stamp: str) -> None:
    lines = ["time                 epoch  train_loss  val_loss  val_acc"]
    lines += [f"{stamp.format(e)}  {e:>3}  {1.4 / e:.4f}  {1.5 / e:.4f}  {0.3 + 0.02 * e:.4f}" for e in range(1, 13)]
    run = _read(tmp_path, lines)
    assert set(run.series) == {"train/loss", "val/loss", "val/accuracy"}
    assert list(run.series["train/loss"].steps) == list(range(1, 13))
    assert list(run.series["val/loss"].values) == pytest.approx([round(1.5 / e, 4) for e in range(1, 13)])


def test_python_warnings_between_a_header_and_its_rows_do_not_end_the_table(tmp_path: Path) -> None:
    warning = ["/site-packages/torch/nn/modules/loss.py:630: UserWarning: Using a target size (torch.Size([32])) "
               "that is different to the input size (torch.Size([32, 1])).",
               "  return F.mse_loss(input, target, reduction=self.reduction)"]  # fmt: skip
    lines = ["epoch     train_loss  valid_loss  r2_score  time    ", *warning, *warning]
    for e in range(10):
        lines.append(f"{e:<9} {1.0 / (e + 1):.6f}    {1.1 / (e + 1):.6f}    {0.1 * e:.6f}  00:00   ")
        if e == 4:
            lines += warning  # a new batch shape warns again among the rows
    run = _read(tmp_path, lines)
    assert set(run.series) == {"train/loss", "val/loss", "val/r2_score"}
    assert len(run.series["train/loss"].values) == 10
    assert not run.ingest.problems  # a warning line is no layout left unread


def test_a_split_heading_pairs_after_a_bracketed_epoch_of_a_total(tmp_path: Path) -> None:
    lines = [f"[ep {e}/20] train: loss={2.0 / e:.4f}, acc={0.5 + e / 50:.4f} | val: loss={2.1 / e:.4f}, acc={0.4 + e / 50:.4f}"
             for e in range(1, 13)]  # fmt: skip
    run = _read(tmp_path, lines)
    assert set(run.series) == {"train/loss", "train/accuracy", "val/loss", "val/accuracy"}
    assert list(run.series["train/loss"].values) == pytest.approx([round(2.0 / e, 4) for e in range(1, 13)])
    assert list(run.series["train/loss"].steps) == list(range(1, 13))


@pytest.mark.parametrize("name", ["val_rmsle", "rmsle", "train_msle"])
def test_rmsle_and_msle_are_lower_is_better_errors(name: str) -> None:
    key = map_name(name)
    assert key is not None and key.metric.endswith("msle")
    assert LOWER_IS_BETTER.fullmatch(key.metric)


def test_a_printed_yaml_config_is_settings_not_points(tmp_path: Path) -> None:
    config = ["model:", "  hidden: 64", "  dropout: 0.0", "optim:", "  name: adam", "  lr: 0.001",
              "trainer:", "  max_epochs: 12"]  # fmt: skip
    lines = [*config, "GPU available: False, used: False"]
    lines += [f"Epoch {e}: loss={1.0 / e:.4f}, val_loss={1.1 / e:.4f}" for e in range(1, 13)]
    run = _read(tmp_path, lines)
    assert set(run.series) == {"train/loss", "val/loss"}  # no 1-point train/lr, no 'hidden' unmapped
    assert run.context.hyperparameters["optim.lr"] == pytest.approx(0.001)
    assert run.context.optimizer is not None and run.context.optimizer.lr == pytest.approx(0.001)
    assert "hidden" not in run.ingest.unmapped


def test_a_split_block_or_a_dict_printed_every_epoch_is_no_config() -> None:
    val_blocks = ["Epoch 1/3", "val:", "    loss: 0.50", "    acc: 0.77", "Epoch 2/3", "val:", "    loss: 0.40"]
    assert config_blocks(val_blocks) == []  # a split's metrics under its name
    per_epoch = [ln for e in range(3) for ln in (f"epoch: {e}", "metrics:", f"  loss: {1 / (e + 1)}")]
    assert config_blocks(per_epoch) == []  # 'epoch' again: records, not one configuration
    text, settings = split_config("data:\n  name: wine\n  val_frac: 0.2\nloss: 0.5\n")
    assert settings == {"data.name": "wine", "data.val_frac": 0.2, "loss": 0.5}
    assert text.split("\n")[:4] == ["", "", "", ""]  # line numbers kept
