"""The JAX Recorder reads which validation rows are also training rows (``val_shared_frac``)
when it is given both splits (``data=`` and ``val_data=``), as the Keras callback reads them
from ``fit``'s arrays and the torch Monitor from the model's forwards: CHK025 then judges a
JAX run whose validation set was drawn from the training set."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

import traindx  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry  # noqa: E402

pytestmark = pytest.mark.jax


@pytest.fixture(scope="module")
def split():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return x[:600], y[:600].astype(np.int32), x[600:800], y[600:800].astype(np.int32)


def record(path, data, val_data, steps=12):
    params = {"w": jnp.zeros((64, 10)), "b": jnp.zeros((10,))}
    tx = optax.sgd(0.1)
    state = tx.init(params)

    @jax.jit
    def step(p, s, xb, yb):
        def obj(p):
            return optax.softmax_cross_entropy_with_integer_labels(xb @ p["w"] + p["b"], yb).mean()

        loss, g = jax.value_and_grad(obj)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss)

    rec = Recorder(path, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels",
                   data=data, val_data=val_data)  # fmt: skip
    x, y = data
    for i in range(steps):
        j = (i * 32) % (len(x) - 32)
        params, state, st = step(params, state, jnp.asarray(x[j : j + 32]), jnp.asarray(y[j : j + 32]))
        rec.log(i, st)
    rec.close()
    return rec.context.flags.get("val_shared_frac"), traindx.read(path)[0]


def test_validation_drawn_from_training_rows(tmp_path, split):
    x, y, xv, yv = split
    leaked_x = np.concatenate([x[:100], xv[:100]])  # half the validation rows are training rows
    leaked_y = np.concatenate([y[:100], yv[:100]])
    before = leaked_x.copy()
    frac, run = record(tmp_path / "leak", (x, y), (leaked_x, leaked_y))
    assert frac == pytest.approx(0.5, abs=0.03)  # digits has a few duplicate images across splits
    assert np.array_equal(leaked_x, before)  # the user's arrays are read, never changed
    assert run.context.flags["val_shared_frac"] == frac  # written to context.json
    assert "CHK025" in {s.code for s in traindx.diagnose(run)[0].symptoms}


def test_disjoint_splits_and_inputs_only(tmp_path, split):
    x, y, xv, yv = split
    frac, run = record(tmp_path / "clean", (x, y), (xv, yv))
    assert frac is not None and frac < 0.05
    assert "CHK025" not in {s.code for s in traindx.diagnose(run)[0].symptoms}
    # the validation inputs alone (no labels) are enough; jax arrays as well as numpy ones
    frac2, _ = record(tmp_path / "inputs", (x, y), jnp.asarray(x[:64]), steps=2)
    assert frac2 == 1.0


def test_no_validation_data_no_fact(tmp_path, split):
    x, y, xv, _ = split
    frac, _ = record(tmp_path / "none", (x, y), None, steps=2)
    assert frac is None
    # rows of another shape cannot be compared: no fact, no failure
    frac, _ = record(tmp_path / "shape", (x, y), xv[:, :32], steps=2)
    assert frac is None
