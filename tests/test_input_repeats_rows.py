"""InputRepeats.see_rows (the JAX Recorder's per-flush same-batch check, vectorized) counts
exactly what InputRepeats.see counts row by row: repeated and distinct batches, skipped rows
(no inputs recorded, non-finite values), gaps between steps, rows split across flushes."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.adapters._common.repeats import InputRepeats


def _rows(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.choice([1, 1, 1, 2, 5], size=n)) + 10
    base = rng.normal(size=(4, 2)) * [[1.0, 3.0]]
    cols = np.empty((n, 3))
    cols[:, 0] = rng.choice([4096.0, 4096.0, 4096.0, 1024.0, 0.0], size=n)
    cols[:, 1:] = base[rng.integers(0, 4, size=n)]
    near = rng.random(n) < 0.2  # the same batch, summed in another order
    cols[near, 1:] *= 1 + rng.choice([-1, 1], size=(int(near.sum()), 2)) * 3e-6
    cols[rng.random(n) < 0.05, rng.integers(0, 3)] = np.nan
    return steps, cols.astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_see_rows_counts_what_see_counts_row_by_row(seed: int) -> None:
    steps, cols = _rows(seed, 400)
    one, many = InputRepeats(), InputRepeats()
    for st, (n, mean, ms) in zip(steps, cols, strict=True):
        one.see(int(st), (n,), (mean, ms))
    for a in range(0, 400, 100 if seed % 2 else 37):  # flushes of 100 rows, or uneven ones
        many.see_rows(steps[a : a + (100 if seed % 2 else 37)], cols[a : a + (100 if seed % 2 else 37)])
    assert one.checked > 50 and 0 < one.same < one.checked
    assert (many.checked, many.same, many.last) == (one.checked, one.same, one.last)
    f1: dict[str, float] = {}
    f2: dict[str, float] = {}
    one.fold(f1)
    many.fold(f2)
    assert f1 == f2


def test_see_rows_after_a_summary_of_another_shape() -> None:
    a, b = InputRepeats(), InputRepeats()
    for r in (a, b):
        r.see(4, (10.0, 0.0, 1.0), (0.5, 0.2))
    rows = np.array([[10.0, 0.5, 0.29], [10.0, 0.5, 0.29], [10.0, 0.6, 0.3]])
    a.see_rows([5, 6, 7], rows)
    for st, (n, mean, ms) in zip([5, 6, 7], rows, strict=True):
        b.see(st, (n,), (mean, ms))
    assert (a.checked, a.same) == (b.checked, b.same) == (3, 1)
