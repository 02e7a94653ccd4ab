"""The JAX Recorder's ``has_recurrent`` flag, read from a telemetry_jit step's graph: a model
whose forward pass runs a ``jax.lax.scan`` carrying its state through a matmul (a hand-written
Elman cell over the time steps - a plain dict of arrays has no layer type that says "RNN") is
recorded as recurrent, the fact exploding_gradients reads ("gradients multiply through time
steps"); a feed-forward model, and a scan that only sums its carry (a running mean over the time
steps before one dense layer), are not. Real JAX/optax."""

from __future__ import annotations

import json

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

import traindx  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry, telemetry_jit  # noqa: E402
from traindx.signals import compute_facts  # noqa: E402

pytestmark = pytest.mark.jax

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 12, 3)).astype(np.float32)  # (batch, time, channels)
Y = X.mean(axis=(1, 2)).astype(np.float32)
H = 8


def _params():
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    return {"wx": jax.random.normal(k1, (3, H)) * 0.3, "wh": jax.random.normal(k2, (H, H)) * 0.3,
            "wo": jax.random.normal(k3, (H, 1)) * 0.3}


def elman(p, x):
    def cell(h, xt):
        return jnp.tanh(xt @ p["wx"] + h @ p["wh"]), None

    h, _ = jax.lax.scan(cell, jnp.zeros((x.shape[0], H)), jnp.swapaxes(x, 0, 1))
    return (h @ p["wo"])[:, 0]


def running_mean(p, x):  # a scan that sums its carry; the only matmuls come after it
    def add(c, xt):
        return c + xt, None

    c, _ = jax.lax.scan(add, jnp.zeros((x.shape[0], 3)), jnp.swapaxes(x, 0, 1))
    return (jnp.tanh((c / x.shape[1]) @ p["wx"]) @ p["wo"])[:, 0]


def feed_forward(p, x):
    return (jnp.tanh(x.mean(1) @ p["wx"]) @ p["wo"])[:, 0]


def record(tmp_path, apply):
    tx = optax.sgd(1e-2)
    params = _params()
    state = tx.init(params)

    def step(p, s, x, y):
        def obj(p):
            o = apply(p, x)
            return jnp.mean((o - y) ** 2), o

        (loss, o), g = jax.value_and_grad(obj, has_aux=True)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, logits=o,
                                                        labels=y, inputs=x)

    jstep = telemetry_jit(step, every=2)
    rec = Recorder(tmp_path, params=params, optimizer=tx, loss="mse")
    for i in range(4):
        params, state, stats = jstep(params, state, X, Y)
        rec.log(i, stats)
    rec.close()
    flags = json.loads((tmp_path / "context.json").read_text())["flags"]
    return flags, compute_facts(traindx.read(tmp_path)[0])


def test_scan_carrying_state_through_a_matmul_is_recurrent(tmp_path):
    flags, facts = record(tmp_path, elman)
    assert flags.get("has_recurrent") is True
    assert facts["ctx"]["has_recurrent"] is True


@pytest.mark.parametrize("apply", [running_mean, feed_forward])
def test_no_recurrence_no_flag(tmp_path, apply):
    flags, facts = record(tmp_path, apply)
    assert "has_recurrent" not in flags
    assert facts["ctx"].get("has_recurrent") is not True
