"""The JAX Recorder's output activation: a 'sigmoid' read from the first telemetry row's
outputs in (0, 1) is withdrawn when a later row's outputs leave [0, 1] (raw logits that sat in
(0, 1) at initialisation: a healthy binary classifier was recorded as sigmoid-before-BCE, and
its train accuracy thresholded at 0.5 instead of 0); a real sigmoid output, saturated to
exactly 0 and 1 included, stays 'sigmoid'."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

import traindx  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry  # noqa: E402

pytestmark = pytest.mark.jax

N = 64
Y = (jnp.arange(N) % 2).astype(jnp.float32)


def record(tmp_path, outputs):
    tel = jax.jit(lambda z, y: telemetry(loss=jnp.mean(optax.sigmoid_binary_cross_entropy(z, y)), logits=z, labels=y))
    rec = Recorder(tmp_path, loss=optax.sigmoid_binary_cross_entropy, fetch_every=2)
    for i, z in enumerate(outputs):
        rec.log(i, tel(z, Y))
    rec.close()
    return rec.context, traindx.read(tmp_path)[0]


def test_logits_in_unit_interval_at_init_are_not_a_sigmoid(tmp_path):
    # logits that start in (0.4, 0.6) and separate the classes as they train (negatives go < 0)
    sign = 2.0 * Y - 1.0
    outs = [0.5 + 0.1 * sign * (k / 5.0) + 3.0 * sign * max(k - 2, 0) for k in range(6)]
    ctx, run = record(tmp_path, outs)
    assert ctx.model.output_activation == "linear"
    assert not any("'sigmoid' inferred" in n for n in ctx.notes)
    acc = run.series["train/accuracy"].values
    assert acc[-1] == 1.0  # thresholded at 0 (logits) once withdrawn: > 0.5 would read 0.5


def test_a_sigmoid_output_stays_sigmoid(tmp_path):
    sign = 2.0 * Y - 1.0
    outs = [jax.nn.sigmoid(0.1 * sign + 200.0 * sign * (k / 5.0)) for k in range(6)]  # saturates to 0 and 1
    ctx, run = record(tmp_path, outs)
    assert float(np.min(outs[-1])) == 0.0 and float(np.max(outs[-1])) == 1.0
    assert ctx.model.output_activation == "sigmoid"
    assert run.series["train/accuracy"].values[-1] == 1.0
