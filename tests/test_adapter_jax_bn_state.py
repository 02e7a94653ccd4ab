"""The JAX Recorder's ``log_state``: the flax BatchNorm statistics a loop keeps, read as the
Keras callback reads its layers' (``bn_layers``, ``bn_stats_at_init``, ``bn_stats_steps``),
so CTX004 (trained in inference mode) can judge a flax run whose updated ``batch_stats``
(returned by ``apply(..., mutable=["batch_stats"])``) are thrown away. Real flax loops."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
fnn = pytest.importorskip("flax.linen")
jnp = jax.numpy

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry  # noqa: E402

pytestmark = pytest.mark.jax


class BNMLP(fnn.Module):
    @fnn.compact
    def __call__(self, x, train: bool):
        h = fnn.Dense(16)(x)
        h = fnn.BatchNorm(use_running_average=not train)(h)
        return fnn.Dense(10)(fnn.relu(h))


@pytest.fixture(scope="module")
def digits():
    return scaled_digits(320, np.int32)


def _train(tmp_path, data, keep: bool, steps: int = 12):
    x, y = data
    model, tx = BNMLP(), optax.adam(1e-2)
    variables = model.init(jax.random.PRNGKey(0), x[:2], train=False)
    params, batch_stats = variables["params"], variables["batch_stats"]
    state = tx.init(params)

    @jax.jit
    def step(p, s, bs, xb, yb):
        def obj(p):
            z, upd = model.apply({"params": p, "batch_stats": bs}, xb, train=True, mutable=["batch_stats"])
            return optax.softmax_cross_entropy_with_integer_labels(z, yb).mean(), upd

        (loss, upd), g = jax.value_and_grad(obj, has_aux=True)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, upd["batch_stats"], telemetry(grads=g, params=p, loss=loss, inputs=xb)

    rec = Recorder(tmp_path, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels")
    for i in range(steps):
        j = (i * 32) % len(x)
        params, state, new_bs, st = step(params, state, batch_stats, jnp.asarray(x[j : j + 32]), jnp.asarray(y[j : j + 32]))
        if keep:
            batch_stats = new_bs
        rec.log(i, st)
    rec.log_state(steps, {"params": params, "batch_stats": batch_stats})
    rec.close()
    return rec.context, {s.code for s in traindx.diagnose(traindx.read(tmp_path)[0])[0].symptoms}


def test_discarded_batch_stats_stay_at_init(tmp_path, digits):
    ctx, codes = _train(tmp_path, digits, keep=False)
    f = ctx.flags
    assert (f["bn_layers"], f["bn_stats_at_init"], f["bn_stats_steps"]) == (1.0, 1.0, 12.0)
    assert "CTX004" in codes


def test_kept_batch_stats_move(tmp_path, digits):
    ctx, codes = _train(tmp_path, digits, keep=True)
    assert (ctx.flags["bn_layers"], ctx.flags["bn_stats_at_init"]) == (1.0, 0.0)
    assert "CTX004" not in codes


def test_no_batchnorm_no_flags_and_bad_input_never_raises(tmp_path):
    rec = Recorder(tmp_path / "r")
    rec.log_state(5, {"params": {"Dense_0": {"kernel": jnp.ones((2, 2))}}})
    rec.log_state(5, object())  # not a tree of dicts: nothing found, nothing raised
    assert "bn_layers" not in rec.context.flags
    rec.close()
