"""What the unseen JAX Recorder runs of qa_jax46 / qa_mixed46 exposed, in general form:

- a JAX step's forward pass (the operations that made ``logits=`` in a telemetry_jit step's
  jaxpr) shows whether the model has ReLU-family units: a tanh MLP has none, so dying_relu
  does not take a first layer's gradient stopping at exactly 0 (float32 tanh' underflows on
  saturated units) - the evidence item reads the ``graph_relu`` flag; a ReLU MLP, or one
  whose activation the graph cannot name (a ``jnp.where``), says nothing against it;
- a gradient that shrinks by a steady factor toward the input until float32 rounds the first
  layer's to exactly 0 (a 16-layer tanh stack) is vanishing (GRAD005, via
  ``layers.grad_live_first_over_last``), not "some layers never updated" (UPD004) nor a
  gradient that stopped (GRAD007); a zero layer between live ones stays a cut.
"""

from __future__ import annotations

import numpy as np
import pytest
from cause_evidence import evidence_holds as _evidence
from cause_evidence import series_run as _run

from traindx.schema import Run
from traindx.signals import compute_facts

NO_RELU = "the model's forward pass has no ReLU-family activation"


def _codes(run: Run) -> set[str]:
    from traindx.api import diagnose

    return {s.code for s in diagnose(run, learned=False)[0].symptoms}


def _deep_stack(first: float = 0.0) -> dict[str, np.ndarray]:
    """16 hidden layers whose gradient shrinks 15x per layer toward the input, the first one
    rounded to exactly 0 after its first record (as qa_mixed46's tanh MLP)."""
    series = {}
    for i in range(17):
        g = 0.16 / 15.0 ** (16 - i)
        vals = np.full(20, g)
        if i == 0:
            vals = np.concatenate([[1e-19], np.full(19, first)])
        series[f"train/grad_norm@Dense_{i}"] = vals
        series[f"train/update_ratio@Dense_{i}"] = np.full(20, 0.0 if g < 1e-7 else g * 0.1)
    series["loss"] = np.full(20, 1.386)
    return series


def test_a_gradient_fading_to_exactly_zero_at_the_input_end_is_vanishing_not_a_stop():
    run = _run(_deep_stack())
    facts = compute_facts(run)
    assert facts["layers"]["grad_first_over_last"] == 0.0
    assert 0.0 < facts["layers"]["grad_live_first_over_last"] < 1e-3
    assert facts["layers"]["grad_live_rising_share"] == 1.0
    codes = _codes(run)
    assert "GRAD005" in codes
    assert "UPD004" not in codes and "GRAD007" not in codes


def test_a_zero_layer_between_live_ones_is_no_fade():
    series = _deep_stack(first=1e-3)  # the first layer live again, Dense_1 cut
    series["train/grad_norm@Dense_1"] = np.zeros(20)
    facts = compute_facts(_run(series))
    assert "grad_live_first_over_last" not in facts["layers"]


def _flags_run(flags: dict) -> Run:
    return _run({"train/grad_norm@l1": np.r_[0.5, np.zeros(19)], "train/grad_norm@l2": np.full(20, 0.3),
                 "loss": np.full(20, 1.1)}, {"framework": "jax", "flags": flags})


def test_dying_relu_is_weighed_down_where_the_graph_shows_no_relu_unit():
    assert _evidence("dying_relu", NO_RELU, _flags_run({"graph_relu": False})) is True
    assert _evidence("dying_relu", NO_RELU, _flags_run({"graph_relu": True})) is False
    assert not _evidence("dying_relu", NO_RELU, _flags_run({}))


jax = pytest.importorskip("jax")
jnp = jax.numpy


def _relu_flag(act):
    from traindx.adapters._jax_graph import relu_in_model
    from traindx.adapters._jax_stats.telemetry import OUTPUTS_SCOPE

    def step(p, x):
        h = act(x @ p["w1"])
        o = h @ p["w2"]
        with jax.named_scope(OUTPUTS_SCOPE):
            s = o.sum()
        return s

    p = {"w1": jnp.ones((3, 4)), "w2": jnp.ones((4, 2))}
    return relu_in_model(jax.make_jaxpr(step)(p, jnp.ones((2, 3))))


@pytest.mark.jax
def test_the_step_graph_says_whether_the_forward_pass_has_relu_units():
    assert _relu_flag(jnp.tanh) is False
    assert _relu_flag(jax.nn.sigmoid) is False
    assert _relu_flag(jax.nn.gelu) is False
    assert _relu_flag(jax.nn.relu) is True
    assert _relu_flag(lambda h: jnp.maximum(h, 0.0)) is True
    assert _relu_flag(lambda h: jnp.where(h > 0, h, 0.0)) is None  # a hand-written ReLU: not known
    assert _relu_flag(lambda h: h) is None  # no nonlinearity seen: not known


def _nnx_flags(tmp_path, eval_mode: bool):
    nnx = pytest.importorskip("flax.nnx")
    import json

    from traindx.adapters.jax import Recorder

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.bn = nnx.BatchNorm(3, rngs=rngs)
            self.drop = nnx.Dropout(0.2, rngs=rngs)
            self.out = nnx.Linear(3, 2, rngs=rngs)

        def __call__(self, x):
            return self.out(self.drop(self.bn(x)))

    model = Net(nnx.Rngs(0))
    if eval_mode:
        model.eval()  # left on from a sanity check
    rec = Recorder(tmp_path, params=model)
    for i in range(12):
        rec.log(i, {"loss": 1.0 - 0.01 * i})
    rec.close()
    ctx = json.loads((tmp_path / "context.json").read_text())
    return ctx["flags"], ctx["model"]


@pytest.mark.jax
def test_an_nnx_model_given_as_params_has_its_eval_mode_read_at_each_step(tmp_path):
    flags, model = _nnx_flags(tmp_path / "eval", eval_mode=True)
    assert flags["mode_layers"] == 2.0 and flags["mode_layers_checked"] == 12.0
    assert flags["mode_layers_eval_share"] == 1.0
    assert model["has_batchnorm"] is True and model["has_dropout"] is True
    assert {layer["name"] for layer in model["layers"]} >= {"bn", "out"}  # the Param state, as before
    flags, _ = _nnx_flags(tmp_path / "train", eval_mode=False)
    assert flags["mode_layers_eval_share"] == 0.0


def _recorded_graph_relu(tmp_path, act):
    import json

    import optax
    from flax import linen as nn

    from traindx.adapters.jax import Recorder, telemetry, telemetry_jit

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(act(nn.Dense(8)(x)))

    model, tx = MLP(), optax.sgd(0.1)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    params = model.init(jax.random.PRNGKey(0), x)
    state = tx.init(params)

    def step(p, s):
        def obj(p):
            o = model.apply(p, x)
            return optax.softmax_cross_entropy_with_integer_labels(o, y).mean(), o

        (loss, o), g = jax.value_and_grad(obj, has_aux=True)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, logits=o, labels=y, inputs=x)

    fn = telemetry_jit(step, every=2)
    rec = Recorder(tmp_path, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels")
    for i in range(4):
        params, state, stats = fn(params, state)
        rec.log(i, stats)
    rec.close()
    return json.loads((tmp_path / "context.json").read_text())["flags"].get("graph_relu")


@pytest.mark.jax
def test_the_recorder_writes_graph_relu_from_a_telemetry_jit_step(tmp_path):
    pytest.importorskip("flax")
    from flax import linen as nn

    assert _recorded_graph_relu(tmp_path / "tanh", nn.tanh) is False
    assert _recorded_graph_relu(tmp_path / "relu", nn.relu) is True
