"""Framework-independent pieces of the live adapters.

Loss tables (what a loss expects and which task it implies), running input moments, the
run writer (event files of canonical tags + ``context.json``), the one-shot warning an
adapter gives when it turns itself off, and reading a run directory back for ``diagnose``.
Nothing here imports a deep-learning framework.
"""

from __future__ import annotations

import math
import os
import struct
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from traindx.schema import RunContext

WARN_PREFIX = "traindx:"


class TrainingDiverged(RuntimeError):
    """Raised by an adapter's ``step`` with ``on_fatal="stop"`` when the loss is non-finite.

    ``.diagnosis`` holds the :class:`~traindx.diagnosis.Diagnosis` of the run so far (or
    ``None`` if it could not be computed).
    """

    def __init__(self, message: str, diagnosis: Any = None):
        super().__init__(message)
        self.diagnosis = diagnosis


_FATAL_WHAT = {
    "loss": "training loss is {v}",
    "weights": "weights are non-finite (global weight norm {v}) while the training loss is finite",
    "grads": "gradients are non-finite (global gradient norm {v}) while the training loss is finite",
}


def fatal_message(kind: str, value: float) -> str:
    """What an adapter says of a non-finite ``"loss"``, ``"weights"`` or ``"grads"``: the
    loss first (checked first); weights or gradients turning non-finite while the loss
    stays finite are fatal just the same (oneDNN's ReLU maps NaN to 0 on AVX-512 CPUs,
    so a NaN input can make every weight NaN and leave the loss at a plateau)."""
    return _FATAL_WHAT[kind].format(v=value)


def warn(message: str, stacklevel: int = 3) -> None:
    """A ``RuntimeWarning`` whose message starts with ``traindx:``."""
    if not message.startswith(WARN_PREFIX):
        message = f"{WARN_PREFIX} {message}"
    warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)


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


# --------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class LossKind:
    """What a loss takes: ``expects`` (LossInfo.expects), the task it implies, and whether
    it compares prediction and target element by element (so shapes must match)."""

    expects: str | None
    task: str | None
    from_logits: bool | None
    elementwise: bool

#: Canonical (lower-case class) loss names.
LOSS_KINDS: dict[str, LossKind] = {
    "crossentropyloss": LossKind("logits", "classification", True, False),
    "nllloss": LossKind(None, "classification", None, False),
    "bcewithlogitsloss": LossKind("logits", "binary", True, True),
    "bceloss": LossKind("probabilities", "binary", False, True),
    "mseloss": LossKind("values", "regression", None, True),
    "l1loss": LossKind("values", "regression", None, True),
    "huberloss": LossKind("values", "regression", None, True),
    "smoothl1loss": LossKind("values", "regression", None, True),
    "multilabelsoftmarginloss": LossKind("logits", "binary", True, True),
    "kldivloss": LossKind(None, None, None, True),
}

#: Functional spellings (``torch.nn.functional``) of the losses above.
FUNCTIONAL_LOSSES: dict[str, str] = {
    "cross_entropy": "crossentropyloss",
    "nll_loss": "nllloss",
    "binary_cross_entropy_with_logits": "bcewithlogitsloss",
    "binary_cross_entropy": "bceloss",
    "mse_loss": "mseloss",
    "l1_loss": "l1loss",
    "huber_loss": "huberloss",
    "smooth_l1_loss": "smoothl1loss",
    "multilabel_soft_margin_loss": "multilabelsoftmarginloss",
    "kl_div": "kldivloss",
}


def loss_name(obj: Any) -> str | None:
    """Canonical name of a loss object or function (``CrossEntropyLoss`` -> ``crossentropyloss``)."""
    if obj is None:
        return None
    name = getattr(obj, "__name__", None) or type(obj).__name__
    name = name.lower()
    return FUNCTIONAL_LOSSES.get(name, name)


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


# --------------------------------------------------------------------------- closing


class SelfDisabling:
    """How an adapter turns itself off after an internal error: one warning naming where,
    ``_release`` (drop hooks, buffers, references), what was written so far flushed, and
    training goes on. The adapter names itself in ``_kind`` ("torch monitor")."""

    _kind: str = "adapter"
    _disabled: bool
    _off: bool
    _writer: Any

    @property
    def enabled(self) -> bool:
        """False once the adapter turned itself off (an internal error, or closed)."""
        return not self._off

    def _release(self) -> None:
        """Drop hooks, buffers and references (nothing by default)."""

    def _warn_once(self, message: str) -> None:
        """A warning about a later failure (diagnosing, writing the diagnosis), unless the
        adapter already turned itself off with its one warning (the same fault, met again)."""
        if not self._disabled:
            warn(message, stacklevel=4)

    def _fail(self, exc: BaseException, where: str) -> None:
        first = not self._disabled
        self._disabled = self._off = True
        try:
            self._release()
            if self._writer is not None:
                self._writer.flush()
        except Exception:  # noqa: BLE001, S110
            pass
        if first:
            warn(
                f"traindx: the {self._kind} turned itself off after an internal error in {where} "
                f"({type(exc).__name__}: {exc}); training is not affected",
                stacklevel=4,
            )


class Closing(SelfDisabling):
    """``close()`` and the context-manager protocol of an adapter that owns a RunWriter
    (the torch Monitor, the JAX Recorder). The adapter supplies ``_final_flush`` (write
    what is still buffered) and ``_release``."""

    _closed: bool

    def _final_flush(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Write everything still buffered and release the model; also on ``__exit__`` and
        at interpreter exit. An error here is reported once, never raised."""
        if self._closed:
            return
        try:
            if not self._off and self._writer is not None:
                self._final_flush()
        except Exception as e:  # noqa: BLE001
            self._fail(e, "close")
        finally:
            self._closed = self._off = True
            self._release()
            if self._writer is not None:
                try:
                    self._writer.close()
                except Exception:  # noqa: BLE001, S110
                    pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


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
    """Whether every (finite) target value seen is integer-valued and how many distinct
    values there are (``target_integer``, ``target_distinct``), from 1-D or (N, 1) targets
    on the host; other shapes give no flags."""

    def __init__(self) -> None:
        self.integer = True
        self.values: set[float] = set()
        self.batches = 0
        self.shaped = True  # every batch seen was 1-D or (N, 1)

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
        if self.integer:
            self.integer = bool(np.all(v == np.round(v)))
        if len(self.values) < TARGET_SAMPLE:
            self.values.update(np.unique(v).tolist())

    @property
    def binary(self) -> bool:
        """Every value seen is 0 or 1."""
        return bool(self.values) and self.values <= {0.0, 1.0}

    def flags(self) -> dict[str, float | bool]:
        if not self.shaped or not self.values:
            return {}
        return {"target_integer": self.integer, "target_distinct": float(len(self.values))}


# --------------------------------------------------------------------------- cadence


class Cadence:
    """Which steps are telemetry steps, and how often the per-step gradient norm is taken.

    With ``every=None`` it adapts so the adapter's own time stays under ``budget`` of the
    step time. At each telemetry step (once ``lo`` steps have passed since the last
    decision) it measures the step time as the median interval between steps (evaluation
    pauses or other work between steps do not count), the *floor* as the mean own time of
    the other steps (loss, learning rate, buffering, amortized flushes) plus the median time
    of the global gradient norm, and the *extra* (the telemetry step and its hooks) as the
    rest of its own time since the last decision. Then:

    * the gradient norm is taken every ``grad_stride`` steps, 1 unless it alone would push
      the floor over 3/4 of the budget (tiny models with steps of a few ms): then the
      smallest power of 2 (at most 16) that fits;
    * ``every`` becomes the smallest ``lo * 2**k`` that keeps floor + extra / every within
      the budget (at least a quarter of the budget is left for the extra).

    A fixed ``every`` is kept as given (and the gradient norm taken every step).
    """

    def __init__(self, every: int | None, budget: float = 0.02, lo: int = 10, hi: int = 10_000,
                 max_stride: int = 16):  # fmt: skip
        self.every = every or lo
        self.adaptive = every is None
        self.budget, self.lo, self.hi, self.max_stride = budget, lo, hi, max_stride
        self.next = 0
        self.grad_stride = 1
        self.overhead: float | None = None  # last measured own time / step time
        self._own0 = 0.0
        self._last_t: float | None = None
        self._intervals: list[float] = []
        self._other: list[float] = []  # own time per step, without the gradient norm
        self._grad: list[float] = []  # time of the gradient norm, on steps that took it

    def record(self, t0: float, own: float, grad_time: float = 0.0) -> None:
        """Called at the end of every step: its start time, the adapter's time in it, and the
        part of that spent on the gradient norm (0 when it was not taken)."""
        if self._last_t is not None:
            self._intervals.append(t0 - self._last_t)
        self._last_t = t0
        self._other.append(own - grad_time)
        if grad_time:
            self._grad.append(grad_time)

    def advance(self, step: int, own: float) -> None:
        """Called on a telemetry step with the adapter's total own time so far."""
        iv, other, grad = self._intervals, self._other, self._grad
        if self.adaptive and len(other) >= self.lo and iv:
            # The first step recorded since the last decision was that telemetry step; the
            # mean over the others includes the amortized flushes.
            n = len(other)
            rest = sum(other[1:]) / (n - 1)
            interval = _median(iv)
            gsum = sum(grad)
            gtime = _median(grad) if grad else 0.0
            total = own - self._own0
            if interval > 0:
                self.overhead = total / (n * interval)
                allowed = self.budget * interval  # own seconds allowed per step
                stride, fit = 1, max(0.75 * allowed - rest, 0.0)
                while stride < self.max_stride and gtime / stride > fit:
                    stride *= 2
                self.grad_stride = stride
                floor = rest + gtime / stride
                extra = max(total - n * rest - gsum, 0.0)
                room = max(allowed - floor, allowed / 4)
                every = self.lo
                while every < self.hi and extra / every > room:
                    every *= 2
                self.every = min(every, self.hi)
            self._reset(own)
        elif step == 0 or len(other) > 4 * self.hi:
            self._reset(own)
        self.next = step + self.every

    def _reset(self, own: float) -> None:
        self._intervals.clear()
        self._other.clear()
        self._grad.clear()
        self._own0 = own


def _median(v: list[float]) -> float:
    v.sort()
    return v[len(v) // 2]


# --------------------------------------------------------------------------- writing

_F32 = struct.Struct("<f").pack
_F64 = struct.Struct("<d").pack
F32_MAX = float(np.finfo(np.float32).max)


def _varint(v: int) -> bytes:
    if 0 <= v < 0x80:
        return bytes((v,))
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _value_prefix(tag: str) -> bytes:
    """Summary.value{tag, simple_value=} up to the 4 float bytes (constant per tag)."""
    t = tag.encode()
    inner_len = 1 + len(_varint(len(t))) + len(t) + 1 + 4
    return b"\x0a" + _varint(inner_len) + b"\x0a" + _varint(len(t)) + t + b"\x15"


_PREFIXES: dict[str, bytes] = {}


def _prefix(tag: str) -> bytes:
    if len(_PREFIXES) > 100_000:
        _PREFIXES.clear()
    p = _PREFIXES[tag] = _value_prefix(tag)
    return p


def encode_scalars(wall_time: float, step: int, values: dict[str, float]) -> bytes:
    """``Event{wall_time, step, summary{value{tag, simple_value}...}}`` bytes (proto3: step 0
    is not written), the same bytes as the event-file writer's ``add_scalars``."""
    pre = _PREFIXES
    summary = b"".join([(pre.get(k) or _prefix(k)) + _F32(v) for k, v in values.items()])
    head = b"\x09" + _F64(wall_time) + (b"\x10" + _varint(step) if step else b"")
    return head + b"\x2a" + _varint(len(summary)) + summary


def encode_rows(
    steps: list[int], walls: list[float], tags: tuple[str, ...], values: np.ndarray
) -> list[bytes]:
    """:func:`encode_scalars` for many steps with the same tags (``values``: steps x tags),
    the summaries built in one numpy pass from a template."""
    n, k = values.shape
    slots = [_PREFIXES.get(t) or _prefix(t) for t in tags]
    template = np.frombuffer(b"".join(p + b"\0\0\0\0" for p in slots), dtype=np.uint8)
    width = template.size
    mat = np.tile(template, (n, 1))
    fbytes = np.ascontiguousarray(values, dtype="<f4").view(np.uint8).reshape(n, k, 4)
    off = 0
    for j, p in enumerate(slots):
        off += len(p)
        mat[:, off : off + 4] = fbytes[:, j]
        off += 4
    rows = mat.tobytes()
    tail = b"\x2a" + _varint(width)
    return [
        b"\x09"
        + _F64(w)
        + (b"\x10" + _varint(s) if s else b"")
        + tail
        + rows[i * width : (i + 1) * width]
        for i, (s, w) in enumerate(zip(steps, walls, strict=True))
    ]


def default_logdir(run_name: str | None) -> Path:
    """``runs/<run_name>`` or ``runs/<date-time>`` (TensorBoard's convention)."""
    return Path("runs") / (run_name or time.strftime("%Y%m%d-%H%M%S"))


class RunWriter:
    """Event file of canonical tags plus ``context.json`` in one run directory.

    Points are handed over in batches (:meth:`add`); :meth:`maybe_flush` writes the file to
    disk and ``context.json`` (atomically, when its JSON changed) once ``flush_secs`` have
    passed.
    """

    def __init__(self, logdir: str | os.PathLike[str], flush_secs: float = 5.0):
        from traindx.writers.tfevents import EventFileWriter

        self.logdir = Path(logdir)
        self.events = EventFileWriter(self.logdir)
        # Pre-encoded events go to the writer's buffer directly (add_scalars re-encodes
        # every tag each step); any writer without that entry point gets add_scalars.
        self._append = getattr(self.events, "_append", None)
        self.flush_secs = float(flush_secs)
        self._last_flush = time.monotonic()
        self._context_json: str | None = None
        self.overflowed: set[str] = set()  # tags with values above float32's range, written as inf

    def _overflow(self, tags: Any) -> None:
        self.overflowed.update(tags)
        if len(self.overflowed) > 1000:  # bounded (the note names a few)
            self.overflowed = set(sorted(self.overflowed)[:1000])

    def add(self, step: int, values: dict[str, float], wall_time: float | None = None) -> None:
        if not values:
            return
        # Event files hold float32: a finite value beyond its range is written as +-inf (and
        # named in a note of context.json), never an error or a numpy overflow warning.
        big = [k for k, v in values.items() if F32_MAX < abs(v) < math.inf]
        if big:
            values = {k: (math.copysign(math.inf, v) if k in big else v) for k, v in values.items()}
            self._overflow(big)
        wt = time.time() if wall_time is None else wall_time
        if self._append is not None:
            self._append(encode_scalars(wt, step, values))
        else:
            self.events.add_scalars(values, step, wall_time=wt)

    def add_rows(
        self, steps: list[int], walls: list[float], tags: tuple[str, ...], values: np.ndarray
    ) -> None:
        """Many steps of the same tags, in step order (``values``: steps x tags)."""
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            big = np.abs(values) > F32_MAX
        big &= np.isfinite(values)
        if big.any():
            values = np.where(big, np.copysign(np.inf, values), values)
            self._overflow(t for t, b in zip(tags, big.any(axis=0).tolist(), strict=True) if b)
        if self._append is None or len(steps) < 4:  # short runs: per-step encoding is cheaper
            for i, s in enumerate(steps):
                self.add(s, dict(zip(tags, values[i].tolist(), strict=True)), walls[i])
            return
        for payload in encode_rows(steps, walls, tags, values):
            self._append(payload)

    def write_context(self, ctx: RunContext) -> None:
        if self.overflowed:
            names = sorted(self.overflowed)
            note = (f"values above float32's maximum (3.4e38) recorded as inf (event files store float32): "
                    f"{', '.join(names[:10])}{f' and {len(names) - 10} more' if len(names) > 10 else ''}")  # fmt: skip
            ctx.notes[:] = [n for n in ctx.notes if not n.startswith("values above float32's maximum")]
            ctx.notes.append(note)
        text = ctx.model_dump_json(indent=1)
        if text == self._context_json:
            return
        tmp = self.logdir / ".context.json.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.logdir / "context.json")
        self._context_json = text

    def due(self) -> bool:
        return time.monotonic() - self._last_flush >= self.flush_secs

    def flush(self) -> None:
        self.events.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self.events.close()


def read_run(logdir: str | os.PathLike[str]):
    """The run written in ``logdir`` (not the runs of its sub-directories)."""
    from traindx.api import read

    root = Path(logdir).resolve()
    runs = read(root)
    for r in runs:
        if Path(r.source).resolve() == root:
            return r
    return runs[0]
