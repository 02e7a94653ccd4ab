"""The Keras callback's n_train is a true count (or an upper bound within one batch), never the
steps of a first epoch that stopped early (issue 10: 11 steps x 32 = 352 recorded where fit
planned 43 steps of 32, and CTX025 - few training examples - could read it)."""

from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters.keras import DiagnosisCallback  # noqa: E402

pytestmark = pytest.mark.keras
BS = 32


@pytest.fixture(scope="module")
def digits():
    return scaled_digits(600)


class StopAt(keras.callbacks.Callback):
    """Stops training after batch ``at`` of the first epoch (as a fatal fault's stop does)."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.at:
            self.model.stop_training = True


def _fit(data, cb, tmp_path, stop_at=None, **kw):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(10)])
    model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cbs = ([StopAt(stop_at)] if stop_at is not None else []) + [cb]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data[0], data[1] if len(data) > 1 else None, epochs=2, verbose=0, callbacks=cbs, **kw)
    (run,) = traindx.read(tmp_path)
    return run


def _probe(digits):
    return digits[0][:128], digits[1][:128]


def test_fit_arrays_give_the_true_count(digits, tmp_path):
    """fit's own x, after validation_split took its share: 450 of 600 rows (steps x batch would
    say 15 x 32 = 480, or 3 x 32 = 96 from the stopped first epoch)."""
    cb = DiagnosisCallback(tmp_path, probe=_probe(digits))
    run = _fit(digits, cb, tmp_path, stop_at=2, batch_size=BS, validation_split=0.25)
    assert run.context.data.n_train == 450


def test_dataset_stopped_early_records_the_planned_steps(digits, tmp_path):
    tf = pytest.importorskip("tensorflow")
    ds = tf.data.Dataset.from_tensor_slices(digits).batch(BS)  # 19 steps per epoch (600 rows)
    cb = DiagnosisCallback(tmp_path, probe=_probe(digits))
    run = _fit((ds,), cb, tmp_path, stop_at=2)
    assert run.context.data.n_train == 19 * BS  # not 3 x 32 = 96: under 100, CTX025's reading
    assert "n_train_at_least" not in run.context.flags


def test_generator_stopped_early_records_only_a_lower_bound(digits, tmp_path):
    def gen():
        while True:
            for i in range(0, 600 - BS + 1, BS):
                yield digits[0][i : i + BS], digits[1][i : i + BS]

    cb = DiagnosisCallback(tmp_path, probe=_probe(digits), batch_size=BS)
    run = _fit((gen(),), cb, tmp_path, stop_at=2)  # a generator of unknown length: no planned steps
    assert run.context.data.n_train is None  # 3 x 32 = 96 rows would read as few training examples
    assert run.context.flags["n_train_at_least"] == 3 * BS
