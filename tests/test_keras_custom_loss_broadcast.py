"""A hand-written Keras loss given ``to_categorical`` rows against a one-unit sigmoid output
broadcasts them ((N, 1) against (N, 2)); the callback records ``broadcast_in_loss`` for that
shape only - a hand-written sparse cross-entropy reading class ids against C outputs, and the
same loss on the 0/1 vector, record nothing. Real small runs on scikit-learn's breast cancer."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras


def hand_bce(y_true, y_pred):
    p = keras.ops.clip(y_pred, 1e-7, 1 - 1e-7)
    return -keras.ops.mean(y_true * keras.ops.log(p) + (1 - y_true) * keras.ops.log(1 - p))


def hand_sparse_ce(y_true, y_pred):
    ids = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
    return -keras.ops.mean(keras.ops.sum(keras.ops.one_hot(ids, 2) * keras.ops.log_softmax(y_pred), axis=-1))


def flags_of(tmp_path, y, units, act, loss, probe=True):
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data.astype("float32")
    x = (x - x.mean(0)) / x.std(0)
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(units, activation=act)])  # fmt: skip
    model.compile("adam", loss, metrics=["accuracy"])
    cb = DiagnosisCallback(tmp_path, diagnose=False, probe=(x[:128], y[:128]) if probe else None)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[cb])
    return cb.context.flags, cb.context.notes


def test_one_hot_rows_against_one_sigmoid_unit(tmp_path):
    from sklearn.datasets import load_breast_cancer

    y = load_breast_cancer().target
    flags, notes = flags_of(tmp_path / "b", np.eye(2, dtype="float32")[y], 1, "sigmoid", hand_bce)
    assert flags["broadcast_in_loss"] is True and any("(broadcast)" in n for n in notes)
    same, _ = flags_of(tmp_path / "f", y.astype("float32"), 1, "sigmoid", hand_bce)
    assert "broadcast_in_loss" not in same  # shapes agree: a hand-written loss says nothing
    ids, _ = flags_of(tmp_path / "s", y.astype("float32"), 2, None, hand_sparse_ce)
    assert "broadcast_in_loss" not in ids  # class ids against C outputs: a sparse loss's own shapes
