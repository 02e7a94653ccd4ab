"""How closely one input column follows the target: ``feature_target_corr`` (a fact, no judgment).

A column derived from the label (a grade filled in after the class was known, a follow-up
field written after the outcome, the target's own running mean) makes the task trivial on
training and validation rows alike, and nothing in the curves tells it from an easy task.
An adapter that sees flat inputs beside their targets can measure it: for each input column
the absolute Pearson correlation with the target, or for class ids (integer targets with 3 to
:data:`MAX_CLASSES` values, whose order means nothing) the correlation ratio eta - the share
of the column's spread that the class means explain, square-rooted (for two classes it is
the Pearson correlation with the 0/1 label). The largest over the columns is recorded as
``feature_target_corr``, its column as ``feature_target_col`` and the number of columns as
``feature_target_cols``.

Flat inputs only (an (N, F) float array, F up to :data:`MAX_COLS`; one target a row), on at
most :data:`SAMPLE_ROWS` rows gathered from the first batches (or a strided sample of a whole
array): a one-off cost, no RNG drawn, and every failure is a fact not recorded. Honest
features of real tabular data reach |r| 0.80-0.97 (sklearn's wine 0.85, breast cancer 0.79,
iris petal width 0.97 as eta); a column that is the label plus noise at 0.15 of a class step
reaches 0.99.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.arrays import unique

SAMPLE_ROWS = 1024  # rows the fact is computed on (the first batches' rows, or a strided sample)
MIN_ROWS = 64  # fewer rows: a chance correlation over many columns is too likely
MAX_COLS = 512  # wider inputs are not tabular features (pixels, embeddings)
MAX_CLASSES = 64  # integer targets with 3..MAX_CLASSES values are class ids (eta, not Pearson)
SMALL_ROW = 1024  # an image / sequence row of at most this many values is flattened (labelnn)
MAX_BATCHES = 16  # batches a streaming adapter looks at before giving up on MIN_ROWS


def _flat_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(x, y)`` as an (N, F) float64 array and an (N,) float64 vector, or None when the
    inputs are not flat float features with one numeric target a row."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or not 1 <= x.shape[1] <= MAX_COLS or x.dtype.kind != "f":
        return None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] > 1 and np.isin(y, (0, 1)).all() and (y.sum(1) == 1).all():
        y = y.argmax(1)  # one-hot rows: their class ids
    if y.ndim != 1 or y.shape[0] != x.shape[0] or y.dtype.kind not in "biuf":
        return None
    return x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)


def _finite_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_flat_pair`'s arrays with the rows holding a non-finite value left out."""
    pair = _flat_pair(x, y)
    if pair is None:
        return None
    xf, yf = pair
    keep = np.isfinite(xf).all(1) & np.isfinite(yf)
    return xf[keep], yf[keep]


def _onehot(yf: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """One row a sample, one column a class id of ``vals`` (sorted unique values of ``yf``)."""
    onehot = np.zeros((yf.size, vals.size))
    onehot[np.arange(yf.size), np.searchsorted(vals, yf)] = 1.0
    return onehot


def strided(x: Any, y: Any, rows: int = SAMPLE_ROWS) -> tuple[Any, Any]:
    """At most ``rows`` evenly spaced rows of two arrays (a sorted dataset is sampled whole)."""
    n = int(np.shape(x)[0]) if np.ndim(x) else 0
    step = max(n // rows, 1)
    return x[::step][:rows], y[::step][:rows]


def corr_of(x: Any, y: Any) -> tuple[float, int] | None:
    """The largest absolute association of one column of ``x`` with ``y`` and its column
    (Pearson; eta for class ids), or None (not flat features, too few rows, constant target)."""
    pair = _finite_pair(x, y)
    if pair is None or pair[0].shape[0] < MIN_ROWS:
        return None
    xf, yf = pair
    xc = xf - xf.mean(0)
    ss = (xc * xc).sum(0)
    vals = unique(yf)
    if vals.size < 2:
        return None
    if 3 <= vals.size <= MAX_CLASSES and np.all(vals == np.round(vals)):
        onehot = _onehot(yf, vals)
        counts = onehot.sum(0)
        means = (onehot.T @ xc) / counts[:, None]  # class means of the centred columns
        between = (counts[:, None] * means * means).sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.sqrt(np.where(ss > 0, between / ss, 0.0))
    else:
        yc = yf - yf.mean()
        sy = float((yc * yc).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.abs(np.where(ss > 0, (yc @ xc) / np.sqrt(ss * sy), 0.0))
    r = np.nan_to_num(r, nan=0.0)
    j = int(np.argmax(r))
    return float(min(r[j], 1.0)), j


def stump_of(x: Any, y: Any) -> tuple[float, int, float, float, float] | None:
    """The best one-column decision stump on class ids: ``(accuracy, column, majority share,
    next)`` - one threshold on one input column, each side predicting its own majority class,
    the best accuracy over the columns and thresholds, the share of the most frequent class (what
    predicting it alone scores), the best accuracy of any other column (``next``) and the number
    of distinct column values on the best split's sparser side (1: one side is a single value,
    a field left at one constant for a class). None when
    ``y`` is no class id (2 to :data:`MAX_CLASSES` integer values) or the rows are too few.

    A column filled in only for one class (a date written after the outcome, zero otherwise)
    splits the classes perfectly while its correlation with them stays moderate (a 0/1 label
    against a skewed 0..45 column: r 0.83): the stump measures the separation itself."""
    pair = _finite_pair(x, y)
    if pair is None:
        return None
    xf, yf = pair
    vals = unique(yf)
    if xf.shape[0] < MIN_ROWS or not 2 <= vals.size <= MAX_CLASSES or np.any(vals != np.round(vals)):
        return None
    n = yf.size
    onehot = _onehot(yf, vals)
    total = onehot.sum(0)
    best = np.zeros(xf.shape[1])
    levels = np.zeros(xf.shape[1])
    for j in range(xf.shape[1]):
        order = np.argsort(xf[:, j], kind="stable")
        xs = xf[order, j]
        cut = np.flatnonzero(xs[1:] > xs[:-1])  # split after these sorted positions
        if cut.size == 0:
            continue
        left = np.cumsum(onehot[order], axis=0)[cut]
        acc = left.max(1) + (total - left).max(1)
        k = int(np.argmax(acc))
        best[j] = float(acc[k]) / n
        levels[j] = min(k + 1, cut.size - k)  # distinct values on the split's sparser side
    j = int(np.argmax(best))
    rest = np.delete(best, j)
    return float(best[j]), j, float(total.max() / n), float(rest.max()) if rest.size else 0.0, float(levels[j])


def corr_flags(x: Any, y: Any) -> dict[str, float]:
    """The ``feature_target_*`` flags of :func:`corr_of` and the ``label_nn_*`` flags of
    ``labelnn.nn_flags`` on a strided sample of the arrays; empty when not known. Never raises."""
    from traindx.adapters._common.labelnn import nn_flags  # the labels follow the inputs

    try:
        xs, ys = strided(np.asarray(x), np.asarray(y))
        got = corr_of(xs, ys)
    except Exception:  # noqa: BLE001 - a fact not known
        return {}
    out = nn_flags(xs, ys)
    try:
        stump = stump_of(xs, ys)
    except Exception:  # noqa: BLE001 - a fact not known
        stump = None
    if stump is not None:
        out.update({"feature_stump_acc": round(stump[0], 4), "feature_stump_col": float(stump[1]),
                    "feature_stump_base": round(stump[2], 4), "feature_stump_next": round(stump[3], 4),
                    "feature_stump_levels": stump[4]})  # fmt: skip
    if got is not None:
        out.update({"feature_target_corr": round(got[0], 4), "feature_target_col": float(got[1]),
                    "feature_target_cols": float(np.shape(x)[1])})  # fmt: skip
    return out


class FeatureTarget:
    """The rows of the first batches, gathered until :data:`SAMPLE_ROWS` (or the batches end)
    for :func:`corr_flags`; a batch that is not flat features stops it."""

    def __init__(self) -> None:
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []
        self.n = 0
        self.batches = 0
        self.done = False
        self.flat = True  # False: small images / sequences flattened, for labelnn alone

    def add(self, x: Any, y: Any, flat: bool = True) -> dict[str, float] | None:
        """Take a batch (host arrays; ``flat=False``: rows of a small image or sequence,
        flattened - the label-consistency facts only); the flags once enough rows were seen."""
        self.batches += 1
        self.flat = self.flat and flat
        pair = None
        try:
            pair = _flat_pair(x, y)
        except Exception:  # noqa: BLE001 - not flat features
            pair = None
        if pair is None or (self.xs and pair[0].shape[1] != self.xs[0].shape[1]):
            self.done = True
            return None
        take = SAMPLE_ROWS - self.n
        self.xs.append(pair[0][:take].copy())
        self.ys.append(pair[1][:take].copy())
        self.n += min(take, pair[0].shape[0])
        if self.n >= SAMPLE_ROWS or self.batches >= MAX_BATCHES:
            return self.finish()
        return None

    def finish(self) -> dict[str, float] | None:
        """The flags from the rows gathered so far (None when too few); gathering stops."""
        if self.done or not self.xs:
            self.done = True
            return None
        self.done = True
        from traindx.adapters._common.labelnn import nn_flags

        xs, ys = np.concatenate(self.xs), np.concatenate(self.ys)
        flags = corr_flags(xs, ys) if self.flat else nn_flags(xs, ys)
        self.xs, self.ys = [], []
        return flags or None
