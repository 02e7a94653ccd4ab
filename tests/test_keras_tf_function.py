"""The Keras callback's compiled statistics on TensorFlow (``_keras_stats.engine.tf_function``):
traced without autograph (its source rewriting was most of the callback's fixed cost), and
traced again with it when a function branches in Python on a tensor. (Keras 3's own ``fit``
does not autograph a layer's ``call`` either: such a layer fails there first.) That the
telemetry itself is unchanged is tests/test_adapter_keras.py's."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":  # pragma: no cover - the file sets the backend first
    pytest.skip("TensorFlow backend only", allow_module_level=True)
tf = pytest.importorskip("tensorflow")

from traindx.adapters._keras_stats.compiling import tf_function  # noqa: E402

pytestmark = pytest.mark.keras


def test_plain_statistics_trace_without_autograph_and_python_branches_on_tensors_fall_back():
    def stats(x):  # loops and branches over Python values only
        return tf.stack([tf.reduce_sum(x * k) for k in (1.0, 2.0)])

    def branchy(x):  # a Python `if` on a tensor: only autograph can trace it
        if tf.reduce_sum(x) > 0:
            return x * 2.0
        return -x

    x = tf.constant([1.0, 2.0])
    f, g = tf_function(stats), tf_function(branchy)
    np.testing.assert_allclose(f(x).numpy(), [3.0, 6.0])
    np.testing.assert_allclose(g(x).numpy(), [2.0, 4.0])
    np.testing.assert_allclose(g(-x).numpy(), [1.0, 2.0])  # the autographed graph, both branches
    with pytest.raises(Exception, match="(?i)bool|graph|autograph"):
        tf.function(branchy, autograph=False)(x)  # what the fallback exists for


def test_lean_statistics_equal_one_reduction_per_tensor_traced_and_eager():
    """``_keras_stats.reduce`` (few graph operations: one L2Loss per tensor, one non-finite
    count over all tensors) gives the per-tensor reductions' values, traced and eager, with
    missing gradients (-1) and non-finite values counted once."""
    from traindx.adapters._keras_stats.reduce import delta_sq_vec, grad_vec, vec, weight_sq_vec

    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 3)).astype("float32")
    b = rng.normal(size=(3,)).astype("float16")
    c = np.array([1.0, np.nan, np.inf, 2.0], dtype="float32")
    grads = [tf.constant(a), None, tf.constant(b), tf.constant(c), None]
    want_sq = [
        float(np.sum(np.square(a.astype(np.float64)))),
        -1.0,
        float(np.sum(np.square(b.astype(np.float64)))),
    ]
    for f in (grad_vec, tf_function(grad_vec)):
        got = f(grads).numpy()
        assert got.shape == (10,) and got.dtype == np.float32
        np.testing.assert_allclose(got[:3], want_sq, rtol=1e-5)
        assert np.isnan(got[3]) and got[4] == -1.0
        assert (
            got[5:].sum() == 2.0 and got[5] == 2.0 and not got[6:].any()
        )  # the total at the first
    assert grad_vec([None, None]).numpy().tolist() == [-1.0, -1.0, 0.0, 0.0]
    ws, ss = [tf.constant(a), tf.constant(b)], [tf.constant(a * 0.5), tf.constant(b)]
    np.testing.assert_allclose(weight_sq_vec(ws).numpy(), want_sq[::2], rtol=1e-5)
    np.testing.assert_allclose(
        tf_function(delta_sq_vec)(ws, ss).numpy(), [want_sq[0] / 4, 0.0], rtol=1e-5
    )
    v = vec([tf.constant(1.5), tf.constant(2.0, tf.float64), float("nan"), tf.constant([3.0])])
    assert v.dtype == tf.float32 and v.shape == (4,)
    np.testing.assert_equal(v.numpy(), [1.5, 2.0, np.nan, 3.0])


def test_update_ratio_difference_is_eager_first_then_traced_with_the_same_values():
    """A short fit never pays for tracing the update ratio's difference: the first
    ``EAGER_DELTAS`` calls run eagerly, later ones in one traced function; same values."""
    from traindx.adapters._keras_stats.engine import EAGER_DELTAS, Engine

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    tracked = list(model.trainable_variables)
    e = Engine(model, tracked, lambda x: ([], model(x)), None, has_loss=False)
    snap = [tf.identity(v.value) * 0.5 for v in tracked]
    want = [float(np.sum(np.square(v.numpy() * 0.5))) for v in tracked]
    assert e.on_host()  # small weights: numpy on the host, nothing traced
    for _ in range(EAGER_DELTAS + 2):
        np.testing.assert_allclose(e.delta(snap), want, rtol=1e-5)
    assert not e._fns
    e._host = False  # weights over HOST_LIMIT
    for i in range(EAGER_DELTAS + 2):
        np.testing.assert_allclose(e.delta(snap), want, rtol=1e-5)
        assert ("tel_delta" in e._fns) == (i >= EAGER_DELTAS)


def test_host_statistics_equal_the_traced_ones():
    """One definition of each statistic: with ``xp=HOST`` (numpy on the host: Keras on JAX,
    small weights on TensorFlow) the values of the traced keras.ops functions."""
    from traindx.adapters._keras_stats.reduce import (
        HOST,
        act_stats,
        delta_sq_vec,
        grad_vec,
        on_host,
        output_stats,
    )

    rng = np.random.default_rng(1)
    a = np.maximum(rng.normal(size=(32, 8)), 0).astype("float32")  # ReLU-like: zeros
    t = np.tanh(3 * rng.normal(size=(32, 8))).astype("float32")  # saturated
    p = rng.dirichlet(np.ones(5), size=32).astype("float32")
    g = [rng.normal(size=(4, 3)).astype("float32"), None, np.array([1.0, np.inf], "float32")]
    pairs = [
        (act_stats(a, 1, HOST), act_stats(tf.constant(a), 1)),
        (act_stats(t, 2, HOST), act_stats(tf.constant(t), 2)),
        (output_stats(p, True, 5, HOST), output_stats(tf.constant(p), True, 5)),
        ([grad_vec(g, HOST)], [grad_vec([None if x is None else tf.constant(x) for x in g])]),
        ([delta_sq_vec([a, t], [t, a], HOST)], [delta_sq_vec([tf.constant(a), tf.constant(t)], [tf.constant(t), tf.constant(a)])]),
    ]
    for host, traced in pairs:
        for h, d in zip(host, traced, strict=True):
            assert np.asarray(h).dtype == np.float32
            np.testing.assert_allclose(np.asarray(h), np.asarray(d), rtol=1e-5, atol=1e-7)
    inf = np.array([np.inf, 1.0], "float32")  # a diverged run: NaN statistics, no numpy warning
    assert np.isnan(on_host(delta_sq_vec, [inf], [inf])).all()  # (warnings are errors here)
    assert np.isnan(on_host(act_stats, inf, 1)[1])
