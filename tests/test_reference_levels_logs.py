"""Reference levels a log alone shows (issue 10): a classifier whose first loss is far above any
ln(C) is a finding, not a note (LOSS019); an accuracy frozen at one exact value for the last
half of the run, far from perfect, while the validation loss keeps moving is a model whose
predictions stopped changing (ACC002). Read from real logs as Keras writes them
(``json.dump(history.history)``, CSVLogger)."""

from __future__ import annotations

import json
from pathlib import Path

from traindx.api import diagnose


def _history(path: Path, hist: dict[str, list[float]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "history.json").write_text(json.dumps(hist))
    return path


def _codes(d) -> set[str]:
    return {s.code for s in d.symptoms}


def test_a_huge_first_classifier_loss_is_a_finding(tmp_path):
    # std-1 init: the first epoch's mean cross-entropy is in the hundreds (ln 10 = 2.3), the run
    # never fully recovers (validation loss 10x the training loss, accuracy 0.8)
    n = 20
    loss = [827.0 * 0.6**e + 4.8 for e in range(n)]
    hist = {
        "loss": loss,
        "accuracy": [min(0.9, 0.3 + 0.04 * e) for e in range(n)],
        "val_loss": [10.0 * v for v in loss],
        "val_accuracy": [min(0.82, 0.28 + 0.035 * e) for e in range(n)],
    }
    (d,) = diagnose(_history(tmp_path / "std1", hist))
    assert "LOSS019" in _codes(d)
    assert d.verdict == "findings", d.headline
    causes = {c.id for c in d.causes}
    assert causes & {"bad_weight_init", "inputs_not_normalized", "wrong_loss_function"}, [c.id for c in d.causes]


def test_accuracy_frozen_far_from_perfect_while_the_loss_falls(tmp_path):
    # iris under MSE on softmax outputs: validation accuracy reaches 0.62 at epoch 10 and stays at
    # exactly 0.62 for 30 epochs while the validation loss keeps falling
    n = 40
    hist = {
        "loss": [0.241 * 0.995**e for e in range(n)],
        "accuracy": [min(0.64, 0.33 + 0.03 * e) for e in range(n)],
        "val_loss": [0.242 * 0.995**e for e in range(n)],
        "val_accuracy": [min(0.62, 0.34 + 0.028 * e) for e in range(n)],
    }
    (d,) = diagnose(_history(tmp_path / "iris_mse", hist))
    assert "ACC002" in _codes(d)
    assert d.verdict == "findings", d.headline


def test_a_plateau_that_resumes_is_not_frozen(tmp_path):
    # the fixed iris run: 0.66 for 12 epochs (two classes separated), then it learns the third
    n = 40
    va = [0.34, 0.5] + [0.66] * 14 + [0.68, 0.72, 0.74, 0.82, 0.86] + [0.96] * 3 + [0.98] * (n - 24)
    hist = {
        "loss": [1.19 * 0.985**e for e in range(n)],
        "accuracy": [min(0.93, 0.33 + 0.02 * e) for e in range(n)],
        "val_loss": [1.13 * 0.985**e for e in range(n)],
        "val_accuracy": va,
    }
    (d,) = diagnose(_history(tmp_path / "iris_fixed", hist))
    assert "ACC002" not in _codes(d), d.headline
