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



def test_log_probabilities_are_summed_once_exponentiated(tmp_path):
    # a model returning log-probabilities to an NLL (log_softmax over the classes): its rows sum
    # to 1 in probability space, so the recorded row sum is 1 and OUT001 (softmax over the
    # wrong axis) stays silent; the raw log-probabilities' own row sums are far from 1 (-23 here)
    z = jnp.linspace(-3.0, 3.0, 640).reshape(64, 10) * (1.0 + (jnp.arange(64) % 3)[:, None])
    y = jnp.arange(64) % 10
    lp = lambda z: jax.nn.log_softmax(z, axis=-1)  # noqa: E731
    tel = jax.jit(lambda z, y: telemetry(loss=-jnp.mean(jnp.take_along_axis(lp(z), y[:, None], axis=-1)),
                                         logits=lp(z), labels=y))
    rec = Recorder(tmp_path, loss="nll")
    for i in range(4):
        rec.log(i, tel(z * (1.0 + 0.1 * i), y))
    rec.close()
    assert rec.context.model.output_activation == "log_softmax"
    assert float(jnp.abs(lp(z).sum(-1) - 1.0).mean()) > 5.0
    rows = traindx.read(tmp_path)[0].series["train/output_row_sum"].values
    assert np.allclose(rows, 1.0, atol=1e-3), rows
    assert "OUT001" not in {s.code for s in traindx.diagnose(tmp_path).runs[0].symptoms}


# A ReLU output on a regression whose first batch gives few exact zeros (the pre-activations
# start mostly positive): the first row reads 'linear'; later rows, where the model pushes the
# negative targets' predictions to 0, make it 'relu' (CTX002 then reads it against the targets).
R = jnp.linspace(-1.0, 1.0, N)  # signed targets (a standardized regression)


def record_regression(tmp_path, outputs):
    tel = jax.jit(lambda z, y: telemetry(loss=jnp.mean((z - y) ** 2), logits=z, labels=y))
    rec = Recorder(tmp_path, loss="mse", fetch_every=2)
    for i, z in enumerate(outputs):
        rec.log(i, tel(z, R))
    rec.close()
    return rec.context


def test_relu_output_read_late_from_later_rows(tmp_path):
    first = jnp.where(jnp.arange(N) == 0, 0.0, 0.2 + 0.01 * jnp.arange(N))  # 1 zero in 64 (< 5 %)
    later = [jax.nn.relu(R + 0.05 * k) for k in range(5)]  # about half exactly 0
    ctx = record_regression(tmp_path, [first, *later])
    assert ctx.model.output_activation == "relu"
    assert "output activation 'relu' inferred from the output values" in ctx.notes
    assert "CTX002" in {s.code for s in traindx.diagnose(tmp_path).runs[0].symptoms}


def test_linear_output_with_a_negative_row_never_becomes_relu(tmp_path):
    first = 0.2 + 0.01 * jnp.arange(N)
    signed = R * 0.5  # a linear layer's outputs go below 0
    zeros_later = [jax.nn.relu(R + 0.05 * k) for k in range(5)]  # as a ReLU's would, after a negative row
    ctx = record_regression(tmp_path, [first, signed, *zeros_later])
    assert ctx.model.output_activation == "linear"
    assert not any("'relu' inferred" in n for n in ctx.notes)


def test_relu_rows_counts_the_signature():
    from traindx.adapters._jax_recheck import relu_rows

    assert relu_rows(np.array([0.0, 0.0, 0.0]), np.array([1.0, 2.0, 0.0]), np.array([0.3, 0.02, 1.0])) == 1
    assert relu_rows(np.array([0.0, -0.1]), np.array([1.0, 1.0]), np.array([0.5, 0.5])) == -1
