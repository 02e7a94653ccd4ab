"""The corpus's Keras train_mode_not_set injection (fixtures/corpus/keras_run.py) holds under
``model.fit``: BatchNormalization runs in inference mode (its moving mean never moves) and the
dropout block never drops, where the clean program's layers train. The form it replaced,
``layer(x, training=False)`` in a functional model, did neither: ``fit`` overrides that flag
(keras-team/keras#20285), so its runs held no fault."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "corpus"))
import keras_run  # noqa: E402


def _fit(bn, drop, *, flag=None):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    x = keras.layers.Dense(8)(inp)
    x = bn(x, training=flag) if flag is not None else bn(x)
    x = drop(x, training=flag) if flag is not None else drop(x)
    m = keras.Model(inp, keras.layers.Dense(1)(x))
    m.compile(keras.optimizers.Adam(1e-3), "mse")
    rng = np.random.default_rng(0)
    xs = (rng.normal(size=(64, 4)) + 1.0).astype("float32")
    m.fit(xs, xs[:, :1], epochs=1, batch_size=16, verbose=0)
    a, b = (np.asarray(m(xs, training=True)) for _ in range(2))
    return np.asarray(bn.moving_mean), a, b


def test_injected_eval_mode_holds_under_fit():
    mean, a, b = _fit(keras_run._bn(True), keras_run._dropout(0.9, True))
    assert np.all(mean == 0.0)  # inference mode: the batch statistics never update it
    np.testing.assert_allclose(a, b)  # no dropout, no batch statistics in a training call


def test_clean_program_and_the_old_flag_train_both_layers():
    for flag in (None, False):  # the clean layers; the old injection (overridden by fit)
        mean, a, b = _fit(keras_run._bn(False), keras_run._dropout(0.9, False), flag=flag)
        assert np.any(mean != 0.0), flag
        assert not np.allclose(a, b), flag  # Dropout(0.9) drops in a training call
