"""HF ``trainer_state.json``: the end-of-training summary's ``train_loss`` (the mean over the
run) does not replace the last logged step loss (found with fixtures/qa_fresh's HF runs)."""

from __future__ import annotations

import json
from pathlib import Path

import traindx

SUMMARY = {
    "train_runtime": 12.5,
    "train_samples_per_second": 400.0,
    "train_loss": 0.41,
    "epoch": 3.0,
    "step": 30,
    "total_flos": 1.0,
}


def _state(path: Path, history: list[dict]) -> Path:
    path.mkdir()
    (path / "trainer_state.json").write_text(json.dumps({"log_history": history, "max_steps": 30}))
    return path


def test_summary_mean_does_not_replace_the_last_step_loss(tmp_path: Path) -> None:
    steps = [
        {"loss": 1.0 / (i + 1), "step": 3 * (i + 1), "epoch": 0.3 * (i + 1)} for i in range(10)
    ]
    run = traindx.read(_state(tmp_path / "r", [*steps, SUMMARY]))[0]
    loss = run.series["train/loss"]
    assert list(loss.steps) == [s["step"] for s in steps]
    assert loss.values[-1] == steps[-1]["loss"]  # 0.1, not the run's mean 0.41
    assert not [p for p in run.ingest.problems if "superseded" in p.kind]


def test_summary_alone_still_gives_its_one_point(tmp_path: Path) -> None:
    run = traindx.read(_state(tmp_path / "r", [SUMMARY]))[0]
    assert list(run.series["train/loss"].values) == [0.41]
