"""Facts comparing a run's training and validation inputs, for any adapter given both arrays
(numpy only; never a judgment).

- :func:`val_shared_frac`: the share of validation rows identical to a training row (leakage).
- :func:`input_shift`: how far the validation inputs' per-feature statistics sit from the
  training inputs': the median over features of |mean_val - mean_train| / std_train
  (``val_input_shift``) and of std_val / std_train (``val_input_std_ratio``). Two samples of
  one distribution differ by ~1/sqrt(rows) in the first and ~1 in the second; inputs
  rescaled, offset or recorded elsewhere move both (a shift of the inputs, which corrupt
  labels never do).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: rows compared (the Keras callback's caps, traindx.adapters._keras_leak)
MAX_TRAIN_ROWS, MAX_VAL_ROWS = 200_000, 4_096
MAX_FEATURES = 4_096  # features compared (the first ones of a flattened row)
MIN_ROWS = 16  # fewer validation or training rows: no statistics


def _inputs(d: Any) -> Any:
    return d[0] if isinstance(d, (tuple, list)) else d


def val_shared_frac(data: Any, val_data: Any) -> float | None:
    """The share of the validation inputs' rows (``val_data``'s first element, or the array
    itself; the first :data:`MAX_VAL_ROWS`) identical to one of the training inputs' first
    :data:`MAX_TRAIN_ROWS` rows (traindx.rowid); None when the rows differ in shape."""
    from traindx.rowid import shared_frac

    x, vx = _inputs(data), _inputs(val_data)
    frac = shared_frac(np.asarray(x[:MAX_TRAIN_ROWS]), np.asarray(vx[:MAX_VAL_ROWS]))
    return None if frac is None else float(frac)


def input_shift(data: Any, val_data: Any) -> dict[str, float]:
    """``val_input_shift`` and ``val_input_std_ratio`` (see the module) over the features
    whose training std is above 1e-6 of the largest; empty when the rows differ in shape,
    are not numeric, or are too few."""
    x, vx = np.asarray(_inputs(data)[:MAX_TRAIN_ROWS]), np.asarray(_inputs(val_data)[:MAX_VAL_ROWS])
    if x.ndim < 1 or vx.ndim < 1 or x.shape[1:] != vx.shape[1:] or len(x) < MIN_ROWS or len(vx) < MIN_ROWS:  # fmt: skip
        return {}
    if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(vx.dtype, np.number)):
        return {}
    x = x.reshape(len(x), -1)[:, :MAX_FEATURES].astype(np.float64)
    vx = vx.reshape(len(vx), -1)[:, :MAX_FEATURES].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        mt, st = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        mv, sv = np.nanmean(vx, axis=0), np.nanstd(vx, axis=0)
    keep = np.isfinite(mt) & np.isfinite(st) & np.isfinite(mv) & np.isfinite(sv)
    if not keep.any():
        return {}
    keep &= st > 1e-6 * float(np.max(st[keep]))
    if not keep.any():
        return {}
    z = np.abs(mv[keep] - mt[keep]) / st[keep]
    return {"val_input_shift": round(float(np.median(z)), 4),
            "val_input_std_ratio": round(float(np.median(sv[keep] / st[keep])), 4)}  # fmt: skip
