"""Console logs of the unseen batch fixtures/qa_wild43 (issue 10): fractions named by a bare split
word (``train 147/1437  val 35/360``) or followed by a word (``val 36/360 correct (10.0%)``), a
line printed right after a tqdm frame (no newline between), and a summary line after a printed
pandas DataFrame. Each test writes its own log in the layout, never the fixture's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx


def _read(tmp_path: Path, lines: list[str]):
    (tmp_path / "out.txt").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    return run


def test_a_bare_split_word_before_a_fraction_is_that_splits_accuracy(tmp_path: Path) -> None:
    lines = [f"ep {e:02d}  loss {2.0 / e:.4e}  val_loss {2.1 / e:.4e}  train {100 + 10 * e}/1000  val {20 + e}/200"
             for e in range(1, 9)]
    run = _read(tmp_path, lines)
    assert list(run.series["train/accuracy"].values) == pytest.approx([(100 + 10 * e) / 1000 for e in range(1, 9)])
    assert list(run.series["val/accuracy"].values) == pytest.approx([(20 + e) / 200 for e in range(1, 9)])
    assert list(run.series["val/accuracy"].steps) == list(range(1, 9))


def test_a_count_followed_by_correct_is_the_accuracy(tmp_path: Path) -> None:
    lines = [f"epoch {e:02d} | loss {2.3 - 0.1 * e:.4f} | train acc {10 + e:.1f}% | val {30 + e}/300 correct ({(30 + e) / 3:.1f}%)"
             for e in range(1, 9)]
    run = _read(tmp_path, lines)
    assert list(run.series["val/accuracy"].values) == pytest.approx([(30 + e) / 300 for e in range(1, 9)])
    assert len(run.series["train/accuracy"].values) == 8


def test_a_line_printed_right_after_a_tqdm_frame_is_its_own_line(tmp_path: Path) -> None:
    # for e in tqdm(range(15)): ... print(f"Epoch {e:02d}: | ... | Val Acc: {acc:.2f}%"): the print
    # follows the frame on the same line; a repeated 100.00% is still one point per epoch
    n, lines = 12, []
    for e in range(1, n + 1):
        acc = min(100.0, 80.0 + 4 * e)
        lines.append(f"\r{int(100 * (e - 1) / n):3d}%|##        | {e - 1}/{n} [00:00<00:01,  2.5it/s]"
                     f"Epoch {e:02d}: | Train Loss: {0.5 / e:.5f} | Val Loss: {0.6 / e:.5f} | Val Acc: {acc:.2f}%")
    lines.append(f"\r100%|##########| {n}/{n} [00:05<00:00,  2.5it/s]")
    run = _read(tmp_path, lines)
    assert list(run.series["val/accuracy"].steps) == list(range(1, n + 1))
    assert list(run.series["val/accuracy"].values)[-3:] == pytest.approx([1.0, 1.0, 1.0])


def test_a_summary_line_after_a_printed_dataframe_is_a_test_point(tmp_path: Path) -> None:
    lines = [" epoch  train_loss  train_acc  val_loss  val_acc"]
    lines += [f"{e - 1:>3}  {e:>5}    {0.6 / e:.6f}   {0.6 + 0.01 * e:.6f}  {0.5 / e:.6f}  {0.7 + 0.005 * e:.5f}"
              for e in range(1, 21)]
    lines.append("test acc (12 new machines): 61.0%")
    run = _read(tmp_path, lines)
    assert list(run.series["val/accuracy"].steps) == list(range(1, 21))
    assert run.series["val/accuracy"].values[-1] == pytest.approx(0.8)
    assert list(run.series["test/accuracy"].values) == pytest.approx([0.61])


@pytest.mark.parametrize(("name", "read"), [
    ("test acc (20 new machines)", "test acc"), ("val acc (held out)", "val acc"),
    ("Loss (val)", "Loss (val)"), ("acc (top 5)", "acc (top 5)"), ("acc (%)", "acc (%)"),
])
def test_a_description_in_parentheses_is_dropped_a_split_or_qualifier_kept(name: str, read: str) -> None:
    from traindx.readers.textnames import aside

    assert aside(name) == read


@pytest.mark.parametrize("last", [300, 250])
def test_a_split_words_batch_counter_is_no_accuracy(tmp_path: Path, last: int) -> None:
    # 'Train: 100/300' printed every 100 batches counts progress: the same shares each epoch
    lines = [f"Epoch {e} | Train: {b}/300 | loss: {1.0 / (e * b):.5f}" for e in (1, 2, 3) for b in (100, 200, last)]
    run = _read(tmp_path, lines)
    assert "train/accuracy" not in run.series and "train/loss" in run.series
