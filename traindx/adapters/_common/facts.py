"""Context facts every adapter records the same way: metric values, input moments, init scales, loss shapes, class counts, targets."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from traindx.adapters._common.targets import ids_per_position
from traindx.arrays import unique


def to_float(v: Any) -> float:
    """A value as a Python float; an integer beyond float's range becomes +-inf."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def metric_values(metrics: dict[str, Any], convert: Any, notes: list[str]) -> dict[str, float]:
    """``log(name=value...)`` as canonical tags and floats (``convert`` reduces a framework
    array to a number). A value that is not a number is skipped with a note in ``notes``,
    never an error: the adapter does not turn itself off for a value."""
    from traindx.names import map_name

    out: dict[str, float] = {}
    for name, v in metrics.items():
        key = map_name(name)
        try:
            try:
                x = convert(v)
            except OverflowError:  # a huge Python int: its sign is enough
                x = v
            out[str(key) if key is not None else name] = to_float(x)
        except (TypeError, ValueError):
            note = f"a logged value of {name!r} is not a number ({type(v).__name__}); skipped"
            if note not in notes:
                notes.append(note)
    return out


# --------------------------------------------------------------------------- moments


class Moments:
    """Running count, mean, variance, min and max merged from per-batch summaries (Chan et al.)."""

    def __init__(self) -> None:
        self.n = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def merge(self, n: float, mean: float, std: float, lo: float, hi: float) -> None:
        if not n or not all(math.isfinite(v) for v in (mean, std, lo, hi)):
            return
        tot = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / tot
        self.m2 += std * std * n + delta * delta * self.n * n / tot
        self.n = tot
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else math.nan


# --------------------------------------------------------------------------- init scale


ZERO_SCALE = 0.01  # an init scale below this: zero or constant weights


def init_scale_flags(scales: list[tuple[str, float]]) -> dict[str, float | str]:
    """``init_scale_min``, ``init_scale_max`` and ``init_scale_layer`` (the layer furthest
    from 1 in log terms; 0 counts as the most extreme) of per-layer initialization scales
    ``std(w) * sqrt(fan_in)`` (about 0.3-1.5 for the usual inits), and ``init_zero_frac``,
    the share of them that start zero or constant. Non-finite scales are left out; no
    scales, no flags."""
    vals = [(n, float(s)) for n, s in scales if math.isfinite(s)]
    if not vals:
        return {}
    worst = max(vals, key=lambda v: math.inf if v[1] <= 0.0 else abs(math.log(v[1])))
    return {
        "init_scale_min": min(s for _, s in vals),
        "init_scale_max": max(s for _, s in vals),
        "init_scale_layer": worst[0],
        # zero-initialized branches (ReZero, adaLN-zero) are a few of many; all-zero is a bug
        "init_zero_frac": sum(s < ZERO_SCALE for _, s in vals) / len(vals),
    }


# --------------------------------------------------------------------------- dropout


#: attributes that hold a drop probability: on a dropout layer (torch ``p``, Keras/flax
#: ``rate``, equinox ``p``), and on layers with dropout built in (torch RNN/LSTM/GRU and Keras
#: RNN ``dropout``, Keras ``recurrent_dropout``, attention layers' ``dropout``)
_DROPOUT_OWN = ("p", "rate")
_DROPOUT_BUILT_IN = ("dropout", "recurrent_dropout")


def dropout_max(modules: Any) -> float:
    """The largest drop probability among ``modules`` (layer objects of any framework): a
    dropout layer's rate (the class name says Dropout: torch ``nn.Dropout*``, Keras
    ``Dropout``/``SpatialDropout*``/``AlphaDropout``/``GaussianDropout``, flax and equinox
    ``Dropout``) or the dropout a recurrent or attention layer applies itself. 0.0 when none is
    found (dropout called as a function, ``F.dropout(x, 0.5)``, is not seen). Only plain numbers
    in [0, 1] count: an attribute that holds a module (a transformer layer's ``dropout``
    submodule) is a module of the list itself."""
    best = 0.0
    for m in modules:
        attrs = _DROPOUT_OWN if "Dropout" in type(m).__name__ else _DROPOUT_BUILT_IN
        for a in attrs:
            try:
                v = getattr(m, a, None)
            except Exception:  # noqa: BLE001 - a property that fails: no fact from it
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if math.isfinite(v) and 0.0 <= v <= 1.0:
                best = max(best, float(v))
    return best


# --------------------------------------------------------------------------- loss shapes


def note_broadcast(context: Any, a: tuple[int, ...], b: tuple[int, ...], broadcasts: bool) -> None:
    """Set the ``broadcast_in_loss`` flag (and a note) from the prediction and target shapes
    an element-wise loss was called with; ``broadcasts``: the framework's broadcast rule
    accepts the two shapes."""
    flags = context.flags
    if tuple(a) != tuple(b) and broadcasts:
        flags["broadcast_in_loss"] = True
        note = f"element-wise loss called with shapes {list(a)} and {list(b)} (broadcast)"
        if note not in context.notes:
            context.notes.append(note)
    flags.setdefault("broadcast_in_loss", False)


MAX_CLASSES = 100_000  # targets are counted as class ids only below this (bounded memory)


def class_limit(num_classes: int | None, width: int | None) -> int:
    """Targets are counted as class ids only while every id is below this: the number of
    classes given, else the model's output width (one output: 0/1 labels), at most
    :data:`MAX_CLASSES` (integer targets with large values are not class ids: counting
    labels up to 2e8 with ``bincount`` took 25 s, 5.8 GB and a 1.2 GB context.json)."""
    if num_classes:
        return min(int(num_classes), MAX_CLASSES)
    if width is not None and width >= 2:
        return min(int(width), MAX_CLASSES)
    if width == 1:
        return 2
    return MAX_CLASSES


def count_ids(y: np.ndarray, limit: int = MAX_CLASSES) -> np.ndarray | None:
    """Per-class counts of integer (or bool) targets, negative ids (ignore_index) left out;
    None when an id reaches ``limit`` (not class ids) or the targets are not integers."""
    a = np.asarray(y).reshape(-1)
    if a.dtype.kind not in "biu":
        return None
    a = a.astype(np.int64)
    a = a[a >= 0]
    if not a.size:
        return np.zeros(0, dtype=np.int64)
    if int(a.max()) >= limit:
        return None
    return np.bincount(a)


def add_counts(total: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-class counts ``total + counts`` where either may be the longer (in place when
    ``total`` is)."""
    if counts.size > total.size:
        counts[: total.size] += total
        return counts
    total[: counts.size] += counts
    return total


# --------------------------------------------------------------------------- targets

TARGET_SAMPLE = 4096  # target values examined per batch (and distinct values kept)
INIT_MIN_SIZE = 8  # weights with fewer entries have no meaningful init scale


class TargetFacts:
    """Whether every (finite) target value seen is integer-valued, how many distinct
    values there are and their range (``target_integer``, ``target_distinct``,
    ``target_min``, ``target_max``), from 1-D or (N, 1) targets on the host; other shapes
    give no flags."""

    def __init__(self) -> None:
        self.integer = True
        self.values: set[float] = set()
        self.batches = 0
        self.shaped = True  # every batch seen was 1-D or (N, 1)
        self.lo, self.hi = math.inf, -math.inf  # smallest, largest finite value seen

    @staticmethod
    def sample(shape: tuple[int, ...]) -> bool:
        """Whether targets of this shape are one value per example (1-D or (N, 1))."""
        return len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)

    def reject(self) -> None:
        """A batch of targets that is not one value per example: no flags."""
        self.batches += 1
        self.shaped = False

    def add(self, y: np.ndarray, limit: int | None = TARGET_SAMPLE) -> None:
        y = np.asarray(y)
        if (
            not self.sample(y.shape)
            or not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_)
            or np.iscomplexobj(y)
        ):
            self.reject()
            return
        self.batches += 1
        v = y.reshape(-1)[:limit].astype(np.float64)
        if not v.size:
            return
        v = v[np.isfinite(v)]  # non-finite targets are another fault (input_nonfinite)
        if v.size:
            self.lo, self.hi = min(self.lo, float(v.min())), max(self.hi, float(v.max()))
        if self.integer:
            self.integer = bool(np.all(v == np.round(v)))
        if len(self.values) < TARGET_SAMPLE:
            self.values.update(unique(v).tolist())

    @property
    def binary(self) -> bool:
        """Every value seen is 0 or 1."""
        return bool(self.values) and self.values <= {0.0, 1.0}

    def flags(self) -> dict[str, float | bool]:
        if not self.shaped or not self.values:
            return {}
        return {"target_integer": self.integer, "target_distinct": float(len(self.values)),
                "target_kind": "integer" if self.integer else "continuous",
                "target_min": self.lo, "target_max": self.hi}  # fmt: skip


def row_target_facts(a: np.ndarray) -> dict[str, float | bool | str]:
    """What (N, C) targets with C > 1 are, for a loss that reads them (issue 10: a categorical
    cross-entropy given reconstruction targets whose rows sum to ~20): ``target_kind`` -
    ``onehot`` (0/1, one 1 a row), ``onehot_empty_rows`` (0/1, some rows all 0, none with two
    1s), ``multihot`` (0/1, some row with two or more 1s), ``distribution`` (values in [0, 1],
    rows summing to 1 within 0.01: soft or smoothed labels) or ``continuous`` (anything else);
    ``target_onehot``; ``target_row_sum`` (the mean row sum); ``target_min`` / ``target_max``
    over the finite values. Facts only: which loss fits them is the rulebook's call."""
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[1] < 2 or a.size == 0 or a.dtype.kind not in "fiub":
        return {}
    v = a.astype(np.float64, copy=False)
    fin = np.isfinite(v).all(axis=1)
    v = v[fin]
    if not v.size:
        return {}
    sums = v.sum(axis=1)
    binary = bool(np.all((v == 0.0) | (v == 1.0)))
    if binary and np.all(sums == 1.0):
        kind = "onehot"
    elif binary:
        kind = "multihot" if sums.max() >= 2.0 else "onehot_empty_rows"
    elif v.min() >= 0.0 and v.max() <= 1.0 and np.all(np.abs(sums - 1.0) <= 0.01):
        kind = "distribution"
    else:
        kind = "continuous"
    return {"target_onehot": kind == "onehot", "target_kind": kind, "target_row_sum": float(sums.mean()),
            "target_min": float(v.min()), "target_max": float(v.max())}  # fmt: skip


class RowTargets:
    """:func:`row_target_facts` over several batches (the torch Monitor's first ones): the
    kind furthest from a class distribution any batch showed, the mean row sum over all rows
    seen, the range over all values."""

    ORDER = ("onehot", "distribution", "onehot_empty_rows", "multihot", "continuous")

    def __init__(self) -> None:
        self.kind: str | None = None
        self.rows, self.total = 0, 0.0
        self.lo, self.hi = math.inf, -math.inf

    def add(self, a: np.ndarray, limit: int = TARGET_SAMPLE, out_ndim: int | None = None) -> None:
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[1] < 2 or ids_per_position(a, out_ndim):
            return
        a = a[: max(limit // a.shape[1], 1)]
        f = row_target_facts(a)
        if not f:
            return
        kind = str(f["target_kind"])
        if self.kind is None or self.ORDER.index(kind) > self.ORDER.index(self.kind):
            self.kind = kind
        n = int(np.isfinite(a.astype(np.float64, copy=False)).all(axis=1).sum())
        self.rows += n
        self.total += float(f["target_row_sum"]) * n
        self.lo, self.hi = min(self.lo, float(f["target_min"])), max(self.hi, float(f["target_max"]))

    def flags(self) -> dict[str, float | bool | str]:
        if self.kind is None or not self.rows:
            return {}
        return {"target_onehot": self.kind == "onehot", "target_kind": self.kind,
                "target_row_sum": self.total / self.rows, "target_min": self.lo, "target_max": self.hi}  # fmt: skip


_ZERO_GRAD_NOTE = "with an exactly zero gradient while"


class GradReach:
    """Which parameters ever received a gradient, over the steps an adapter looked at
    (telemetry and coverage samples from step 2 on), and what the parameters that never did
    are. A parameter used only on some steps (a mixture-of-experts expert, a branch taken
    every other batch, a part frozen later in the run) had one on some step and is not
    counted; a whole module whose parameters never get one is cut off (a ``.detach()``, a
    ``no_grad`` block, ``stop_gradient``, a layer left out of the forward). A parameter
    whose gradient is exactly zero, reached (a tensor, not None) while its module's other
    parameters get gradient, is one the loss does not depend on: a bias before a difference
    of two passes of the same network (siamese), or before a normalization. It is reported
    apart (a note), not as a parameter without gradient."""

    def __init__(self, module_of: list[int], names: list[str]) -> None:
        self.module_of = np.asarray(module_of, dtype=np.int64)
        self.names = names  # a name per parameter, for the note
        self.nonzero = np.zeros(len(module_of), dtype=bool)
        self.reached = np.zeros(len(module_of), dtype=bool)
        self.steps = 0

    def add(self, nonzero: Any, reached: Any) -> None:
        """One observed step: per parameter, a non-zero gradient / a gradient tensor at all."""
        self.nonzero |= np.asarray(nonzero, dtype=bool)
        self.reached |= np.asarray(reached, dtype=bool)
        self.steps += 1

    def counts(self) -> tuple[int, list[str]]:
        """(parameters without gradient, names of the reached-but-zero ones in live modules)."""
        never = ~self.nonzero
        if not never.any():
            return 0, []
        live = np.zeros(int(self.module_of.max()) + 1 if self.module_of.size else 0, dtype=bool)
        np.logical_or.at(live, self.module_of, self.nonzero)
        cancelled = never & self.reached & live[self.module_of]
        return int((never & ~cancelled).sum()), [self.names[i] for i in np.flatnonzero(cancelled)]

    def fold(self, ctx: Any) -> None:
        """``flags.params_without_grad`` and the note on parameters the loss ignores."""
        if not self.steps:
            return
        n, cancelled = self.counts()
        ctx.flags["params_without_grad"] = float(n)
        if cancelled:
            note = (f"{len(cancelled)} parameter(s) reached by the backward pass {_ZERO_GRAD_NOTE} "
                    f"their module's other parameters get one (the loss does not depend on them): {', '.join(cancelled[:4])}")  # fmt: skip
            ctx.notes[:] = [x for x in ctx.notes if _ZERO_GRAD_NOTE not in x] + [note]


def fold_reach(owner: Any, ctx: Any, sq: Any, group_of: list[int], group_names: list[str]) -> None:
    """One observed step of per-variable squared gradient norms ``sq`` (negative: no gradient,
    None) into ``owner._reach`` (a :class:`GradReach`, made on first use; variables outside
    any group are each their own) and its facts into ``ctx``."""
    sq = np.asarray(sq, dtype=np.float64)
    r = getattr(owner, "_reach", None)
    if r is None or len(r.module_of) != sq.size:
        base = max(group_of, default=-1) + 1
        seg = [g if g >= 0 else base + i for i, g in enumerate(group_of)]
        names = [f"{group_names[g] if 0 <= g < len(group_names) else 'variable'}[{i}]" for i, g in enumerate(group_of)]
        r = owner._reach = GradReach(seg, names)
    present = sq >= 0
    r.add(present & (sq != 0), present)
    r.fold(ctx)


def narrowed(widths: list[int | None]) -> bool:
    """Whether a stack with these widths (its input, then each layer's output) passes through
    a layer narrower than both its ends: a deliberate low-rank map (an autoencoder's linear
    bottleneck, a factorized layer), not depth wasted. Unknown widths: not narrowed."""
    if len(widths) < 3 or any(w is None for w in widths):
        return False
    inner = min(w for w in widths[1:-1] if w is not None)
    return inner < min(widths[0] or 0, widths[-1] or 0)


def full_rank_depth(widths: list[int | None]) -> int:
    """The most layers of a linear stack (its input width, then each layer's output width)
    ending at its last layer that do not narrow below both their ends (:func:`narrowed`)."""
    return max((len(widths) - 1 - i for i in range(len(widths) - 1) if not narrowed(widths[i:])), default=0)
