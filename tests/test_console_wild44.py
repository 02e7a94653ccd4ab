"""Console layouts qa_wild44 exposed (issue 10): a held-out set named in a sentence, a fraction
after an ``== epoch N ==`` rule, Lightning's ``trainer.test()`` results table."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx


def _series(tmp_path: Path, text: str, name: str = "train.log") -> dict:
    (tmp_path / name).write_text(text)
    (run,) = traindx.read(tmp_path)
    return {str(k): s for k, s in run.series.items()}


def _epochs(n: int, fmt: str) -> str:
    return "".join(fmt.format(e=e, loss=1.0 / e, acc=50 + e) + "\n" for e in range(1, n + 1))


@pytest.mark.parametrize("sentence", [
    "Accuracy on the fresh export (1000 rows): 57.70%",
    "Accuracy on unseen data: 57.70%",
    "Accuracy of the model on the holdout rows: 57.70%",
])
def test_a_held_out_set_named_in_a_sentence_is_a_test_metric(tmp_path: Path, sentence: str) -> None:
    # the logger is named 'train' ('%(asctime)s %(levelname)s %(name)s: %(message)s'): no split of the sentence's
    text = _epochs(6, "2026-12-07 05:53:28,159 INFO train: Epoch {e}/6 - train loss: {loss:.4f} - val acc: {acc}.00%")
    series = _series(tmp_path, text + f"2026-12-07 05:53:28,596 INFO train: {sentence}\n")
    assert "train/accuracy" not in series
    assert list(series["test/accuracy"].values) == pytest.approx([0.577])
    assert len(series["val/accuracy"]) == 6


def test_a_split_fraction_after_an_epoch_rule_is_that_splits_accuracy(tmp_path: Path) -> None:
    text = "".join(
        f"step {25 * e:05d}: loss={1 / e:.4e}, acc=0.6\n== epoch {e} == val correct {240 + e}/480 ({(240 + e) / 4.8:.1f}%)"
        f"  val_loss {1.1 / e:.2e}\n"
        for e in range(1, 7)
    )
    series = _series(tmp_path, text)
    assert list(series["val/accuracy"].values) == pytest.approx([(240 + e) / 480 for e in range(1, 7)])
    assert len(series["val/loss"]) == 6


LIGHTNING_TEST = """\
Testing DataLoader 0: 100%|██████████| 2/2 [00:00<00:00, 990.16it/s]
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃        Test metric        ┃       DataLoader 0        ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│         test_loss         │      32520.314453125      │
│            mse            │      32520.0              │
└───────────────────────────┴───────────────────────────┘
"""

LIGHTNING_TEST_PLAIN = """\
────────────────────────────────────────────────────────
       Test metric             DataLoader 0
────────────────────────────────────────────────────────
        test_loss            32520.314453125
           mse                  32520.0
────────────────────────────────────────────────────────
"""


@pytest.mark.parametrize("table", [LIGHTNING_TEST, LIGHTNING_TEST_PLAIN])
def test_lightnings_test_results_table_is_read_as_test_points(tmp_path: Path, table: str) -> None:
    text = _epochs(8, "Epoch {e}: train_loss {loss:.3f} | val_loss {loss:.3f}")
    series = _series(tmp_path, text + table, "fit.log")
    assert list(series["test/loss"].values) == pytest.approx([32520.314453125])
    assert list(series["test/mse"].values) == pytest.approx([32520.0])
    assert series["val/loss"].unit == "epoch" and len(series["val/loss"]) == 8


def test_a_sentence_printed_once_after_the_epochs_is_a_test_metric(tmp_path: Path) -> None:
    text = _epochs(6, "Epoch {e}/6 - train loss: {loss:.4f} - val acc: {acc}.00%")
    series = _series(tmp_path, text + "Accuracy on the 1000 sensor rows: 57.70%\n")
    assert list(series["test/accuracy"].values) == pytest.approx([0.577])
    # printed every epoch, or once before training: not a held-out evaluation after it
    (tmp_path / "every").mkdir()
    (tmp_path / "before").mkdir()
    every = _epochs(6, "Epoch {e}/6 - train loss: {loss:.4f}\nAccuracy on the 1000 sensor rows: {acc}.00%")
    assert "test/accuracy" not in _series(tmp_path / "every", every)
    assert "test/loss" not in _series(tmp_path / "before", "Loss of the model at init: 2.31\n" + text)


def test_the_results_table_ends_at_its_closing_rule() -> None:
    from traindx.readers.texttable import result_records

    lines = (LIGHTNING_TEST_PLAIN + "Restored 3\n").split("\n")
    assert [r for _, r in result_records(lines)] == [{"test_loss": 32520.314453125}, {"test_mse": 32520.0}]
