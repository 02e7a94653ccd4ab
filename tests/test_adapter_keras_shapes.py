"""The Keras callback's gradient facts on a siamese model (one shared tower applied to both
inputs, issue 10): the tower's last bias cancels in the difference of the two embeddings
(an exactly zero gradient, noted) and is not a parameter without gradient; a tower whose
output is cut with stop_gradient still is."""

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


def siamese(tmp_path, cut):
    from keras import ops
    from sklearn.datasets import load_digits

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    x, d = load_digits(return_X_y=True)
    x = (x[:512] / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    b = rng.permutation(512)
    same = (d[:512] == d[b]).astype("float32")
    tower = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(8)])
    ia, ib = keras.Input((64,)), keras.Input((64,))
    ea, eb = tower(ia), tower(ib)
    if cut:
        ea, eb = (keras.layers.Lambda(ops.stop_gradient)(e) for e in (ea, eb))
    dist = keras.layers.Lambda(lambda v: ops.sqrt(ops.maximum(ops.sum(ops.square(v[0] - v[1]), axis=1, keepdims=True), 1e-7)))([ea, eb])  # fmt: skip
    head = keras.layers.Dense(1, activation="sigmoid")(dist)  # so a cut tower leaves something to train
    model = keras.Model([ia, ib], head)
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    cb = DiagnosisCallback(logdir=tmp_path, probe=([x[:64], x[b[:64]]], same[:64]), every=2)
    model.fit([x, x[b]], same, epochs=3, batch_size=32, verbose=0, callbacks=[cb])
    cb.close()
    ctx = json.loads((tmp_path / "context.json").read_text())
    return ctx["flags"], ctx["notes"]


def test_siamese_tower_bias_cancels_and_is_noted(tmp_path):
    flags, notes = siamese(tmp_path, cut=False)
    assert flags["params_without_grad"] == 0.0
    assert any("exactly zero gradient" in n for n in notes)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # Keras' own, on the cut tower
def test_cut_tower_is_counted(tmp_path):
    flags, _ = siamese(tmp_path, cut=True)
    assert flags["params_without_grad"] == 4.0  # both Dense layers' kernel and bias
