"""numpy's set routines and median, without loading ``numpy.ma``.

numpy 2.4's ``np.unique`` (without ``return_*``) and ``np.intersect1d`` (without
``assume_unique``) and ``np.median`` ask ``np.ma`` whether their input is masked, and so import
``numpy.ma`` on first use: 15-25 ms, a twentieth of a ``traindx diagnose``. These give the
same results for the plain arrays traindx holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``a`` (flattened), NaNs counted as one, as ``np.unique``."""
    s = np.sort(np.asarray(a).ravel())
    if s.size < 2:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    if s.dtype.kind in "fc" and np.isnan(s[-1]):  # NaNs sort last and differ from each other
        keep[int(np.searchsorted(s, np.nan)) + 1 :] = False
    return s[keep]


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted values found in both ``a`` and ``b``, as ``np.intersect1d``."""
    return np.intersect1d(unique(a), unique(b), assume_unique=True)


def median(a: Any, axis: int | None = None, overwrite_input: bool = False) -> Any:
    """``np.median(a, axis, overwrite_input=...)`` with numpy's own steps (a partition, the
    mean of the middle one or two, NaN where a NaN is present), minus its ``np.ma`` check."""
    a = np.asanyarray(a)
    if axis is not None:
        axis = int(axis) % a.ndim
    sz = a.size if axis is None else a.shape[axis]
    kth = [sz // 2 - 1, sz // 2] if sz % 2 == 0 else [(sz - 1) // 2]
    nans = np.issubdtype(a.dtype, np.inexact) or a.dtype.kind in "Mm"
    if nans:
        kth.append(-1)
    if overwrite_input:
        part = a.ravel() if axis is None else a
        part.partition(kth, axis=0 if axis is None else axis)
    else:
        part = np.partition(a, kth, axis=axis)
    if part.shape == ():
        return part.item()
    ax = 0 if axis is None else axis
    index: list[slice] = [slice(None)] * part.ndim
    i = part.shape[ax] // 2
    index[ax] = slice(i, i + 1) if part.shape[ax] % 2 == 1 else slice(i - 1, i + 1)
    out = np.mean(part[tuple(index)], axis=ax)
    if nans and sz > 0:
        last = part.take(-1, axis=ax)
        bad = np.isnan(last)
        if bad.any():
            if isinstance(out, np.generic):
                return last
            np.copyto(out, last, where=bad)
    return out
