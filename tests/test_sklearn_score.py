"""scikit-learn's verbose MLP (early_stopping) prints ``Validation score: 0.93``: accuracy for a
classifier, R^2 for a regressor; read as such only where the file says which."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from traindx.api import read

sklearn_nn = pytest.importorskip("sklearn.neural_network")


def _verbose_fit(estimator: object, classify: bool) -> str:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = x[:400] / 16.0, y[:400]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.warns(Warning):  # stops before converging
        estimator.fit(x, y if classify else y / 9.0)  # type: ignore[attr-defined]
    return out.getvalue()


def _mlp(kind: str) -> object:
    cls = getattr(sklearn_nn, kind)
    return cls(hidden_layer_sizes=(16,), max_iter=6, early_stopping=True, verbose=True, random_state=0)


def test_a_classifier_score_is_validation_accuracy(tmp_path: Path) -> None:
    text = _verbose_fit(_mlp("MLPClassifier"), classify=True)
    assert "Validation score:" in text
    (tmp_path / "train.log").write_text("model = MLPClassifier(early_stopping=True)\n" + text)
    run = read(tmp_path)[0]
    assert sorted(str(k) for k in run.series) == ["train/loss", "val/accuracy"]
    assert len(run.series["val/accuracy"].values) == 6
    assert not run.ingest.unmapped


def test_a_regressor_score_is_validation_r2(tmp_path: Path) -> None:
    text = _verbose_fit(_mlp("MLPRegressor"), classify=False)
    (tmp_path / "train.log").write_text("MLPRegressor fit\n" + text)
    run = read(tmp_path)[0]
    assert sorted(str(k) for k in run.series) == ["train/loss", "val/r2"]


def test_a_score_of_unknown_kind_is_accuracy_only_when_its_values_are_counted_shares(tmp_path: Path) -> None:
    """No estimator named: a classifier's validation score is k/n of its 40-row validation split
    (session 44: traindx.readers.assemble.count_shares) - an accuracy; a regressor's R^2
    is no such share and stays a plain score."""
    text = _verbose_fit(_mlp("MLPClassifier"), classify=True)
    (tmp_path / "c" / "train.log").parent.mkdir()
    (tmp_path / "c" / "train.log").write_text(text)
    run = read(tmp_path / "c")[0]
    assert "val/accuracy" in {str(k) for k in run.series}
    text = _verbose_fit(_mlp("MLPRegressor"), classify=False)
    (tmp_path / "r" / "train.log").parent.mkdir()
    (tmp_path / "r" / "train.log").write_text(text)
    run = read(tmp_path / "r")[0]
    assert "val/accuracy" not in {str(k) for k in run.series}
