"""Adapter facts shared by the adapters (traindx.adapters._common.splits) and the JAX
Recorder's precision facts (traindx.adapters._jax_stats.precision): the train/validation
input statistics apart (qa_mixed43 flax waveforms: validation recorded through an amplifier
with gain 2.5 and offset +1.5) and an update that turned non-finite from finite gradients
(qa_jax43 float16 Adam: eps 1e-8 is 0 in float16)."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.adapters._common.splits import input_shift
from traindx.adapters._jax_stats.precision import precision_flags, update_overflow_step


def test_two_samples_of_one_distribution_sit_together():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (2000, 20))
    vx = rng.normal(3.0, 2.0, (400, 20))
    f = input_shift((x, np.zeros(2000)), (vx, np.zeros(400)))
    assert f["val_input_shift"] < 0.15 and 0.85 < f["val_input_std_ratio"] < 1.15


def test_offset_and_gain_move_both_statistics():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, (1000, 64)).astype(np.float32)
    vx = 2.5 * rng.normal(0.0, 1.0, (300, 64)).astype(np.float32) + 1.5
    f = input_shift(x, vx)
    assert f["val_input_shift"] == pytest.approx(1.5, abs=0.3)
    assert f["val_input_std_ratio"] == pytest.approx(2.5, abs=0.3)


def test_no_fact_from_mismatched_or_tiny_or_non_numeric_inputs():
    x = np.ones((100, 4))
    assert input_shift(x, np.ones((100, 5))) == {}
    assert input_shift(x, np.ones((3, 4))) == {}
    assert input_shift(np.array(["a"] * 50), np.array(["b"] * 50)) == {}
    assert input_shift(x, np.ones((50, 4))) == {}  # constant features: nothing to compare


def _rows(grads_nf, wn, ur, gn=None):
    col = {"train/nonfinite@grads": 0, "train/weight_norm": 1, "train/update_ratio": 2}
    cols = [grads_nf, wn, ur]
    if gn is not None:
        col["train/grad_norm"] = 3
        cols.append(gn)
    return col, np.array(cols, dtype=np.float64).T


def test_an_update_non_finite_from_finite_gradients_is_found():
    col, t = _rows(
        [0, 0, 0], [14.0, np.nan, np.nan], [np.nan, np.nan, np.nan], gn=[0.6, np.nan, np.nan]
    )
    assert update_overflow_step(col, t, np.array([0, 1, 2])) == 0
    f = precision_flags(col, t, np.array([0, 1, 2]), {"param_dtype": "float16"}, {})
    assert f == {"param_dtype": "float16", "update_nonfinite_finite_grads": 0.0}


def test_a_large_finite_update_or_non_finite_gradients_are_not_it():
    steps = np.array([0, 1])
    col, t = _rows([0, 0], [10.0, 1e6], [0.5, 30.0], gn=[1.0, 1e4])  # a large LR: big, finite
    assert update_overflow_step(col, t, steps) is None
    col, t = _rows(
        [3, 0], [10.0, np.nan], [np.nan, np.nan], gn=[np.inf, np.nan]
    )  # the gradients went first
    assert update_overflow_step(col, t, steps) is None
    col, t = _rows([0], [10.0], [np.nan])
    assert update_overflow_step({"train/weight_norm": 1}, t, steps[:1]) is None  # no update column
    assert (
        precision_flags(col, t, steps[:1], {}, {"update_nonfinite_finite_grads": 5.0}) == {}
    )  # the first kept


@pytest.mark.jax
def test_the_recorder_records_float16_adams_first_update_overflow(tmp_path):
    # Adam in float16: v = 0.001 g^2 underflows to 0 for g ~ 1e-3 and eps 1e-8 rounds to 0,
    # so the first update is m / 0 = inf from finite gradients (IEEE arithmetic, any CPU)
    jnp = pytest.importorskip("jax.numpy")
    optax = pytest.importorskip("optax")
    import json

    from traindx.adapters.jax import Recorder, telemetry

    for dtype, expect in ((jnp.float16, True), (jnp.float32, False)):
        p = {
            "params": {"Dense_0": {"kernel": jnp.ones((4, 3), dtype), "bias": jnp.zeros(3, dtype)}}
        }
        g = {
            "params": {
                "Dense_0": {
                    "kernel": jnp.full((4, 3), 1e-3, dtype),
                    "bias": jnp.full(3, 1e-3, dtype),
                }
            }
        }
        tx = optax.adam(1e-3)
        u, _ = tx.update(g, tx.init(p), p)
        out = tmp_path / str(jnp.dtype(dtype))
        rec = Recorder(out, params=p, optimizer=tx, loss="mse")
        rec.log(0, telemetry(grads=g, params=p, updates=u, loss=jnp.float32(1.0)))
        rec.close()
        flags = json.loads((out / "context.json").read_text())["flags"]
        assert flags["param_dtype"] == str(jnp.dtype(dtype))
        assert ("update_nonfinite_finite_grads" in flags) is expect


@pytest.mark.jax
def test_the_recorder_records_the_splits_input_shift(tmp_path):
    pytest.importorskip("jax")
    import json

    from traindx.adapters.jax import Recorder

    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, (500, 8)).astype(np.float32), rng.integers(0, 3, 500)
    vx, vy = (2.5 * rng.normal(0, 1, (100, 8)) + 1.5).astype(np.float32), rng.integers(0, 3, 100)
    rec = Recorder(
        tmp_path, loss="softmax_cross_entropy_with_integer_labels", data=(x, y), val_data=(vx, vy)
    )
    rec.close()
    flags = json.loads((tmp_path / "context.json").read_text())["flags"]
    assert flags["val_input_shift"] > 1.0 and flags["val_input_std_ratio"] > 2.0
