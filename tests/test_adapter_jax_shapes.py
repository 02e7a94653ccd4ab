"""The JAX Recorder's params_without_grad holds for any model shape (issue 10): a siamese net
applied twice per step (its last bias cancels in the difference: noted, not counted) and
experts routed in turn count no parameter without gradient; a stop_gradient encoder still
counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

from traindx.adapters.jax import Recorder, telemetry  # noqa: E402

pytestmark = pytest.mark.jax


def dense(k, a, b):
    return {"kernel": jax.random.normal(k, (a, b)) * np.sqrt(2.0 / a), "bias": jnp.zeros(b)}


def params(n_mid):
    ks = jax.random.split(jax.random.PRNGKey(0), n_mid + 2)
    return {"inp": dense(ks[0], 16, 32), "out": dense(ks[1], 32, 8),
            **{f"mid{i}": dense(ks[2 + i], 32, 32) for i in range(n_mid)}}  # fmt: skip


def net(p, x, k=0, cut=False):
    h = jax.nn.relu(x @ p["inp"]["kernel"] + p["inp"]["bias"])
    if cut:
        h = jax.lax.stop_gradient(h)
    m = p[f"mid{k}"] if f"mid{k}" in p else None
    if m is not None:
        h = jax.nn.relu(h @ m["kernel"] + m["bias"])
    return h @ p["out"]["kernel"] + p["out"]["bias"]


def record(kind, tmp_path, steps=40):
    n_mid = 4 if kind == "experts" else 1
    p = params(n_mid)
    tx = optax.adam(1e-3)
    s = tx.init(p)
    rec = Recorder(tmp_path, params=p, optimizer=tx, every=3)
    x = jax.random.normal(jax.random.PRNGKey(1), (256, 16))
    y = (x[:, :4].sum(1) > 0).astype(jnp.int32)

    def loss(p, xb, yb, k):
        if kind == "siamese":
            d = jnp.linalg.norm(net(p, xb) - net(p, xb + 0.1), axis=1)
            return jnp.mean(d**2)
        z = net(p, xb, k, cut=kind == "cut")
        return optax.softmax_cross_entropy_with_integer_labels(z, yb).mean()

    steps_fn = {}
    for i in range(steps):
        k = i % n_mid
        if k not in steps_fn:
            @jax.jit
            def step(p, s, xb, yb, k=k):
                lv, g = jax.value_and_grad(loss)(p, xb, yb, k)
                u, s = tx.update(g, s, p)
                return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=lv)
            steps_fn[k] = step
        j = (i * 32) % 224
        p, s, st = steps_fn[k](p, s, x[j : j + 32], y[j : j + 32])
        rec.log(i, st)
    rec.close()
    ctx = json.loads((tmp_path / "context.json").read_text())
    return ctx["flags"], ctx["notes"]


def test_siamese_bias_cancels_and_is_noted(tmp_path):
    flags, notes = record("siamese", tmp_path)
    assert flags["params_without_grad"] == 0.0
    assert any("exactly zero gradient" in n and "out" in n for n in notes)


def test_experts_routed_in_turn_all_get_gradient(tmp_path):
    flags, notes = record("experts", tmp_path)
    assert flags["params_without_grad"] == 0.0
    assert not any("exactly zero gradient" in n for n in notes)


def test_stop_gradient_encoder_still_counted(tmp_path):
    flags, _ = record("cut", tmp_path)
    assert flags["params_without_grad"] == 2.0  # inp.kernel and inp.bias
