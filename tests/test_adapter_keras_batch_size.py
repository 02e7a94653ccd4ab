"""The Keras callback's batch size (and the n_train it implies when the data are not given): read
from the loss tracker of Keras' own train_step, which weights each update by the batch's rows;
never from a custom train_step's, which counts whatever the user passes - Keras' documented loop
``m.update_state(loss)`` counts 1 a step, and was recorded as "batch size 1" (fixtures/qa_real
``kr_train_step_head_grads_only_tf``: 75 steps of 32 rows recorded as n_train 75, batch size 1)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = [pytest.mark.keras,
              pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow train_step")]


class MetricLoopModel(keras.Sequential):
    """A custom train_step written as Keras' guide writes it: the loss metric is updated with
    the batch's scalar loss."""

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
            else:
                m.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _context(tmp_path, cls):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(640, 8)).astype("float32")
    y = (x[:, :3].argmax(1)).astype("int64")
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = cls([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    cb = DiagnosisCallback(logdir=tmp_path, probe=(x[:64], y[:64]), every=1000, diagnose=False)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    return json.loads((tmp_path / "context.json").read_text())


def test_keras_own_train_step_gives_the_batch_size(tmp_path):
    ctx = _context(tmp_path, keras.Sequential)
    assert ctx["data"]["batch_size"] == 16
    assert ctx["data"]["n_train"] == 640  # fit's own x


def test_a_custom_train_step_leaves_the_batch_size_unknown(tmp_path):
    ctx = _context(tmp_path, MetricLoopModel)
    assert ctx["data"]["batch_size"] is None
    assert ctx["data"]["n_train"] == 640  # fit's own x: a count, whatever the batch size
    assert not any("batch size 1" in n for n in ctx["notes"])
