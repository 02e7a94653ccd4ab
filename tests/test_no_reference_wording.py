"""A "healthy" on a log with no reference level for its loss (a regression or reconstruction
loss: no accuracy, no class count) says what it cannot judge; wording only, never an alarm."""

from __future__ import annotations

from pathlib import Path

from traindx.api import diagnose


def _write(tmp_path: Path, header: str, rows: list[str]) -> Path:
    (tmp_path / "metrics.csv").write_text("\n".join([header, *rows]) + "\n")
    return tmp_path


def test_regression_healthy_says_it_has_no_reference(tmp_path: Path) -> None:
    rows = [f"{e},{0.9 * 0.85**e + 0.05:.5f},{0.95 * 0.85**e + 0.06:.5f}" for e in range(1, 31)]
    d = diagnose(_write(tmp_path, "epoch,train_mse,val_mse", rows))[0]
    assert d.verdict == "healthy" and d.healthy
    assert "no reference level for this loss" in d.headline and "R^2" in d.headline


def test_classifier_with_accuracy_has_its_reference(tmp_path: Path) -> None:
    rows = [
        f"{e},{2.3 * 0.85**e + 0.05:.5f},{2.3 * 0.85**e + 0.08:.5f},{0.97 - 0.87 * 0.85**e:.4f}"
        for e in range(1, 31)
    ]
    d = diagnose(_write(tmp_path, "epoch,loss,val_loss,val_accuracy", rows))[0]
    assert d.verdict == "healthy"
    assert "reference level" not in d.headline
