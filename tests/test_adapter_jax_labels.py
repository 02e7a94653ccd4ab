"""The JAX Recorder records the integer label range (``target_min`` / ``target_max``) from
the labels its telemetry already sees, as the Keras callback does, so that CTX023 (class ids
reaching the number of outputs) can judge a flax/optax run: labels 1..C fed to C outputs
under optax's integer-label cross-entropy raise no error (JAX's gather fills the missing
logit with NaN, so the loss is NaN from the first step and reads like divergence)."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
nn = pytest.importorskip("flax.linen")
jnp = jax.numpy

import traindx  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry  # noqa: E402

pytestmark = pytest.mark.jax
C = 5  # classes and output units


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(C)(nn.relu(nn.Dense(16)(x)))


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    keep = y < C
    return (x[keep][:256] / 16.0).astype(np.float32), y[keep][:256].astype(np.int32)


def train(tmp_path, x, y, steps=6, bs=64):
    model, tx = MLP(), optax.adam(1e-2)
    params = model.init(jax.random.PRNGKey(0), x[:2])
    state = tx.init(params)

    @jax.jit
    def step(p, s, xb, yb):
        def obj(p):
            z = model.apply(p, xb)
            return optax.softmax_cross_entropy_with_integer_labels(z, yb).mean(), z

        (loss, z), g = jax.value_and_grad(obj, has_aux=True)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, loss=loss, logits=z, labels=yb, inputs=xb)

    rec = Recorder(tmp_path, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels")
    for i in range(steps):
        j = (i * bs) % (len(x) - bs)
        params, state, st = step(params, state, jnp.asarray(x[j : j + bs]), jnp.asarray(y[j : j + bs]))
        rec.log(i, st)
    rec.close()
    return rec.context, {s.code for s in traindx.diagnose(traindx.read(tmp_path)[0])[0].symptoms}


def test_labels_counted_from_one_reach_the_output_count(tmp_path, digits):
    x, y = digits
    ctx, codes = train(tmp_path, x, y + 1)  # ids 1..C on C outputs
    assert ctx.model.output_units == C
    assert (ctx.flags["target_min"], ctx.flags["target_max"]) == (1.0, float(C))
    assert ctx.flags["target_integer"] is True
    assert "CTX023" in codes


def test_labels_from_zero_do_not(tmp_path, digits):
    x, y = digits
    ctx, codes = train(tmp_path, x, y)
    assert (ctx.flags["target_min"], ctx.flags["target_max"]) == (0.0, float(C - 1))
    assert "CTX023" not in codes


def test_range_from_data_and_float_labels(tmp_path, digits):
    x, y = digits
    # data=(x, y): the arrays give the range (telemetry rows then add nothing)
    rec = Recorder(tmp_path / "data", data=(x, y + 1), loss="softmax_cross_entropy_with_integer_labels")
    rec.close()
    assert (rec.context.flags["target_min"], rec.context.flags["target_max"]) == (1.0, float(C))
    # float labels: the range of the finite ones; none finite gives no range
    tel = jax.jit(lambda z, y: telemetry(loss=1.0, logits=z, labels=y))
    z = jnp.zeros((4, 1))
    for name, lab, want in (("floats", jnp.array([0.5, jnp.nan, -2.0, jnp.inf]), (-2.0, 0.5)),
                            ("nan", jnp.full((4,), jnp.nan), None)):  # fmt: skip
        rec = Recorder(tmp_path / name)
        rec.log(0, tel(z, lab))
        rec.close()
        got = (rec.context.flags.get("target_min"), rec.context.flags.get("target_max"))
        assert got == (want or (None, None)), name
