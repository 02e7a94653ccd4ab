"""Whether the class labels follow the inputs, and whether the two splits hold the same classes
(facts, no judgment).

``label_nn_*``: on a sample of flat training rows with class-id targets, the share of rows
whose nearest other row (Euclidean on standardized columns) carries the same label
(``label_nn_agree``), against the agreement of labels drawn at random with the same class
shares (``label_nn_chance``, the sum of squared class shares); ``label_nn_lift`` is the excess
over chance as a share of its room, (agree - chance) / (1 - chance): 0 for labels that carry
no signal about the inputs (labels shuffled apart from their rows, written as ``i % 3``, one
array shuffled and the other not), near 1 where neighbours share their class. ``label_nn_z``
is the excess in binomial standard errors (a sample of 100 rows at chance reaches z 2 one time
in 40). Flat float inputs (an (N, F) array, F up to ``SMALL_ROW``; a small image or sequence is
flattened), integer targets with
2..``MAX_CLASSES`` values, at least ``MIN_ROWS`` rows of a strided sample of at most
``SAMPLE_ROWS``: an N x N distance matrix, once.

``split_label_*``: the class histograms of the training and the validation targets, their
total variation distance (``split_label_tv``: 0 the same shares, 1 no class in common) and the
log10 p-value of a chi-square test of homogeneity (``split_label_log10p``: how unlikely that
distance is for two random draws of the same data), with the classes found in validation only
(``split_classes_val_only``). A dataset sorted by class and split by position (Keras
``validation_split`` takes the last rows) gives validation one or two classes.

Rows of token or category ids (inputs a lookup table reads, whatever their dtype) are no metric
space - id 17 is no nearer to 18 than to 2,999 - so :func:`drop_on_token_ids` removes both
nearest-neighbour fact sets from a context whose model holds an embedding (a lookup table)
and records ``inputs_token_ids`` instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.adapters._common.assoc import MAX_CLASSES, SAMPLE_ROWS, SMALL_ROW, strided
from traindx.arrays import median, unique

MIN_ROWS = 64  # fewer: the agreement's sampling error is too wide to read
MIN_VAL_ROWS = 10  # fewer validation targets: a histogram of a handful says little
#: The facts a Euclidean nearest-neighbour search over the input rows makes.
NN_FACTS = ("label_nn_agree", "label_nn_chance", "label_nn_lift", "label_nn_z", "label_nn_rows",
            "val_nn_dist_ratio", "val_nn_agree", "val_nn_rows")  # fmt: skip
#: Layer types that look their inputs up by id (Keras/torch ``Embedding``, ``EmbeddingBag``,
#: Keras-hub ``TokenAndPositionEmbedding``, flax ``Embed``).
LOOKUP_TYPES = ("embed", "embeddingbag")  # lower case (JAX reads types off parameter names)


def token_id_inputs(layers: Any) -> bool:
    """Whether a layer with weights (as an adapter recorded ``model.layers``) is a lookup
    table: the inputs are token or category ids. Any layer, not the first: JAX records its
    parameter tree's order (``Dense_0`` before ``Embed_0``), not the call order."""
    for la in layers or ():
        kind = str(getattr(la, "type", None) or "").lower()
        if la.params and (kind in LOOKUP_TYPES or kind.endswith("embedding")):
            return True
    return False


def drop_on_token_ids(ctx: Any) -> None:
    """Remove the nearest-neighbour facts (``NN_FACTS``) from a run context whose model reads
    token ids (:func:`token_id_inputs`) and set ``inputs_token_ids``; the distances between
    rows of ids they rest on mean nothing. Never raises."""
    try:
        if not token_id_inputs(ctx.model.layers):
            return
        ctx.flags["inputs_token_ids"] = True
        gone = [k for k in NN_FACTS if ctx.flags.pop(k, None) is not None]
        note = "inputs read through an embedding (token ids): no nearest-neighbour label facts"
        if gone and note not in ctx.notes:
            ctx.notes.append(note)
    except Exception:  # noqa: BLE001 - a fact not known
        return


def _as_vector(y: Any) -> np.ndarray:
    """Targets as one value a row: one-hot rows as their argmax, an (N, 1) column squeezed."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim == 2 and y.shape[1] > 1 and np.isin(y, (0, 1)).all() and (y.sum(1) == 1).all():
        return y.argmax(1)
    return y


def class_ids(y: Any) -> np.ndarray | None:
    """``y`` as an (N,) int64 vector of class ids (one-hot rows as their argmax, an (N, 1)
    column squeezed), or None when it is not 2..MAX_CLASSES integer values."""
    y = _as_vector(y)
    if y.ndim != 1 or y.dtype.kind not in "biuf" or y.size == 0:
        return None
    if y.dtype.kind == "f" and (not np.isfinite(y).all() or not np.all(y == np.round(y))):
        return None
    if not 2 <= unique(y).size <= MAX_CLASSES:
        return None
    return y.astype(np.int64)


def nn_agreement(x: Any, y: Any) -> dict[str, float] | None:
    """The ``label_nn_*`` facts of flat inputs ``x`` and class ids ``y`` (all rows given), or
    None (not flat features, not class ids, too few rows)."""
    x = np.asarray(x)
    if x.ndim > 2 and 0 < int(np.prod(x.shape[1:])) <= SMALL_ROW:
        x = x.reshape(x.shape[0], -1)  # a small image or sequence: its values as columns
    if x.ndim != 2 or not 1 <= x.shape[1] <= SMALL_ROW or x.dtype.kind != "f":
        return None
    ids = class_ids(y)
    if ids is None or ids.shape[0] != x.shape[0]:
        return None
    xf = x.astype(np.float64)
    keep = np.isfinite(xf).all(1)
    xf, ids = xf[keep], ids[keep]
    n = xf.shape[0]
    if n < MIN_ROWS:
        return None
    sd = xf.std(0)
    xf = (xf[:, sd > 0] - xf.mean(0)[sd > 0]) / sd[sd > 0]
    if xf.shape[1] == 0:
        return None
    sq = (xf * xf).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * (xf @ xf.T)
    np.fill_diagonal(d, np.inf)
    agree = float((ids[np.argmin(d, axis=1)] == ids).mean())
    shares = np.unique(ids, return_counts=True)[1] / n
    chance = float((shares * shares).sum())
    if chance >= 1.0:
        return None
    lift = (agree - chance) / (1.0 - chance)
    z = (agree - chance) / np.sqrt(chance * (1.0 - chance) / n)
    return {"label_nn_agree": round(agree, 4), "label_nn_chance": round(chance, 4),
            "label_nn_lift": round(float(lift), 4), "label_nn_z": round(float(z), 2),
            "label_nn_rows": float(n)}  # fmt: skip


def nn_flags(x: Any, y: Any) -> dict[str, float]:
    """:func:`nn_agreement` on a strided sample of at most SAMPLE_ROWS rows; empty when not
    known. Never raises."""
    try:
        got = nn_agreement(*strided(np.asarray(x), np.asarray(y), SAMPLE_ROWS))
    except Exception:  # noqa: BLE001 - a fact not known
        return {}
    return got or {}


def split_flags_of(data: Any, val_data: Any) -> dict[str, float]:
    """:func:`split_flags` of two ``(inputs, targets)`` tuples; empty when either has no targets."""
    from traindx.adapters._common.splits import targets_of

    ya, yb = targets_of(data), targets_of(val_data)
    return {} if ya is None or yb is None else split_flags(ya, yb)


def split_flags(y_train: Any, y_val: Any) -> dict[str, float]:
    """The ``split_label_*`` facts of two target arrays (class ids); empty when either is not
    class ids or validation has fewer than MIN_VAL_ROWS rows. Never raises."""
    try:
        a, b = class_ids(y_train), class_ids(np.asarray(y_val))
        if a is None or b is None or b.size < MIN_VAL_ROWS:
            if a is not None and b is not None:
                return {}
            # a split holding one class only is not "2..MAX_CLASSES values": count it anyway
            a = a if a is not None else _one_class(y_train)
            b = b if b is not None else _one_class(y_val)
            if a is None or b is None or b.size < MIN_VAL_ROWS:
                return {}
        classes = np.union1d(a, b)
        if classes.size > MAX_CLASSES:
            return {}
        ca = np.array([(a == c).sum() for c in classes], dtype=np.float64)
        cb = np.array([(b == c).sum() for c in classes], dtype=np.float64)
        tv = 0.5 * float(np.abs(ca / ca.sum() - cb / cb.sum()).sum())
        return {"split_label_tv": round(tv, 4), "split_label_log10p": round(_homogeneity_log10p(ca, cb), 2),
                "split_classes_val_only": float(((cb > 0) & (ca == 0)).sum()),
                "split_val_rows": float(cb.sum())}  # fmt: skip
    except Exception:  # noqa: BLE001 - a fact not known
        return {}


def _one_class(y: Any) -> np.ndarray | None:
    """Integer targets of a single class as ids (class_ids wants two or more)."""
    y = _as_vector(y)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "biuf" or unique(y).size != 1:
        return None
    if y.dtype.kind == "f" and not float(y[0]).is_integer():
        return None
    return y.astype(np.int64)


def _homogeneity_log10p(ca: np.ndarray, cb: np.ndarray) -> float:
    """log10 of the chi-square homogeneity test's p-value for two class histograms."""
    from scipy.stats import chi2

    table = np.stack([ca, cb])
    exp = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.nansum(np.where(exp > 0, (table - exp) ** 2 / exp, 0.0)))
    dof = max(int((table.sum(0) > 0).sum()) - 1, 1)
    return float(max(chi2.logsf(stat, dof) / np.log(10), -300.0))


def _nearest(a: np.ndarray, b: np.ndarray, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``a``, the index of and the distance to its nearest row of ``b``
    (``same``: ``a`` is ``b``, a row is not its own neighbour)."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    if same:
        np.fill_diagonal(d, np.inf)
    idx = np.argmin(d, axis=1)
    return idx, np.sqrt(np.maximum(d[np.arange(len(a)), idx], 0.0))


def val_nn_flags(x: Any, y: Any, val_x: Any, val_y: Any) -> dict[str, float]:
    """Where the validation rows lie against the training rows (flat float inputs, class-id
    targets; strided samples of at most SAMPLE_ROWS training and SAMPLE_ROWS // 2 validation
    rows, columns standardized by the training sample): ``val_nn_dist_ratio``, the median
    distance of a validation row to its nearest training row over the median distance of a
    training row to its nearest other training row (near 1 for two draws of one distribution,
    far above it for validation inputs from elsewhere - a second ``make_blobs`` call, another
    sensor), and ``val_nn_agree``, the share of validation rows whose nearest training row
    carries the same class (beside ``label_nn_agree``: validation labels coded apart from
    training's leave the rows close and the labels disagreeing). Empty when not known; never
    raises."""
    try:
        x, vx = np.asarray(x), np.asarray(val_x)
        x, vx = (a.reshape(a.shape[0], -1) if a.ndim > 2 else a for a in (x, vx))
        if x.ndim != 2 or vx.ndim != 2 or x.shape[1] != vx.shape[1] or not 1 <= x.shape[1] <= SMALL_ROW:
            return {}
        if x.dtype.kind != "f" or vx.dtype.kind != "f":
            return {}
        a, b = class_ids(y), class_ids(val_y)
        if a is None or b is None or a.shape[0] != x.shape[0] or b.shape[0] != vx.shape[0]:
            return {}
        xs, ys = strided(x, a, SAMPLE_ROWS)
        vs, vys = strided(vx, b, SAMPLE_ROWS // 2)
        xs, vs = np.asarray(xs, np.float64), np.asarray(vs, np.float64)
        kt, kv = np.isfinite(xs).all(1), np.isfinite(vs).all(1)
        xs, ys, vs, vys = xs[kt], np.asarray(ys)[kt], vs[kv], np.asarray(vys)[kv]
        if len(xs) < MIN_ROWS or len(vs) < MIN_VAL_ROWS:
            return {}
        sd = xs.std(0)
        if not (sd > 0).any():
            return {}
        mu = xs.mean(0)
        xs, vs = (xs[:, sd > 0] - mu[sd > 0]) / sd[sd > 0], (vs[:, sd > 0] - mu[sd > 0]) / sd[sd > 0]
        _, dt = _nearest(xs, xs, True)
        iv, dv = _nearest(vs, xs, False)
        base = float(median(dt))
        if not base > 0:
            return {}
        return {"val_nn_dist_ratio": round(float(median(dv)) / base, 4),
                "val_nn_agree": round(float((ys[iv] == vys).mean()), 4),
                "val_nn_rows": float(len(vs))}  # fmt: skip
    except Exception:  # noqa: BLE001 - a fact not known
        return {}


def val_nn_flags_of(data: Any, val_data: Any) -> dict[str, float]:
    """:func:`val_nn_flags` of two ``(inputs, targets)`` tuples; empty when either has no targets."""
    from traindx.adapters._common.splits import targets_of

    ya, yb = targets_of(data), targets_of(val_data)
    return {} if ya is None or yb is None else val_nn_flags(data[0], ya, val_data[0], yb)
