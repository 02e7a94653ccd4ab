"""Target-shape facts shared by the adapters (torch Monitor, Keras callback, JAX Recorder)."""

from __future__ import annotations

import numpy as np


def ids_per_position(a: np.ndarray, out_ndim: int | None = None) -> bool:
    """Whether 2-D targets are class ids per position - a sequence tagger's (N, T) labels for a
    (N, T, C) (Keras, JAX) or (N, C, T) (torch) output - rather than (N, C) rows: whole numbers,
    and an integer dtype with a value above 1 (a probability or one-hot row holds none), or an
    output with one axis more than the targets (the class axis)."""
    a = np.asarray(a)
    if a.ndim != 2 or a.size == 0 or a.dtype.kind not in "fiub":
        return False
    if a.dtype.kind == "f":
        v = a[np.isfinite(a)]
        if not v.size or not np.all(v == np.round(v)):
            return False
    return out_ndim == a.ndim + 1 or (a.dtype.kind in "iu" and bool(a.max() > 1))
