"""Facts comparing a run's training and validation inputs, for any adapter given both arrays
(numpy only; never a judgment).

- :func:`val_shared_frac`: the share of validation rows identical to a training row (leakage).
- :func:`input_shift`: how far the validation inputs' per-feature statistics sit from the
  training inputs': the median over features of |mean_val - mean_train| / std_train
  (``val_input_shift``) and of std_val / std_train (``val_input_std_ratio``). Two samples of
  one distribution differ by ~1/sqrt(rows) in the first and ~1 in the second; inputs
  rescaled, offset or recorded elsewhere move both (a shift of the inputs, which corrupt
  labels never do).
- :func:`target_shift`: the same for continuous targets (a regression's y):
  |mean_val - mean_train| / std_train (``val_target_shift``), std_val / std_train
  (``val_target_std_ratio``) and the validation rows (``val_target_rows``). A random split
  moves the mean by ~1/sqrt(rows) of a std; a frame sorted by its target and split by position
  (Keras ``validation_split`` takes the last rows) gives validation another range.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from traindx.arrays import median

#: rows compared (the Keras callback's caps, traindx.adapters._keras_leak)
MAX_TRAIN_ROWS, MAX_VAL_ROWS = 200_000, 4_096
MAX_FEATURES = 4_096  # features compared (the first ones of a flattened row)
#: rows a split's statistics read (evenly spaced): a mean's standard error of 1/sqrt(2,048) = 0.02
#: std against CTX052's 0.5 and CTX070's 6 standard errors; a bounded read (2,048 x 4,096 values)
STAT_ROWS = 2_048
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


def _rows(a: np.ndarray, most: int = STAT_ROWS) -> np.ndarray:
    """At most ``most`` evenly spaced rows (a view): a dataset sorted by class or time is
    sampled whole, and the statistics cost a bounded read whatever the array's size."""
    if a.ndim < 1 or len(a) <= most:
        return a
    return a[:: len(a) // most][:most]


def input_shift(data: Any, val_data: Any) -> dict[str, float]:
    """``val_input_shift`` and ``val_input_std_ratio`` (see the module) over the features
    whose training std is above 1e-6 of the largest; empty when the rows differ in shape,
    are not numeric, or are too few."""
    x, vx = _rows(np.asarray(_inputs(data))), _rows(np.asarray(_inputs(val_data)))
    if x.ndim < 1 or vx.ndim < 1 or x.shape[1:] != vx.shape[1:] or len(x) < MIN_ROWS or len(vx) < MIN_ROWS:  # fmt: skip
        return {}
    if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(vx.dtype, np.number)):
        return {}
    x = x.reshape(len(x), -1)[:, :MAX_FEATURES]  # (float64 only in the sums: no copy of the rows)
    vx = vx.reshape(len(vx), -1)[:, :MAX_FEATURES]
    with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: "Mean of empty slice", never printed
        mt, st = np.nanmean(x, axis=0, dtype=np.float64), np.nanstd(x, axis=0, dtype=np.float64)
        mv, sv = np.nanmean(vx, axis=0, dtype=np.float64), np.nanstd(vx, axis=0, dtype=np.float64)
    keep = np.isfinite(mt) & np.isfinite(st) & np.isfinite(mv) & np.isfinite(sv)
    if not keep.any():
        return {}
    keep &= st > 1e-6 * float(np.max(st[keep]))
    if not keep.any():
        return {}
    z = np.abs(mv[keep] - mt[keep]) / st[keep]
    return {"val_input_shift": round(float(median(z)), 4),
            "val_input_std_ratio": round(float(median(sv[keep] / st[keep])), 4)}  # fmt: skip


def targets_of(d: Any) -> Any:
    """The targets of an ``(inputs, targets, ...)`` tuple or list; None when it holds none."""
    return d[1] if isinstance(d, (tuple, list)) and len(d) > 1 else None


def target_shift(y_train: Any, y_val: Any) -> dict[str, float]:
    """``val_target_shift``, ``val_target_std_ratio`` and ``val_target_rows`` (see the module) of
    two arrays of continuous targets ((N,) or (N, 1) numbers that are not class ids - 2 to
    MAX_CLASSES whole values are :mod:`labelnn`'s); empty otherwise, or with fewer than MIN_ROWS
    rows. Never raises."""
    from traindx.adapters._common.labelnn import class_ids

    try:
        a, b = (np.asarray(y) for y in (y_train, y_val))
        a, b = (v.reshape(len(v)) if v.ndim == 2 and v.shape[1] == 1 else v for v in (a, b))
        if a.ndim != 1 or b.ndim != 1 or a.dtype.kind not in "fiu" or b.dtype.kind not in "fiu":
            return {}
        a = _rows(a[np.isfinite(a)], MAX_TRAIN_ROWS).astype(np.float64)  # (one value a row: 1.6 MB at most)
        b = _rows(b[np.isfinite(b)], MAX_VAL_ROWS).astype(np.float64)
        if len(a) < MIN_ROWS or len(b) < MIN_ROWS or class_ids(a) is not None:  # (the training side decides)
            return {}
        st = float(np.std(a))
        if st <= 0:
            return {}
        return {"val_target_shift": round(abs(float(np.mean(b)) - float(np.mean(a))) / st, 4),
                "val_target_std_ratio": round(float(np.std(b)) / st, 4), "val_target_rows": float(len(b))}  # fmt: skip
    except Exception:  # noqa: BLE001 - a fact not known
        return {}


def target_shift_of(data: Any, val_data: Any) -> dict[str, float]:
    """:func:`target_shift` of two ``(inputs, targets)`` tuples; empty when either has no targets."""
    ya, yb = targets_of(data), targets_of(val_data)
    return {} if ya is None or yb is None else target_shift(ya, yb)
