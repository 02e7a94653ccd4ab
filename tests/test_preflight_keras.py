"""Keras preflight (TensorFlow backend): loss and optimizer from compile(); the model, its
optimizer and every RNG stream (Python, NumPy, Keras' global seed generator) untouched."""

from __future__ import annotations

import random

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

from traindx.adapters.keras import lr_range_test, preflight  # noqa: E402

pytestmark = [pytest.mark.keras, pytest.mark.slow]


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return (x[:1200], y[:1200]), (x[1200:], y[1200:])


def _model(last=None, loss=None):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dropout(0.1),
                          keras.layers.Dense(10, activation=last)])  # fmt: skip
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


def _seed_state():
    from keras.src.backend.common import global_state

    g = global_state.get_global_attribute("global_seed_generator")
    return None if g is None else np.array(g.state.numpy())


def test_healthy_untouched_and_buggy_ranked(digits):
    train, val = digits
    m = _model()
    m.fit(train[0][:64], train[1][:64], epochs=1, verbose=0)  # optimizer variables exist
    keras.random.uniform((1,))  # the global seed generator exists
    random.seed(2)
    np.random.seed(2)
    w = [a.copy() for a in m.get_weights()]
    ov = [np.array(v.numpy()) for v in m.optimizer.variables]
    rng = (random.getstate(), np.random.get_state(), _seed_state())
    d = preflight(m, train, val=val)
    assert d.healthy, (d.headline, [str(c) for c in d.checks])
    assert next(c for c in d.checks if c.name == "gradcheck").status == "skipped"
    assert all(np.array_equal(a, b) for a, b in zip(w, m.get_weights(), strict=True))
    assert all(np.array_equal(a, np.array(v.numpy())) for a, v in zip(ov, m.optimizer.variables, strict=True))
    assert random.getstate() == rng[0]
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), rng[1], strict=True))
    assert np.array_equal(rng[2], _seed_state())

    assert preflight(_model("relu"), train).causes[0].id == "activation_on_output"
    x = train[0].copy()
    x[::50, 3] = np.nan
    assert preflight(_model(), (x, train[1])).causes[0].id == "nonfinite_in_data"


def test_lr_range_test(digits):
    r = lr_range_test(_model(), digits[0])
    assert len(r.lrs) == len(r.losses) >= 10
    assert r.blowup_lr is not None and r.suggested_lr is not None and r.suggested_lr < r.blowup_lr
