"""The JAX Recorder's output layer: the parameter tree's keys come sorted (flax names a GRU
regressor's 32->1 head ``Dense_0`` and its 32->32 layer ``Dense_1``; ``Dense_0`` sorts before
``GRUCell_0``), so the last listed layer is not the output. The layer as wide as the
telemetry's outputs is marked ``is_output`` and is no hidden layer: a healthy GRU regressor
was read as having a one-unit hidden layer (model_too_small 79 %, qa_fresh36's fixed flax GRU)."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

from traindx.adapters.jax import Recorder, telemetry  # noqa: E402
from traindx.signals.widths import hidden_widths  # noqa: E402

pytestmark = pytest.mark.jax

N, H = 64, 32


def _dense(i, o):
    return {"kernel": jnp.ones((i, o)) * 0.01, "bias": jnp.zeros((o,))}


def record(tmp_path, params, width):
    tel = jax.jit(lambda z, y: telemetry(loss=jnp.mean((z - y) ** 2), logits=z, labels=y))
    rec = Recorder(tmp_path, params=params, loss=optax.l2_loss, fetch_every=2)
    y = jnp.linspace(-1.0, 1.0, N * width).reshape(N, width)
    for i in range(4):
        rec.log(i, tel(y * (0.5 + 0.1 * i), y))
    rec.close()
    return rec.context


def test_gru_head_sorted_first_is_the_output_not_a_hidden_layer(tmp_path):
    cell = {k: {"kernel": jnp.ones((H if k.startswith("h") else 3, H))} for k in ("hn", "hr", "hz", "ir", "iz")}
    cell["in"] = _dense(3, H)
    params = {"Dense_0": _dense(H, 1), "Dense_1": _dense(H, H), "GRUCell_0": cell}
    ctx = record(tmp_path, params, 1)
    m = ctx.model
    assert [layer.name for layer in m.layers if layer.is_output] == ["Dense_0"]
    assert m.output_units == 1
    widths = hidden_widths(m.layers, m.output_units)
    assert widths and min(widths) == H


def test_numbered_heads_sort_as_numbers(tmp_path):
    # Dense_10 (the 12th Dense, 64 -> 5) sorts before Dense_2 as a string; both the output's
    # width candidates are 5 wide: the higher creation index is the output
    params = {f"Dense_{k}": _dense(64 if k else 4, 64) for k in range(10)}
    params["Dense_2"] = _dense(64, 5)  # a 5-unit bottleneck inside
    params["Dense_3"] = _dense(5, 64)
    params["Dense_10"] = _dense(64, 5)
    ctx = record(tmp_path, params, 5)
    assert [layer.name for layer in ctx.model.layers if layer.is_output] == ["Dense_10"]
    assert min(hidden_widths(ctx.model.layers, 5)) == 5  # the real bottleneck is still seen
    assert np.isfinite(ctx.model.num_params)
