"""The Keras callback across a re-compile between two fit() calls (transfer learning's two
phases: the base frozen, then unfrozen and re-compiled with a new optimizer at a lower rate,
the same callback passed to both fits): it keeps recording, with the second optimizer's
learning rate and the unfrozen base's gradients. fixtures/qa_real26's transfer fix found the
callback turning itself off on JAX (an IndexError) and recording the first learning rate and
the head's gradients only on TensorFlow."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

import traindx  # noqa: E402
from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


def test_a_refit_after_unfreezing_and_recompiling_is_recorded_with_the_new_optimizer(tmp_path):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((192, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 4, 192)
    base = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", name="conv"),
                             L.Flatten(), L.Dense(8, activation="relu", name="feat")], name="base")
    base.trainable = False
    model = keras.Sequential([base, L.Dense(4, activation="softmax", name="head")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    cb = DiagnosisCallback(tmp_path, probe=(x[:64], y[:64]), diagnose=False, every=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[cb])
        first = cb._step
        base.trainable = True
        model.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, initial_epoch=2, epochs=4, batch_size=32, verbose=0, callbacks=[cb])
    assert not [w for w in caught if "traindx" in str(w.message)], [str(w.message) for w in caught]
    assert not cb._off and cb._step == 2 * first
    (run,) = traindx.read(tmp_path)
    lr = run.series["train/lr"]
    before = lr.values[lr.steps < first]
    after = lr.values[lr.steps >= first]
    assert len(before) and len(after)
    np.testing.assert_allclose(before, 1e-3, rtol=1e-5)
    np.testing.assert_allclose(after, 1e-4, rtol=1e-5)
    # the base's gradients once it is trainable (none while frozen), the head's throughout
    conv = run.series["train/grad_norm@conv"]
    assert conv.steps.min() >= first and np.all(np.isfinite(conv.values)) and np.all(conv.values > 0)
    head = run.series["train/grad_norm@head"].steps
    assert head.min() < first <= head.max()
