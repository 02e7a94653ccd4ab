"""The Keras callback's coverage floor: a fit whose planned length is known gets at least 32
evenly spread per-layer samples (issue 15), whatever the budget makes of the telemetry steps."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

import traindx  # noqa: E402
from traindx.adapters._common import Cadence  # noqa: E402
from traindx.adapters._keras_probe import MIN_GAP, MIN_SAMPLES, keras_cadence  # noqa: E402
from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras
L = keras.layers


def _fit(x, y, cb, epochs, batch):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), L.Dense(32, activation="relu"), L.Dense(10)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-2), loss)
    model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=[cb] if cb else [])
    return model


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="no floor on JAX (a sample waits for the device)")
def test_keras_fit_gets_the_per_layer_sample_floor(tmp_path):
    """A 4-epoch fit of 32 steps (128 planned steps): per-layer weight norms and update ratios
    at >= 32 steps, no gap over the floor's 4 steps, the last in the last gap; the probe's
    per-layer gradient norms on (some of) those steps; training unchanged."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x[:640] / 16.0).astype("float32"), y[:640].astype("int64")
    epochs, batch = 4, 20
    n = epochs * len(x) // batch
    cb = DiagnosisCallback(tmp_path, probe=(x[:128], y[:128]), diagnose=False)
    with_cb = _fit(x, y, cb, epochs, batch)
    (run,) = traindx.read(tmp_path)
    gap = max(MIN_GAP, n // MIN_SAMPLES)
    for tag in ("train/weight_norm@dense", "train/weight_norm@dense_1", "train/update_ratio@dense"):
        steps = np.asarray(run.series[tag].steps)
        assert len(steps) >= MIN_SAMPLES, (tag, steps)
        assert steps[0] == 0 and np.diff(steps).max() <= gap and steps[-1] >= n - gap, (tag, steps)
        assert np.all(np.isfinite(run.series[tag].values))
    probed = set(run.series["train/grad_norm@dense"].steps.tolist())
    assert 0 in probed and probed <= set(run.series["train/weight_norm@dense"].steps.tolist())
    without = _fit(x, y, None, epochs, batch)
    for a, b in zip(with_cb.get_weights(), without.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert cb._cad.planned == n
    with_cb.fit(x, y, epochs=1, batch_size=batch, verbose=0, callbacks=[cb])  # the run goes on
    assert cb._cad.planned == n + n // epochs  # the gap follows the run's length, not the first fit's


def test_planned_gap_spreads_min_samples_over_the_run():
    """With the planned length known the sample gap is fixed (N // 32, at least MIN_GAP): a
    long run gets >= 32 samples evenly spread however rare the telemetry steps are; unknown
    length keeps the growing gap; a fixed ``every`` takes none."""
    for n in (128, 1000, 5000):
        cad = keras_cadence(None)
        cad.planned = n
        cad.advance(0, 0.0)  # the telemetry step at step 0
        cad.next = 10**9  # the budget makes every other telemetry step rarer than the run
        taken = [0] + [s for s in range(1, n) if cad.sample_due(s) and (cad.sampled(s) or True)]
        assert len(taken) >= 32 and max(np.diff(taken)) <= max(MIN_GAP, n // 32), (n, taken)
        assert len(taken) <= 32 + n // max(MIN_GAP, n // 32)
    short = keras_cadence(None)
    short.planned = 40
    short.sampled(0)
    assert short.sample_next == MIN_GAP  # shorter than the floor allows: every MIN_GAP steps
    free = Cadence(None)  # torch: the length is not known, the gap grows with the step
    free.sampled(3200)
    assert free.sample_next == 3300
    assert not keras_cadence(10).sample_due(5)


class _Weights(keras.callbacks.Callback):
    """The model's weights before every step (a callback ahead of ours in the list)."""

    def __init__(self):
        super().__init__()
        self.before: list[list[np.ndarray]] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.before.append([np.array(w, copy=True) for w in self.model.get_weights()])


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="no floor on JAX (a sample waits for the device)")
def test_sample_update_ratios_are_the_weights_own(tmp_path):
    """The coverage samples' snapshots are copies (weights read to the host, cost27): each
    recorded per-layer update ratio is ||W(s+1) - W(s)|| / ||W(s)|| of the weights the model
    had before steps s and s+1, and the weight norm ||W(s)||, at every sampled step."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x[:320] / 16.0).astype("float32"), y[:320].astype("int64")
    seen = _Weights()
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), L.Dense(32, activation="relu"), L.Dense(10)])
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=20, verbose=0,
              callbacks=[seen, DiagnosisCallback(tmp_path, diagnose=False)])  # fmt: skip
    (run,) = traindx.read(tmp_path)
    for layer, (k, b) in (("dense", (0, 1)), ("dense_1", (2, 3))):
        ratio = run.series[f"train/update_ratio@{layer}"]
        norm = run.series[f"train/weight_norm@{layer}"]
        assert len(ratio.steps) >= 8
        for s, v in zip(ratio.steps.tolist(), ratio.values.tolist(), strict=True):
            w0, w1 = seen.before[s], seen.before[s + 1]
            d = np.sqrt(sum(np.sum((w1[i].astype(np.float64) - w0[i]) ** 2) for i in (k, b)))
            n0 = np.sqrt(sum(np.sum(w0[i].astype(np.float64) ** 2) for i in (k, b)))
            assert v > 0 and abs(v - d / n0) <= 1e-4 * d / n0, (layer, s, v, d / n0)
        for s, v in zip(norm.steps.tolist(), norm.values.tolist(), strict=True):
            n0 = np.sqrt(sum(np.sum(seen.before[s][i].astype(np.float64) ** 2) for i in (k, b)))
            assert abs(v - n0) <= 1e-5 * n0, (layer, s, v, n0)
