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


def test_epoch_summaries_with_no_step_line_between_keep_every_epoch(tmp_path: Path) -> None:
    # a step line every 10 steps, an epoch of 9 steps: two summaries now and then follow one
    # step line; placed on the step axis, the later superseded the earlier "as if resumed"
    lines, step = [], 0
    for e in range(12):
        for _ in range(9):
            if step % 10 == 0:
                lines.append(f"step {step:05d} | loss {2.0 / (step + 1):.4e} | acc {0.4:.3e}")
            step += 1
        lines.append(f"epoch {e} | train_loss {1.9 / (e + 1):.4e} | val_loss {2.1 / (e + 1):.4e} | val_acc {0.5:.3e}")
    (tmp_path / "train_log.txt").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    vl = run.series["val/loss"]
    assert len(vl) == 12 and vl.superseded == 0
    assert list(vl.values) == pytest.approx([2.1 / (e + 1) for e in range(12)], rel=1e-3)
    assert not [p for p in run.ingest.problems if p.kind == "superseded"]
    assert len(run.series["train/loss"]) == 11  # the step lines, on their own axis
