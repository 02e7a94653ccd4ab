"""The Keras callback records that the learning rate was moved by a callback (issue 10: the
torch Monitor missed a LinearLR; the Keras callback named LearningRateSchedule objects but
not a ``LearningRateScheduler`` callback assigning the rate variable each epoch)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras


def fit(tmp_path, scheduled: bool):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((96, 6)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int64")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    cbs = [DiagnosisCallback(tmp_path, diagnose=False)]
    if scheduled:
        cbs.append(keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch))
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=cbs)
    return json.loads((tmp_path / "context.json").read_text())["optimizer"]


@pytest.mark.parametrize(("scheduled", "schedule"), [(True, "callback"), (False, None)])
def test_a_rate_moved_by_a_callback_is_recorded_as_scheduled(tmp_path, scheduled, schedule):
    opt = fit(tmp_path, scheduled)
    assert opt["schedule"] == schedule
    assert opt["lr"] == pytest.approx(0.1)
