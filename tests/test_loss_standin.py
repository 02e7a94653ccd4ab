"""A split that logged no loss reads its error metric (``train_mse``, ``val_mae``, ``nll``) as the loss."""

from __future__ import annotations

import math

import traindx


def _csv(path, header, rows):
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.csv").write_text("\n".join([header] + [",".join(map(str, r)) for r in rows]) + "\n")


def test_mse_only_regression_is_judged(tmp_path):
    rows = [(e, round(40 * 0.8**e + 1, 4), round(45 * 0.8**e + 1.5, 4)) for e in range(25)]
    _csv(tmp_path / "r", "epoch,train_mse,val_mse", rows)
    (d,) = traindx.diagnose(tmp_path / "r")
    assert d.verdict == "healthy", d.headline


def test_mse_nan_throughout_is_a_finding(tmp_path):
    rows = [(e, math.nan, math.nan) for e in range(20)]
    _csv(tmp_path / "r", "epoch,train_mse,val_mse", rows)
    (d,) = traindx.diagnose(tmp_path / "r")
    assert d.verdict == "findings"
    assert any(s.severity == "error" for s in d.symptoms)


def test_logged_loss_wins_over_an_error_metric(tmp_path):
    rows = [(e, round(2.3 * 0.9**e, 4), round(9.0 * 1.1**e, 4)) for e in range(25)]
    _csv(tmp_path / "r", "epoch,loss,mae", rows)
    (run,) = traindx.read(tmp_path / "r")
    from traindx.signals import pick

    assert pick(run, "loss", "train").original_name == "loss"
