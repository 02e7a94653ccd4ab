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

from traindx.adapters._keras_stats.engine import tf_function  # noqa: E402

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
