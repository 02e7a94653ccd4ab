"""Keras preflight on the JAX and torch backends (KERAS_BACKEND is read when keras is
imported, so each backend runs in its own process): a healthy model passes with its
weights, optimizer variables and every RNG stream untouched; a buggy one is ranked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")
pytestmark = [pytest.mark.keras, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import random, sys
import numpy as np
import keras
from keras.src.backend.common import global_state
from sklearn.datasets import load_digits
from traindx.adapters.keras import lr_range_test, preflight

assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype(np.float32)
train, val = (x[:600], y[:600]), (x[1200:], y[1200:])

def model(last=None):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dropout(0.1),
                          keras.layers.Dense(10, activation=last)])
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m

def rng():
    g = global_state.get_global_attribute("global_seed_generator")
    out = [random.getstate(), np.random.get_state()[1].copy(), None if g is None else np.array(g.state.numpy())]
    if sys.argv[1] == "torch":
        import torch
        out.append(torch.get_rng_state().numpy().copy())
    return out

m = model()
m.fit(train[0][:64], train[1][:64], epochs=1, verbose=0)
keras.random.uniform((1,))
random.seed(4); np.random.seed(4)
w = [a.copy() for a in m.get_weights()]
ov = [np.array(v.numpy()) for v in m.optimizer.variables]
before = rng()
d = preflight(m, train, val=val)
assert d.healthy, (d.headline, [str(c) for c in d.checks])
ran = {c.name for c in d.checks if c.status != "skipped"}
assert ran >= {"data", "init", "output", "grads", "batch", "overfit", "modes", "dummy", "lr"}, [str(c) for c in d.checks]
assert all(np.array_equal(a, b) for a, b in zip(w, m.get_weights(), strict=True))
assert all(np.array_equal(a, np.array(v.numpy())) for a, v in zip(ov, m.optimizer.variables, strict=True))
after = rng()
assert after[0] == before[0] and all(np.array_equal(a, b) for a, b in zip(before[1:], after[1:], strict=True))
assert preflight(model("relu"), train).causes[0].id == "activation_on_output"
r = lr_range_test(model(), train, budget=3.0)
assert len(r.lrs) == len(r.losses) >= 10 and r.suggested_lr is not None
print("ok", sys.argv[1])
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras_preflight_on_backend(backend):
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", SCRIPT, backend], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    assert f"ok {backend}" in p.stdout
