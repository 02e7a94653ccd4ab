"""One identity for a data row: which validation rows are also training rows.

Three places ask (the preflight's data check, :mod:`traindx.checks.measures`; the Keras
callback reading ``fit``'s arrays; the torch Monitor's forward hook, batch by batch), and all
three read the same id, :func:`row_ids`: the row's bytes viewed as integers of their own size
(a float32 row as int32 ...), times fixed odd weights, summed with wrap-around to 64 bits. Exact
integer arithmetic, so a row gets the same id in any batch, in any order, at any batch size;
one multiply and one sum over a batch (50 us CPU for 128 rows of 784 floats, where hashing
each row with blake2b costs 340 us; 0.04 against 0.17 s for 60,000 such rows). Two different rows share an id with a chance of about 2^-40
or less (a linear hash with random odd weights: the difference must vanish modulo 2^64).

Rows are compared by value within one dtype: :func:`shared_frac` casts the validation rows to
the training rows' dtype first (a float64 copy of a float32 row is the same row). Pure numpy,
no RNG drawn (the weights come from a generator of their own, seed 0).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import numpy as np

#: the integer type a row's values are viewed as, by item size (bytes)
_INT_OF = {1: np.uint8, 2: np.int16, 4: np.int32, 8: np.int64}
_WEIGHTS: dict[int, np.ndarray] = {}
#: rows per block: the int64 products of 60,000 rows of 784 at once cost 0.9 s CPU in page
#: faults, in blocks 0.04 s (blake2b per row: 0.17 s)
_BLOCK = 256
#: a row held by more training rows than this is a common (degenerate) row, not a sample: with
#: per-window standardisation every constant window is the same all-zero row (qa_real37's fixed
#: accelerometer run: ~10 % of training and validation rows, read as 79 % data_leakage).
#: Oversampling by duplication (x8-x15 in the corpus' leakage runs) stays below it.
COMMON_COPIES = 16


def _weights(n: int) -> np.ndarray:
    w = _WEIGHTS.get(n)
    if w is None:
        g = np.random.Generator(np.random.PCG64(0))
        w = g.integers(0, 2**63 - 1, size=n, dtype=np.int64) | 1
        if len(_WEIGHTS) < 16:
            _WEIGHTS[n] = w
    return w


def int_keys(a: np.ndarray) -> list[int]:
    """The ids of the rows of an integer array (rows along the first axis): each row's values
    times the fixed odd weights of its width, summed with wrap-around."""
    a = np.asarray(a).reshape(len(a), -1)
    w, out = _weights(a.shape[1]), np.empty(len(a), np.int64)
    with np.errstate(over="ignore"):
        for i in range(0, len(a), _BLOCK):  # blocks: no int64 copy of a whole data set
            out[i : i + _BLOCK] = np.multiply(a[i : i + _BLOCK], w, dtype=np.int64).sum(1)
    keys: list[int] = out.tolist()
    return keys


def row_ids(x: Any) -> list[int]:
    """A 64-bit id per row of ``x`` (rows along the first axis). Numbers and booleans are read
    as their bytes (:func:`int_keys` over the integer view of their item size); any other
    dtype (strings, objects, complex) through each row's blake2b digest."""
    a = np.asarray(x)
    if a.ndim == 0:
        a = a.reshape(1)
    a = np.ascontiguousarray(a.reshape(len(a), -1))
    if a.dtype.kind in "fiub" and a.dtype.itemsize in _INT_OF:
        return int_keys(a.view(_INT_OF[a.dtype.itemsize]))
    if a.dtype.kind == "O":
        a = a.astype(str)
    return [int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest(), "little", signed=True) for r in a]


def two_valued(a: Any) -> np.ndarray:
    """Per row (first axis) of a numeric array: at most two distinct values - a constant row, or a
    constant window standardised with a rounding residue (qa_real37: ``(w - mean) / (std + 1e-6)``
    gives rows of 0 and one residue, which distinct samples share). Such a row in both sets is no
    evidence that a sample leaked."""
    a = np.asarray(a)
    a = a.reshape(len(a), -1)
    if a.dtype.kind not in "fiub" or not a.shape[1]:
        return np.zeros(len(a), bool)
    lo, hi = a.min(1, keepdims=True), a.max(1, keepdims=True)
    return np.all((a == lo) | (a == hi), axis=1)


def shared_frac(train: Any, val: Any) -> float | None:
    """The share of ``val``'s rows whose id is among ``train``'s, the validation rows cast to
    the training rows' dtype first (the same values, the same bytes). Validation rows whose id
    more than :data:`COMMON_COPIES` training rows hold (a row repeated within the training set
    itself) or of at most two distinct values (:func:`two_valued`) are no evidence of a leak and
    are left out; None when
    either has no row (or no other row), or their rows differ in shape."""
    t, v = np.asarray(train), np.asarray(val)
    if t.ndim < 1 or v.ndim < 1 or t.shape[1:] != v.shape[1:] or not len(t) or not len(v):
        return None
    if v.dtype != t.dtype and v.dtype.kind in "fiub" and t.dtype.kind in "fiub":
        v = v.astype(t.dtype)
    seen = Counter(row_ids(t))
    flat = two_valued(v)
    keys = [k for k, f in zip(row_ids(v), flat, strict=True) if seen.get(k, 0) <= COMMON_COPIES and not f]
    return sum(k in seen for k in keys) / len(keys) if keys else None
