"""Validation rows that also appear in the training data, seen from a Keras ``fit`` call.

Keras 3 hands a callback neither the training nor the validation data, and the batches of
``on_train_batch_end`` are out of its reach without changing ``train_step``. ``fit`` itself
holds both as local variables while it runs the callbacks' ``on_train_begin``: ``x`` (the
training inputs, after ``validation_split`` took its share) and ``val_x`` (the validation
inputs, from ``validation_data`` or the split). :func:`fit_locals` reads them (and whether a ``class_weight`` was given) from that frame
- read only, nothing is assigned, the frame is let go at once - when both are NumPy arrays
(a dataset, a generator or framework tensors are left alone: reading them could advance an
iterator or copy device memory). :func:`val_shared_frac` hashes their rows; :func:`nonfinite_count`
counts the NaN/inf values of the training arrays (a probe batch alone misses a few bad rows).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

MAX_TRAIN_ROWS = 200_000  # training rows given an id (once, at the start of fit; traindx.rowid)
MAX_VAL_ROWS = 4_096  # validation rows looked up
_CHUNK = 1 << 22  # values per slice counted by nonfinite_count (a 4 MiB mask)
_DEPTH = 12  # frames searched above the caller for Keras' fit


def _weight_map(cw: Any) -> dict[int, float] | None:
    """fit's ``class_weight`` dict as class id -> float; None when it is not one."""
    try:
        return {int(k): float(v) for k, v in cw.items()} if isinstance(cw, dict) and cw else None
    except (TypeError, ValueError):
        return None


def fit_locals() -> dict[str, Any] | None:
    """``x``, ``val_x`` (None unless both are NumPy arrays), ``train_x``/``train_y`` (fit's
    training inputs and targets where each is a NumPy array, whatever the validation data), ``val_y``
    (the validation targets as a NumPy array, else None) and
    ``class_weighted`` (fit was given a ``class_weight``) of the Keras ``fit`` call this runs
    under; None when there is no such frame (a custom training loop)."""
    frame = inspect.currentframe()
    try:
        f = frame.f_back if frame is not None else None
        for _ in range(_DEPTH):
            if f is None:
                return None
            code = f.f_code
            if (
                code.co_name == "fit"
                and "keras" in code.co_filename
                and "trainer" in code.co_filename
            ):
                loc = f.f_locals
                x, vx, y = loc.get("x"), loc.get("val_x"), loc.get("y")
                both = isinstance(x, np.ndarray) and isinstance(vx, np.ndarray)
                return {"x": x if both else None, "val_x": vx if both else None,
                        "train_x": x if isinstance(x, np.ndarray) else None,
                        "train_y": y if isinstance(y, np.ndarray) else None,
                        "val_y": loc.get("val_y") if isinstance(loc.get("val_y"), np.ndarray) else None,
                        "train_in": x if _arrays_only(x) else None,
                        "class_weighted": bool(loc.get("class_weight")),
                        "class_weight": _weight_map(loc.get("class_weight"))}  # fmt: skip
            f = f.f_back
        return None
    finally:
        del frame, f  # no reference cycle through the frame (it holds the user's arrays)


def val_shared_frac(x: np.ndarray, val_x: np.ndarray) -> float | None:
    """The share of validation rows (the first :data:`MAX_VAL_ROWS`) that hash identically to
    one of the first :data:`MAX_TRAIN_ROWS` training rows; None when the rows do not have the
    same shape. With more training rows than that, a shared row may be missed (a lower bound)."""
    from traindx.rowid import shared_frac

    if x.ndim < 1 or val_x.ndim < 1:
        return None
    frac = shared_frac(x[:MAX_TRAIN_ROWS], val_x[:MAX_VAL_ROWS])  # val cast to x's dtype
    return None if frac is None else float(frac)


def _arrays_only(x: Any) -> bool:
    """``x`` is a NumPy array or a list/tuple/dict holding only NumPy arrays (a multi-input
    model's inputs)."""
    if isinstance(x, dict):
        return bool(x) and all(_arrays_only(v) for v in x.values())
    if isinstance(x, list | tuple):
        return bool(x) and all(_arrays_only(v) for v in x)
    return isinstance(x, np.ndarray)


def _leaves(x: Any) -> list[Any]:
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, list | tuple):
        return [leaf for v in x for leaf in _leaves(v)]
    return [x]


def nonfinite_count(*arrays: Any) -> float | None:
    """NaN/inf values in every row of each floating-point NumPy array given, every array of a
    list/tuple/dict counted (a multi-input model's inputs; issue 10: only the first input was
    read, and a NaN column in the second made 0); None when there is none to count. Counted in
    slices of about :data:`_CHUNK` values, so the temporary mask stays small whatever the
    array's size (issue 10: the first rows only missed NaN rows at the end)."""
    counted, bad = False, 0
    for a in (leaf for arr in arrays for leaf in _leaves(arr)):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size:
            rows = max(1, _CHUNK // max(1, a[0].size)) if a.ndim else 1
            for i in range(0, len(a) if a.ndim else 1, rows):
                part = a[i : i + rows] if a.ndim else a
                bad += int(part.size - np.count_nonzero(np.isfinite(part)))
            counted = True
    return float(bad) if counted else None
