"""A per-batch ``Loss:`` step line and the epoch's ``train loss`` summary in one printed log
(issue 10, qa_wild47): both read as train/loss, and the summary was dropped as a second version.
The step series keeps train/loss; the epoch means are read as its epoch-level series
(train/loss@epoch), on the same axis (issue 10 s.4: one run, one time axis)."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx

E = 12


def _log(tmp_path: Path, per_epoch: int) -> None:
    lines = []
    for e in range(1, E + 1):
        for k in range(1, per_epoch + 1):
            lines.append(f"Epoch [{e}/{E}], Step [{10 * k}/{10 * per_epoch}], Loss: {1.0 / (e + k / 10):.4f}")
        lines.append(f"Epoch [{e}/{E}] train loss {1.2 / e:.4f}, val loss {1.3 / e:.4f}")
    (tmp_path / "out.txt").write_text("\n".join(lines) + "\n")


def test_one_step_line_per_epoch_and_its_summary_are_two_series(tmp_path: Path) -> None:
    _log(tmp_path, 1)
    (run,) = traindx.read(tmp_path)
    assert run.series["train/loss"].original_name == "Loss"
    assert list(run.series["train/loss"].values) == pytest.approx([round(1.0 / (e + 0.1), 4) for e in range(1, E + 1)])
    epoch_means = run.series["train/loss@epoch"]
    assert list(epoch_means.values) == pytest.approx([round(1.2 / e, 4) for e in range(1, E + 1)])
    assert list(epoch_means.steps) == list(run.series["train/loss"].steps)
    assert len(run.series["val/loss"]) == E
    assert not [p for p in run.ingest.problems if p.kind == "dropped"]


def test_several_step_lines_per_epoch_keep_the_step_axis_and_the_means_sit_at_epoch_ends(tmp_path: Path) -> None:
    _log(tmp_path, 3)
    (run,) = traindx.read(tmp_path)
    steps_loss, means = run.series["train/loss"], run.series["train/loss@epoch"]
    assert steps_loss.unit == "step" and len(steps_loss) == 3 * E
    assert len(means) == E and means.unit == steps_loss.unit
    assert set(means.steps) <= set(steps_loss.steps)  # each mean at its epoch's last counted step
    assert list(means.values) == pytest.approx([round(1.2 / e, 4) for e in range(1, E + 1)])


def test_a_summary_naming_another_series_is_left_as_it_was(tmp_path: Path) -> None:
    lines = []
    for e in range(1, E + 1):
        lines.append(f"Epoch [{e}/{E}], Step [20/32], Loss: {1.0 / e:.4f}")
        lines.append(f"Epoch [{e}/{E}] val loss {1.3 / e:.4f}")
    (tmp_path / "out.txt").write_text("\n".join(lines) + "\n")
    (run,) = traindx.read(tmp_path)
    assert {"train/loss", "val/loss"} <= set(run.series) and "train/loss@epoch" not in run.series
