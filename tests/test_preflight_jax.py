"""JAX preflight: pure apply_fn/loss_fn checks; params and RNG streams untouched."""

from __future__ import annotations

import random

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

from traindx.adapters.jax import lr_range_test, preflight  # noqa: E402

pytestmark = [pytest.mark.jax, pytest.mark.slow]  # XLA compiles dominate (about 2 min on a loaded 2-core box)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return (x[:1200], y[:1200]), (x[1200:], y[1200:])


def _params():
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    return {"w1": jax.random.normal(k1, (64, 64)) / 8, "b1": jnp.zeros(64), "w2": jax.random.normal(k2, (64, 10)) / 8, "b2": jnp.zeros(10)}


def apply(p, x):
    return jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def ce(fn):
    return lambda p, x, y: optax.softmax_cross_entropy_with_integer_labels(fn(p, x), y).mean()


def test_healthy_untouched_and_buggy_ranked(digits):
    train, val = digits
    params = _params()
    before = jax.tree.map(np.array, params)
    random.seed(3)
    np.random.seed(3)
    rng = (random.getstate(), np.random.get_state())
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
    d = preflight(apply, params, ce(apply), train, optimizer=tx, val=val, make_optimizer=optax.adam)
    assert d.healthy, (d.headline, [str(c) for c in d.checks])
    assert all(c.status == "passed" for c in d.checks), [str(c) for c in d.checks]
    assert jax.tree.all(jax.tree.map(lambda a, b: np.array_equal(a, np.asarray(b)), before, params))
    assert random.getstate() == rng[0] and all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), rng[1], strict=True))

    def mixing(p, x):
        return jax.nn.log_softmax(apply(p, x), axis=0)

    def stopped(p, x):
        return jax.lax.stop_gradient(jax.nn.relu(x @ p["w1"] + p["b1"])) @ p["w2"] + p["b2"]

    assert preflight(mixing, params, ce(mixing), train, optimizer=tx).causes[0].id == "softmax_wrong_axis"
    d = preflight(stopped, params, ce(stopped), train, optimizer=optax.adam(1e-3))
    assert d.causes[0].id == "gradients_not_flowing"
    lr = next(c for c in d.checks if c.name == "lr")  # a plain optax.adam hides its LR
    assert lr.status == "skipped" and "inject_hyperparams" in lr.explanation


def test_lr_range_test(digits):
    train, _ = digits
    r = lr_range_test(apply, _params(), ce(apply), train, optimizer=optax.adam)
    assert len(r.lrs) == len(r.losses) >= 10
    assert r.blowup_lr is not None and r.suggested_lr is not None and r.suggested_lr < r.blowup_lr


def test_flax_nnx_module_as_is_untouched(digits):
    nnx = pytest.importorskip("flax.nnx")

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.l1, self.drop, self.l2 = nnx.Linear(64, 32, rngs=rngs), nnx.Dropout(0.1, rngs=rngs), nnx.Linear(32, 10, rngs=rngs)

        def __call__(self, x):
            return self.l2(self.drop(jax.nn.relu(self.l1(x))))

    def loss_fn(model, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

    train, val = digits
    model = MLP(nnx.Rngs(0))
    def snap():
        keys = jax.dtypes.prng_key
        return jax.tree.map(lambda a: np.array(jax.random.key_data(a) if jnp.issubdtype(a.dtype, keys) else a), nnx.state(model))

    before = snap()
    opt = nnx.Optimizer(model, optax.inject_hyperparams(optax.adam)(learning_rate=1e-3), wrt=nnx.Param)
    d = preflight(model, loss_fn, train, optimizer=opt, val=val, make_optimizer=optax.adam)
    assert d.healthy, (d.headline, [str(c) for c in d.checks])
    assert all(c.status == "passed" for c in d.checks), [str(c) for c in d.checks]
    # the RNG counter of the model's Dropout, its parameters: all as they were
    assert jax.tree.all(jax.tree.map(np.array_equal, before, snap()))
    assert not model.drop.deterministic
    lr = next(c for c in d.checks if c.name == "lr")  # the sweep is kept for plots
    assert len(lr.series["lrs"]) == len(lr.series["losses"]) >= 10

    model.eval()  # left in eval mode before training: reported
    d = preflight(model, loss_fn, train, optimizer=opt, checks=("modes",))
    assert d.causes and d.causes[0].id == "train_mode_not_set", d.headline


def test_equinox_and_linen_forms_name_parameters_by_path(digits):
    eqx = pytest.importorskip("equinox")
    linen = pytest.importorskip("flax.linen")
    train, _ = digits

    class Frozen(eqx.Module):
        enc: eqx.nn.Linear
        head: eqx.nn.Linear

        def __call__(self, x):
            return self.head(jax.lax.stop_gradient(jax.nn.relu(self.enc(x))))

    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    model = Frozen(eqx.nn.Linear(64, 32, key=k1), eqx.nn.Linear(32, 10, key=k2))

    def loss_fn(m, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(jax.vmap(m)(x), y).mean()

    d = preflight(model, loss_fn, train, checks=("grads", "output", "init"))
    grads = next(c for c in d.checks if c.name == "grads")
    assert d.causes[0].id == "gradients_not_flowing"
    assert grads.facts["example"].startswith("enc.weight"), grads.facts

    class Net(linen.Module):
        @linen.compact
        def __call__(self, x):
            return linen.Dense(10)(jax.lax.stop_gradient(linen.relu(linen.Dense(32)(x))))

    net = Net()
    variables = net.init(jax.random.PRNGKey(2), train[0][:1])

    def ce_linen(v, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(net.apply(v, x), y).mean()

    d = preflight(net.apply, variables, ce_linen, train, checks=("grads", "output"))
    grads = next(c for c in d.checks if c.name == "grads")
    assert grads.facts["example"] == "params.Dense_1.bias, params.Dense_1.kernel", grads.facts  # Dense(32), built second
    out = next(c for c in d.checks if c.name == "output")
    assert out.facts["loss_expects"] == "logits"  # read from the opaque loss's value
