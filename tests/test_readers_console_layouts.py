"""Console layouts qa_wild45 printed that the text and dict-log readers misread (gapsr45): values
named by their split alone, an arrow or parentheses before a pair, the Hugging Face Trainer's
``***** eval metrics *****`` block."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import traindx
from traindx.readers.jsonl import Summaries
from traindx.readers.textlog import looks_like_text_log, parse_text


def _loop(epoch_line: str, epochs: int = 4) -> str:
    """A hand loop printing a step loss every 10 batches and an epoch line (qa_wild45's RNN)."""
    out = []
    for e in range(1, epochs + 1):
        out += [f"[ep {e} | it {it}] loss {1.0 / (e * it):.2e}" for it in (10, 20, 30)]
        out.append(epoch_line.format(e=e, tr=0.5 / e, va=0.6 / e, pct=90 + e))
    return "\n".join(out) + "\n"


def test_split_names_alone_beside_a_printed_loss_are_that_splits_loss(tmp_path: Path) -> None:
    (tmp_path / "forecast.txt").write_text(_loop("=== epoch {e}: train {tr:.2e} val {va:.2e} (0.7 s)"))
    (run,) = traindx.read(tmp_path)
    assert list(run.series["val/loss"].values) == pytest.approx([0.6 / e for e in range(1, 5)], rel=1e-2)


def test_split_names_alone_with_nan_values_are_read_as_nan_losses(tmp_path: Path) -> None:
    (tmp_path / "forecast.txt").write_text(_loop("=== epoch {e}: train nan val nan (1.7 s)"))
    (run,) = traindx.read(tmp_path)
    assert all(math.isnan(v) for v in run.series["val/loss"].values)


def test_split_names_alone_in_a_file_naming_no_metric_are_losses() -> None:
    text = "".join(f"epoch {e}: train {0.5 / e:.4f} val {0.6 / e:.4f}\n" for e in range(1, 5))
    assert looks_like_text_log(text)


def test_split_names_alone_before_a_percentage_are_not_losses(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text(_loop("epoch {e}: train {pct}.0% val {pct}.5%"))
    (run,) = traindx.read(tmp_path)
    assert "val/loss" not in run.series and "train/loss" in run.series


def test_a_header_of_split_sizes_is_not_a_loss(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("train 1437 val 360\n" + "".join(f"epoch {e} loss {1 / e:.3f}\n" for e in range(1, 6)))
    (run,) = traindx.read(tmp_path)
    assert "val/loss" not in run.series


@pytest.mark.parametrize("sep", [",", ";", " |", ")"])
def test_a_value_in_e_notation_before_a_separator_is_read(sep: str) -> None:
    line = f"epoch 1 -> val_loss 1.851e+00{sep} val_acc 0.605"
    if sep == ")":
        line = "epoch 1 (val_loss 1.851e+00) | val_acc 0.605"
    (_, rec), = parse_text(line + "\n")[0]
    assert rec["val_loss"] == pytest.approx(1.851) and rec["val_acc"] == pytest.approx(0.605)


@pytest.mark.parametrize("arrow", ["->", "=>", "-->", "\u2192"])
def test_an_arrow_before_the_pairs_is_a_separator(arrow: str) -> None:
    (_, rec), = parse_text(f"epoch 3 {arrow} val_loss 1.2e-03, val_acc 0.9\n")[0]
    assert rec == {"epoch": 3, "val_loss": pytest.approx(1.2e-3), "val_acc": 0.9}


def test_pairs_in_parentheses_are_read() -> None:
    (_, rec), = parse_text("epoch 2 (loss=1.2e-03, acc=0.5)\n")[0]
    assert rec == {"epoch": 2, "loss": pytest.approx(1.2e-3), "acc": 0.5}
    (_, rec), = parse_text("epoch 2 | loss 0.5\n  -> Saved best model (Dice: 0.1005)\n")[0]
    assert rec == {"epoch": 2, "loss": 0.5}  # a checkpoint's note, not a pair


HF_TAIL = """{'eval_loss': 0.2233, 'eval_accuracy': 0.945, 'eval_runtime': 0.11, 'epoch': 3.0}
***** eval metrics *****
  epoch                   =        3.0
  eval_accuracy           =      0.945
  eval_loss               =     0.2233
  eval_runtime            = 0:00:00.11
  eval_samples_per_second =   3506.562
"""


def _hf_log() -> str:
    lines = []
    for e in range(1, 4):
        lines += [f"{{'loss': {1.0 / (e + k):.4f}, 'learning_rate': 1e-4, 'epoch': {e - 1 + k / 4}}}" for k in range(1, 5)]
        if e < 3:
            lines.append(f"{{'eval_loss': {0.9 / e:.4f}, 'eval_accuracy': {0.5 + e / 10}, 'epoch': {float(e)}}}")
    return "\n".join(lines) + "\n" + HF_TAIL


def test_the_hf_eval_metrics_block_is_neither_corrupt_nor_a_second_point(tmp_path: Path) -> None:
    (tmp_path / "train.log").write_text(_hf_log())
    (run,) = traindx.read(tmp_path)
    assert len(run.series["val/loss"].values) == 3
    assert not [p for p in run.ingest.problems if p.kind == "corrupt"]


def test_summary_rows_end_at_the_first_line_that_is_not_one() -> None:
    s = Summaries()
    lines = ["***** train metrics *****", "  train_loss = 0.66", "  epoch      =  16.0", "{'loss': 0.5}", "  x = 1"]
    assert [s.skips(x) for x in lines] == [True, True, True, False, False]


def test_an_eval_block_without_its_dict_is_read_as_the_last_evaluation(tmp_path: Path) -> None:
    text = _hf_log().replace("{'eval_loss': 0.2233, 'eval_accuracy': 0.945, 'eval_runtime': 0.11, 'epoch': 3.0}\n", "")
    (tmp_path / "train.log").write_text(text)
    (run,) = traindx.read(tmp_path)
    assert list(run.series["val/loss"].values)[-1] == pytest.approx(0.2233)
    assert len(run.series["val/loss"].values) == 3


def test_a_train_metrics_block_holds_means_and_is_not_read(tmp_path: Path) -> None:
    text = _hf_log() + "***** train metrics *****\n  epoch      =  3.0\n  train_loss =  0.6604\n"
    (tmp_path / "train.log").write_text(text)
    (run,) = traindx.read(tmp_path)
    assert len(run.series["train/loss"].values) == 12
