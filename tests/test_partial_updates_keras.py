"""UPD004 on real Keras runs: a custom train_step that differentiates and updates the head's
variables only fires it (the callback's probe gradient reaches the hidden layers, their
weights never change); a backbone frozen on purpose (trainable=False) does not."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

import traindx  # noqa: E402
from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras


class Net(keras.Model):
    def __init__(self, head_only: bool):
        super().__init__()
        self.head_only = head_only
        self.h1 = keras.layers.Dense(32, activation="relu")
        self.h2 = keras.layers.Dense(32, activation="relu")
        self.head = keras.layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.head(self.h2(self.h1(x)))

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        train_vars = self.head.trainable_variables if self.head_only else self.trainable_variables
        self.optimizer.apply(tape.gradient(loss, train_vars), train_vars)
        for m in self.metrics:
            m.update_state(loss) if m.name == "loss" else m.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _codes(tmp_path, head_only: bool, freeze: bool) -> set[str]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x[:640] / 16.0).astype("float32"), y[:640].astype("int64")
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = Net(head_only)
    model(x[:2])
    if freeze:
        model.h1.trainable = model.h2.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    cb = DiagnosisCallback(logdir=tmp_path, probe=(x[:128], y[:128]))
    model.fit(x, y, epochs=6, batch_size=32, verbose=0, callbacks=[cb])
    (run,) = traindx.read(tmp_path)
    (d,) = traindx.diagnose(run)
    return {s.code for s in d.symptoms}


def test_train_step_updating_the_head_only(tmp_path):
    assert "UPD004" in _codes(tmp_path, head_only=True, freeze=False)


def test_a_frozen_backbone_is_not_flagged(tmp_path):
    assert "UPD004" not in _codes(tmp_path, head_only=False, freeze=True)
