"""Issue 10 (qa_fresh39, loans with empty income cells): a multi-input Keras model whose
second input holds NaN. The callback counted NaN/inf in the first input only (an integer
embedding index), so input_nonfinite read 0 and nonfinite_in_data lost to dying_relu. Every
input array is counted now, in the probe batch and in the arrays fit was given."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

import traindx  # noqa: E402
from traindx.adapters._keras_leak import nonfinite_count  # noqa: E402
from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


def _two_input_model():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    cat, num = keras.Input((1,), dtype="int32"), keras.Input((4,))
    e = L.Flatten()(L.Embedding(10, 3)(cat))
    h = L.Dense(16, activation="relu")(L.Concatenate()([e, num]))
    m = keras.Model([cat, num], L.Dense(1, activation="sigmoid")(h))
    m.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    return m


def _data(nan_rows):
    rng = np.random.default_rng(0)
    cat = rng.integers(0, 10, (256, 1)).astype("int32")
    num = rng.normal(size=(256, 4)).astype("float32")
    num[nan_rows, 2] = np.nan
    y = (rng.random(256) < 0.5).astype("float32")
    return [cat, num], y


def _flags(tmp_path, name, nan_rows, probe_rows):
    x, y = _data(nan_rows)
    probe = ([a[probe_rows] for a in x], y[probe_rows])
    cb = DiagnosisCallback(tmp_path / name, probe=probe, diagnose=False)
    _two_input_model().fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[cb])
    (run,) = traindx.read(tmp_path / name)
    return run.context.flags


@pytest.mark.filterwarnings("ignore:traindx. weights are non-finite:RuntimeWarning")
def test_nan_in_a_second_input_is_counted(tmp_path):
    # NaN rows inside the probe (the qa_fresh39 shape: the probe is the last rows)
    assert _flags(tmp_path, "probe", [250, 252], slice(-64, None))["input_nonfinite"] == 2.0
    # NaN rows only outside the probe: counted in fit's input arrays (a list of two)
    assert _flags(tmp_path, "fit", [3, 7, 9], slice(-64, None))["input_nonfinite"] == 3.0
    assert _flags(tmp_path, "clean", [], slice(-64, None))["input_nonfinite"] == 0.0


def test_nonfinite_count_reads_nested_inputs():
    a, b = np.zeros((3, 2), "float32"), np.full((2, 2), np.nan)
    assert nonfinite_count([np.arange(3), b]) == 4.0
    assert nonfinite_count({"a": a, "b": b}, None) == 4.0
    assert nonfinite_count([np.arange(3)]) is None
