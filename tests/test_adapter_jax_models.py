"""JAX telemetry outside jit (it jits itself, compiled once per structure) and with the
model libraries users train with: flax nnx and equinox modules passed as they are, layers
named by their attribute paths, recorded and diagnosed."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters import _jax_call  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry  # noqa: E402

pytestmark = pytest.mark.jax


@pytest.fixture(scope="module")
def digits():
    x, y = scaled_digits(512, np.int32)
    return jnp.asarray(x), jnp.asarray(y)


def mlp_params(seed=0):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return {"Dense_0": {"kernel": jax.random.normal(k1, (64, 32)) * 0.18, "bias": jnp.zeros(32)},
            "Dense_1": {"kernel": jax.random.normal(k2, (32, 10)) * 0.25, "bias": jnp.zeros(10)}}  # fmt: skip


def test_outside_jit_compiles_once_and_matches_the_traced_result(digits):
    x, y = digits
    p = mlp_params()

    def loss_fn(p, x, y):
        logits = jax.nn.relu(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]) @ p["Dense_1"]["kernel"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

    (loss, logits), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x[:64], y[:64])
    kw = dict(grads=g, params=p, updates=jax.tree.map(lambda a: -0.1 * a, g), loss=loss, logits=logits,
              labels=y[:64], inputs=x[:64])  # fmt: skip
    traced = jax.jit(lambda kw: telemetry(**kw))(kw)
    eager = telemetry(**kw)
    assert eager.tags == traced.tags and eager.meta == traced.meta
    np.testing.assert_allclose(np.asarray(eager.values), np.asarray(traced.values), rtol=1e-5, atol=1e-6)
    telemetry(**{**kw, "loss": 2.5})  # a Python float loss: compiled once more (a weak-typed scalar)
    n = _jax_call._compiled._cache_size()
    for i in range(3):  # new values, same structure: no new compilation
        telemetry(**{**kw, "loss": float(i), "params": jax.tree.map(lambda a, i=i: a + i, p)})
        telemetry(**{**kw, "loss": loss + i})
    assert _jax_call._compiled._cache_size() == n
    stepped = telemetry(**kw, step=3, every=2)  # lax.cond outside jit: the light branch
    d = stepped.as_dict()
    assert d["train/loss"] == pytest.approx(float(loss), rel=1e-6) and np.isnan(d["train/grad_norm@Dense_0"])
    assert telemetry(**kw, step=4, every=2).as_dict()["train/grad_norm@Dense_0"] > 0
    with pytest.raises(ValueError, match="every must be a positive int"):
        telemetry(**kw, step=1, every=0)


def test_equinox_module_as_it_is(tmp_path, digits):
    eqx = pytest.importorskip("equinox")
    x, y = digits
    model = eqx.nn.MLP(64, 10, 32, 2, key=jax.random.PRNGKey(0))  # holds activation functions
    tx = optax.sgd(0.1)
    opt_state = tx.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_value_and_grad(has_aux=True)
    def loss_fn(m, x, y):
        logits = jax.vmap(m)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

    @eqx.filter_jit
    def step(m, s, x, y):
        (loss, logits), g = loss_fn(m, x, y)
        u, s = tx.update(g, s, eqx.filter(m, eqx.is_array))
        stats = telemetry(grads=g, params=m, updates=u, loss=loss, logits=logits, labels=y, inputs=x)
        return eqx.apply_updates(m, u), s, stats

    rec = Recorder(tmp_path, params=model, optimizer=tx, loss=optax.softmax_cross_entropy_with_integer_labels)
    for i in range(8):
        model, opt_state, st = step(model, opt_state, x[i * 64 : (i + 1) * 64], y[i * 64 : (i + 1) * 64])
        rec.log(i, st)
    (loss, _), g = loss_fn(model, x[:64], y[:64])
    eager = telemetry(grads=g, params=model, loss=loss)  # outside jit, functions left static
    assert "train/grad_norm@layers.0" in eager.tags
    rec.close()
    (run,) = traindx.read(tmp_path)
    for k in ("train/loss", "train/grad_norm@layers.0", "train/grad_norm@layers.2", "train/weight_norm@layers.1",
              "train/update_ratio@layers.2"):  # fmt: skip
        assert k in run.series, k
    assert [la.name for la in run.context.model.layers] == ["layers.0", "layers.1", "layers.2"]
    assert run.context.model.num_params == 64 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10
    assert traindx.diagnose(tmp_path)[0].framework == "jax"


def test_flax_nnx_module_and_state_as_they_are(tmp_path, digits):
    nnx = pytest.importorskip("flax.nnx")
    x, y = digits

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(64, 32, rngs=rngs)
            self.out = nnx.Linear(32, 10, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.nn.relu(self.hidden(x)))

    model = MLP(nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

    @nnx.jit
    def step(model, opt, x, y):
        def loss_fn(m):
            logits = m(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

        (loss, logits), g = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        stats = telemetry(grads=g, params=nnx.state(model, nnx.Param), loss=loss, logits=logits, labels=y,
                          inputs=x)  # fmt: skip
        opt.update(model, g)
        return stats

    rec = Recorder(tmp_path, params=nnx.state(model, nnx.Param), loss="softmax_cross_entropy_with_integer_labels")
    for i in range(6):
        rec.log(i, step(model, opt, x[i * 64 : (i + 1) * 64], y[i * 64 : (i + 1) * 64]))
    assert "train/weight_norm@hidden" in telemetry(params=model).tags  # the module itself, outside jit
    rec.close()
    (run,) = traindx.read(tmp_path)
    for k in ("train/loss", "train/grad_norm@hidden", "train/grad_norm@out", "train/weight_norm@out"):
        assert k in run.series, k
    assert not any(k.endswith((".kernel", ".value")) for k in run.series)
    assert [la.name for la in run.context.model.layers] == ["hidden", "out"]
