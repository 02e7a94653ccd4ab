"""Oscillation chunks over whole epochs for a per-step loss whose batches keep their place
in each epoch (qa_keras40's sine fix through the Keras callback: chunks of 75 steps over
epochs of 10 alternated between holding an extra first or last half-epoch, LOSS004 fired)."""

from __future__ import annotations

import numpy as np

from traindx.signals.curve import chunk_medians, curve_facts

# each batch's loss level by its place in the epoch (a fixed batch order), times a slow decay
PLACE = np.array([1.6, 1.45, 1.35, 0.9, 1.9, 1.0, 0.93, 0.89, 1.6, 0.91])


def _fixed_order_run(epochs: int = 150) -> tuple[np.ndarray, np.ndarray]:
    level = 0.12 + 0.1 * np.exp(-np.arange(epochs) / 5.0)
    y = (level[:, None] * PLACE[None, :]).ravel()
    return np.arange(y.size), y


def test_chunks_of_whole_epochs_remove_the_place_in_epoch_sawtooth() -> None:
    x, y = _fixed_order_run()
    plain = curve_facts(x, y)
    epochs = curve_facts(x, y, period=10)
    assert plain["osc"] > 0.35 and plain["tv_ratio"] > 3.0  # LOSS004's levels, from the chunking
    assert epochs["osc"] < 0.05 and epochs["tv_ratio"] < 1.5


def test_real_swings_still_show_with_epoch_chunks() -> None:
    x, y = _fixed_order_run()
    swing = np.repeat(np.where(np.arange(150) // 8 % 2 == 0, 1.0, 3.0), 10)  # 8 epochs up, 8 down
    f = curve_facts(x, y * swing, period=10)
    assert f["osc"] > 0.35 and f["tv_ratio"] > 3.0


def test_without_enough_epochs_the_chunks_are_equal_counts() -> None:
    x = np.arange(100)
    y = np.linspace(2.0, 1.0, 100)
    assert np.allclose(chunk_medians(x, y, period=10), chunk_medians(x, y, None))
