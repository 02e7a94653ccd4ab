"""The JAX Recorder's facts read from a telemetry_jit step's graph (jaxpr), which the parameter tree cannot show:

- a model that normalizes its raw inputs inside ``apply`` (``(x - x.mean(0)) / x.std(0)``, a
  flax LayerNorm first, a division by stored deviations) is recorded as normalizing them
  (flag ``input_norm_layer``, read by telemetry_jit from the step's jaxpr), so CTX003 does not
  fire on its raw-scale input statistics; the same model without it, or with a nonlinearity
  first, is not;
- the output activation is the op that made the output in the step's graph, not a guess from
  the first output values (raw logits inside (0, 1) read as a sigmoid's);
- a loss the user names ``vae_elbo`` is a composite loss, not a classifier's: no class count is
  guessed from the decoder's 64 outputs, so no ln(C) symptom reads its loss.

Real JAX/optax/flax; the step's results are the same with the analysis as without it.
"""

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
X = (RNG.normal(size=(64, 5)) * 300.0 + 1000.0).astype(np.float32)  # raw features, scale ~1000
Y = (X[:, 0] > 1000.0).astype(np.int32)
MU, SD = X.mean(0), X.std(0)


def _params():
    k = jax.random.PRNGKey(0)
    return {"w": jax.random.normal(k, (5, 2)) * 0.1, "b": jnp.zeros(2)}


def _step(apply, tx, with_telemetry=True):
    def step(p, s, x, y):
        def obj(p):
            o = apply(p, x)
            return optax.softmax_cross_entropy_with_integer_labels(o, y).mean(), o

        (loss, o), g = jax.value_and_grad(obj, has_aux=True)(p)
        u, s = tx.update(g, s, p)
        new = optax.apply_updates(p, u)
        if not with_telemetry:
            return new, s, None
        return new, s, telemetry(grads=g, params=p, updates=u, loss=loss, logits=o, labels=y, inputs=x)

    return step


def record(tmp_path, apply):
    tx = optax.adam(1e-2)
    params = _params()
    state = tx.init(params)
    step = telemetry_jit(_step(apply, tx), every=2)
    rec = Recorder(tmp_path, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels")
    for i in range(6):
        params, state, stats = step(params, state, X, Y)
        rec.log(i, stats)
    rec.close()
    flags = json.loads((tmp_path / "context.json").read_text())["flags"]
    return flags, compute_facts(traindx.read(tmp_path)[0]), params


def _fired(facts, code):
    from traindx.engine import evaluate
    from traindx.rules.loader import load_rulebook

    sym = next(s for s in load_rulebook().symptoms if s.code == code)
    return evaluate(sym.condition, facts)[0]


def standardized(p, x):
    return ((x - x.mean(0)) / (x.std(0) + 1e-5)) @ p["w"] + p["b"]


@pytest.mark.parametrize(
    ("apply", "normalized"),
    [
        (standardized, True),
        pytest.param(lambda p, x: ((x - MU) / SD) @ p["w"] + p["b"], True, marks=pytest.mark.slow),  # stored statistics
        (lambda p, x: (x / 255.0) @ p["w"] + p["b"], True),
        (lambda p, x: x @ p["w"] + p["b"], False),
        pytest.param(lambda p, x: (x * 1.5 - 3.0) @ p["w"] + p["b"], False, marks=pytest.mark.slow),  # mild rescale, shift: raw scale
        (lambda p, x: jnp.tanh(x) @ p["w"] + p["b"], None),  # a nonlinearity first: not known
    ],
    ids=["batch_standardized", "stored_statistics", "div255", "raw", "mild_rescale", "tanh_first"],
)
def test_first_layer_input(tmp_path, apply, normalized):
    flags, facts, _ = record(tmp_path, apply)
    assert flags.get("input_norm_layer") is normalized
    assert facts["ctx"]["input_max"] > 20.0  # the raw batch's statistics are recorded either way
    assert _fired(facts, "CTX003") is (normalized is not True)


@pytest.mark.slow
def test_flax_layernorm_first(tmp_path):
    nn = pytest.importorskip("flax.linen")

    class M(nn.Module):
        norm: bool

        @nn.compact
        def __call__(self, x):
            if self.norm:
                x = nn.LayerNorm()(x)
            return nn.Dense(2)(nn.relu(nn.Dense(8)(x)))

    for norm in (True, False):
        m = M(norm)
        variables = m.init(jax.random.PRNGKey(1), X[:2])
        tx = optax.sgd(1e-3)
        state = tx.init(variables)
        step = telemetry_jit(_step(lambda p, x, m=m: m.apply(p, x), tx), every=2)
        out = tmp_path / str(norm)
        rec = Recorder(out, params=variables, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels")
        params = variables
        for i in range(3):
            params, state, stats = step(params, state, X, Y)
            rec.log(i, stats)
        rec.close()
        assert json.loads((out / "context.json").read_text())["flags"]["input_norm_layer"] is norm


def test_the_analysis_changes_nothing_in_training(tmp_path):
    _, _, recorded = record(tmp_path, standardized)
    tx = optax.adam(1e-2)
    params = _params()
    state = tx.init(params)
    plain = jax.jit(_step(standardized, tx, with_telemetry=False))
    for _ in range(6):
        params, state, _ = plain(params, state, X, Y)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(recorded), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _binary_run(tmp_path, apply, params):
    """A binary classifier that learns nothing (SGD at LR 0): its outputs keep their first values."""
    x = X[:, :5] / 1000.0
    y = Y.astype(np.float32)
    tx = optax.sgd(0.0)
    state = tx.init(params)

    @telemetry_jit(every=1)
    def step(p, s, x, y):
        def obj(p):
            o = apply(p, x)
            return optax.sigmoid_binary_cross_entropy(o[:, 0], y).mean(), o

        (loss, o), g = jax.value_and_grad(obj, has_aux=True)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, logits=o, labels=y, inputs=x)

    rec = Recorder(tmp_path, params=params, optimizer=tx, loss=optax.sigmoid_binary_cross_entropy)
    for i in range(4):
        params, state, stats = step(params, state, x, y)
        rec.log(i, stats)
    rec.close()
    return rec.context.model.output_activation


@pytest.mark.parametrize(
    ("out", "expected"),
    [(lambda z: z, "linear"), pytest.param(jax.nn.sigmoid, "sigmoid", marks=pytest.mark.slow),
     pytest.param(jax.nn.relu, "relu", marks=pytest.mark.slow), (jnp.tanh, "tanh")],
    ids=["logits", "sigmoid", "relu", "tanh"],
)
def test_output_activation_read_from_the_graph(tmp_path, out, expected):
    # every output 0.55 (or its sigmoid 0.63, tanh 0.50) for the whole run: values in (0, 1)
    # that read as a sigmoid's from the values alone (the stalled runs recorded before)
    params = {"w": jnp.zeros((5, 1)), "b": jnp.full((1,), 0.55)}
    assert _binary_run(tmp_path, lambda p, x: out(x @ p["w"] + p["b"]), params) == expected


def test_a_vae_elbo_has_no_class_count(tmp_path):
    k = jax.random.PRNGKey(2)
    params = {"Dense_0": {"kernel": jax.random.normal(k, (64, 4)) * 0.1},  # encoder
              "Dense_1": {"kernel": jax.random.normal(k, (4, 64)) * 0.1}}  # decoder: 64 outputs
    rec = Recorder(tmp_path, params=params, optimizer=optax.adam(1e-3), loss="vae_elbo", n_train=1400, batch_size=50)
    tel = jax.jit(lambda loss: telemetry(loss=loss))
    for i in range(40):  # an ELBO near ln(64) = 4.16 all run long
        rec.log(i, tel(jnp.asarray(4.2 - 0.001 * i)))
    rec.close()
    ctx = rec.context
    assert ctx.model.output_units == 64
    assert ctx.flags["loss_task"] == "composite"
    assert ctx.data.task == "other"
    facts = compute_facts(traindx.read(tmp_path)[0])
    assert "num_classes" not in facts.get("chance", {})
    assert not _fired(facts, "LOSS011")
