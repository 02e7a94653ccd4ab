"""The JAX Recorder's applied-step direction (flag ``step_grad_cos``): the change the loop
applied to the parameters between adjacent telemetry steps, against the gradient. qa_jax42's
``optax.apply_updates(params, grads)`` (gradient ascent, read as an LR too high) is the case."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

from traindx.adapters._jax_stats.stepdir import StepDirection, sketch  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry, telemetry_jit  # noqa: E402


def _data(n=256, d=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, :k].argmax(1)).astype(np.int32)
    return jnp.asarray(x), jnp.asarray(y)


def _params(d=8, h=16, k=3):
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    return {"Dense_0": {"kernel": jax.random.normal(k1, (d, h)) * 0.3, "bias": jnp.zeros(h)},
            "Dense_1": {"kernel": jax.random.normal(k2, (h, k)) * 0.3, "bias": jnp.zeros(k)}}


def _loss(p, x, y):
    h = jax.nn.relu(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
    o = h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]
    return optax.softmax_cross_entropy_with_integer_labels(o, y).mean()


def _run(tmp_path, tx, ascent, jit_kind, steps=25):
    x, y = _data()
    params = _params()
    s = tx.init(params)

    def step(p, s, xb, yb, i):
        loss, g = jax.value_and_grad(_loss)(p, xb, yb)
        u, s = tx.update(g, s, p)
        kw = {"step": i} if jit_kind == "step" else {}
        st = telemetry(grads=g, params=p, updates=u, loss=loss, **kw)
        return optax.apply_updates(p, g if ascent else u), s, st

    fn = telemetry_jit(step) if jit_kind == "telemetry_jit" else jax.jit(step)
    rec = Recorder(tmp_path, params=params, optimizer=tx)
    for i in range(steps):
        sl = slice(32 * (i % 8), 32 * (i % 8) + 32)
        params, s, st = fn(params, s, x[sl], y[sl], i)
        rec.log(i, st)
    rec.close()
    return rec.context.flags


@pytest.mark.parametrize("jit_kind", ["jit", "step", "telemetry_jit"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_ascent_reads_positive_and_descent_negative(tmp_path, opt, jit_kind):
    tx = optax.sgd(0.05) if opt == "sgd" else optax.adam(1e-3)
    up = _run(tmp_path / "ascent", tx, True, jit_kind)
    down = _run(tmp_path / "descent", tx, False, jit_kind)
    assert up["step_grad_pairs"] >= 1 and down["step_grad_pairs"] >= 1
    assert up["step_grad_cos"] > 0.9, up
    assert down["step_grad_cos"] < -0.3, down


def test_an_lr_too_high_still_steps_downhill(tmp_path):
    """Overshooting is a descent step too: the cosine tells ascent from an LR too high."""
    flags = _run(tmp_path, optax.sgd(50.0), False, "jit", steps=6)
    assert flags["step_grad_cos"] < -0.9


def test_sketch_and_pairs_on_the_host():
    g = [np.arange(12, dtype=np.float32).reshape(3, 4), np.ones(3, np.float32)]
    p = [np.zeros((3, 4), np.float32), np.zeros(3, np.float32)]
    tags, vals = sketch(g, p, np)
    m = len(tags) // 2
    assert m == 15 and tags[0] == "_skp0" and tags[m] == "_skg0"
    assert sketch(g, p[:1], np) == ([], [])  # trees that differ: nothing
    col = {t: i for i, t in enumerate(tags)}
    row0 = np.concatenate([vals[0], vals[1]])
    up = np.concatenate([vals[0] + 0.1 * vals[1], vals[1]])
    sd = StepDirection()
    assert sd.see(col, np.array([0, 1]), np.stack([row0, up])) == {"step_grad_cos": pytest.approx(1.0), "step_grad_pairs": 1.0}
    sd = StepDirection()
    assert sd.see(col, np.array([0, 2]), np.stack([row0, up])) == {}  # not adjacent: no pair
