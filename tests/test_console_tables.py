"""Console logs of the unseen batches (fixtures/qa_wild42, issue 10): a ``|`` table with a header
of spaced names and time / ETA columns, fractions ``correct 1785/1800``, epoch summaries among
step lines. Each test writes its own log in the layout, never the fixture's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx


@pytest.mark.parametrize("sep", [" | ", "  "])
def test_a_header_table_with_time_and_eta_columns(tmp_path: Path, sep: str) -> None:
    names = ["Epoch", "Train Loss", "Val Loss", "Val Acc", "Time", "ETA"] if "|" in sep else [
        "epoch", "train_loss", "val_loss", "val_acc", "time", "eta"]
    lines = ["train 1500  val 500  test 360", sep.join(names)]  # split sizes first: no point
    for e in range(1, 13):
        lines.append(sep.join([f"{e:>3}/12", f"{2.0 / e:.4f}", f"{2.2 / e:.4f}", f"{50 + 3 * e:.2f}%",
                               f"{0.1 * e:.1f}s", f"0:00:{12 - e:02d}"]))
    lines.append("test acc: 95.0%")
    (tmp_path / "out.log").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    assert set(run.series) == {"train/loss", "val/loss", "val/accuracy", "test/accuracy"}
    assert list(run.series["train/loss"].steps) == list(range(1, 13))
    assert run.series["train/loss"].unit == "epoch"
    assert list(run.series["val/accuracy"].values) == pytest.approx([(50 + 3 * e) / 100 for e in range(1, 13)])
    assert list(run.series["test/accuracy"].steps) == [12]
    assert run.series["test/accuracy"].values[0] == pytest.approx(0.95)


def test_fractions_name_the_share_they_count(tmp_path: Path) -> None:
    # 'correct N/M' is the accuracy, 'fraud caught N/M' the recall of the class named; another
    # fraction keeps its name and is listed as not mapped (never dropped silently)
    lines = [f"epoch {e}: correct {900 + 10 * e}/1000 | fraud caught {e}/20 | widgets {e}/7 | val_loss {1.0 / e:.4f}"
             for e in range(1, 9)]
    (tmp_path / "log.txt").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    assert list(run.series["train/accuracy"].values) == pytest.approx([(900 + 10 * e) / 1000 for e in range(1, 9)])
    assert list(run.series["train/fraud_recall"].values) == pytest.approx([e / 20 for e in range(1, 9)])
    assert "widgets" in run.ingest.unmapped
