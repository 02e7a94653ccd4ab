"""Keras 3 on the torch backend: the callback watches whether a train_step written the torch
way resets the gradients (``grad_accumulating``); Keras' own train_step is not watched. Real
Keras fits in a subprocess (the backend is chosen at import)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from traindx.adapters._common.carry import fold_carry_counts

FIT = textwrap.dedent("""
    import json, os, sys
    os.environ["KERAS_BACKEND"] = "torch"
    import keras, numpy as np, torch
    from traindx.adapters.keras import DiagnosisCallback
    mode = sys.argv[2]

    class Custom(keras.Model):
        def train_step(self, data):
            x, y = data[0], data[1]
            if mode == "zeroed":
                self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            tw = list(self.trainable_weights)
            with torch.no_grad():
                self.optimizer.apply([v.value.grad for v in tw], tw)
            return {"loss": loss}

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
    inp = keras.Input((8,))
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Dense(16, activation="relu")(inp))
    model = (keras.Model if mode == "stock" else Custom)(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    cb = DiagnosisCallback(logdir=sys.argv[1], probe=(x[:64], y[:64]), diagnose=False)
    model.fit(x, y, epochs=2, batch_size=32, callbacks=[cb], verbose=0)
    flags = json.load(open(os.path.join(sys.argv[1], "context.json")))["flags"]
    print(json.dumps([flags.get("grad_accumulating"), flags.get("grads_carried_over"), cb._carry is not None]))
""")


def _fit(tmp_path, mode: str) -> list:
    pytest.importorskip("torch")
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": os.getcwd()}
    r = subprocess.run([sys.executable, "-c", FIT, str(tmp_path / mode), mode], capture_output=True, text=True,
                       env=env, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_torch_way_train_step_without_zero_grad_is_seen_accumulating(tmp_path):
    assert _fit(tmp_path, "accumulating") == [True, 1.0, True]
    assert _fit(tmp_path, "zeroed") == [False, 0.0, True]


@pytest.mark.slow
def test_keras_own_train_step_is_not_watched(tmp_path):
    assert _fit(tmp_path, "stock") == [False, None, False]


def test_carry_counts_verdict():
    flags: dict = {}
    fold_carry_counts(flags, 1, 0)  # one sighting, never seen reset
    assert flags == {"grad_accumulating": True}
    fold_carry_counts(flags, 0, 3)
    assert flags == {"grad_accumulating": False, "grads_carried_over": 0.0}
    fold_carry_counts(flags, 1, 3)  # reset most steps, one carry: not enough
    assert "grad_accumulating" not in flags and flags["grads_carried_over"] == 0.25
    fold_carry_counts(flags, 0, 1)
    assert flags == {}
