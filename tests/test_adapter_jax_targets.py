"""The JAX Recorder records the targets' range without ``telemetry(labels=)``: telemetry_jit
finds in the step's graph the input the loss compares the output with (``(pred - y) ** 2``,
``logits * y``) and reads that argument's values at the first calls (._jax_target), so a
sigmoid output trained on targets outside (0, 1) shows (CTX002) as it does with labels=.
Real flax/optax runs; the parameters are the same whether the labels are read or not."""

from __future__ import annotations

import json

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
nn = pytest.importorskip("flax.linen")
jnp = jax.numpy

import traindx  # noqa: E402
from traindx.adapters._jax_target import LABEL_READS, step_leaves  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry, telemetry_jit  # noqa: E402

pytestmark = pytest.mark.jax

RNG = np.random.default_rng(3)
X = RNG.normal(size=(256, 4)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5, 1.5], np.float32)).astype(np.float32)  # signed, |y| up to ~8
CLS = (X[:, 0] > 0).astype(np.int32)


class Net(nn.Module):
    out: str = "sigmoid"
    units: int = 1

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(16)(x))
        o = nn.Dense(self.units)(h)
        o = o[:, 0] if self.units == 1 else o
        return nn.sigmoid(o) if self.out == "sigmoid" else o


def _train(tmp_path, net, loss_fn, y, loss_name, steps=24):
    tx = optax.adam(1e-2)
    params = net.init(jax.random.PRNGKey(0), X[:1])["params"]
    state = tx.init(params)

    def step(p, s, x, yy):
        def obj(p):
            o = net.apply({"params": p}, x)
            return loss_fn(o, yy), o

        (loss, o), g = jax.value_and_grad(obj, has_aux=True)(p)
        u, s = tx.update(g, s, p)
        stats = telemetry(grads=g, params=p, updates=u, loss=loss, logits=o, inputs=x)
        return optax.apply_updates(p, u), s, stats

    jitted = telemetry_jit(step)
    rec = Recorder(tmp_path, params=params, optimizer=tx, loss=loss_name)
    for i in range(steps):
        b = slice((i * 32) % 256, (i * 32) % 256 + 32)
        params, state, stats = jitted(params, state, X[b], y[b])
        rec.log(i, stats)
    rec.close()
    return params, json.loads((tmp_path / "context.json").read_text())["flags"], jitted


def mse(o, y):
    return jnp.mean((o - y) ** 2)


def test_a_sigmoid_regression_on_signed_targets_shows_without_labels(tmp_path):
    _, flags, jitted = _train(tmp_path, Net(), mse, Y, "mse")
    assert jitted.graph.label_at is not None
    assert flags["target_min"] == pytest.approx(float(Y.min()), rel=1e-6)
    assert flags["target_max"] == pytest.approx(float(Y.max()), rel=1e-6)
    assert flags["target_kind"] == "continuous"
    d = traindx.diagnose(tmp_path)[0]
    assert "CTX002" in {s.code for s in d.symptoms}
    assert d.causes[0].id == "activation_on_output", [c.id for c in d.causes]



def test_reading_the_labels_changes_nothing_of_the_training(tmp_path, monkeypatch):
    params, _, _ = _train(tmp_path / "read", Net(), mse, Y, "mse")
    monkeypatch.setattr("traindx.adapters._jax_optax.LABEL_READS", 0)  # the same step, labels never read
    unread, flags, jitted = _train(tmp_path / "unread", Net(), mse, Y, "mse")
    assert jitted.graph.label_reads == 0 and "target_min" not in flags
    same = jax.tree_util.tree_map(lambda a, b: bool(np.array_equal(a, b)), params, unread)
    assert all(jax.tree_util.tree_leaves(same))


def test_the_same_regression_with_a_linear_output_raises_nothing(tmp_path):
    _, flags, _ = _train(tmp_path, Net(out="linear"), mse, Y, "mse")
    assert flags["target_max"] > 1.05
    d = traindx.diagnose(tmp_path)[0]
    assert "CTX002" not in {s.code for s in d.symptoms}


def test_labels_only_gathered_by_the_loss_are_not_guessed(tmp_path):
    # integer class ids enter the loss through a gather, not compared with the output
    def ce(o, y):
        return optax.softmax_cross_entropy_with_integer_labels(o, y).mean()

    _, flags, jitted = _train(tmp_path, Net(out="linear", units=2), ce, CLS,
                              "softmax_cross_entropy_with_integer_labels")  # fmt: skip
    assert jitted.graph.label_at is None
    assert "target_min" not in flags


def test_the_labels_are_read_at_the_first_calls_only(tmp_path):
    _, _, jitted = _train(tmp_path, Net(), mse, Y, "mse", steps=LABEL_READS + 8)
    assert jitted.graph.label_reads == LABEL_READS


def test_static_arguments_are_not_among_the_graph_inputs():
    leaves = step_leaves((1.0, np.zeros(3), {"a": np.ones(2)}), {"k": np.ones(1), "s": 2},
                         {"static_argnums": 0, "static_argnames": "s"}, flag=None)  # fmt: skip
    assert [np.shape(v) for v in leaves] == [(3,), (2,), (1,)]
    assert len(step_leaves((np.zeros(3),), {}, {}, flag=True)) == 2
