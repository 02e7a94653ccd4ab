"""JAX helpers of :mod:`traindx.adapters.jax`: layer grouping, the fused telemetry, and the
static context read from a parameter tree and an optax transformation.

:func:`telemetry` is a pure function of the arrays it is given. It returns a :class:`Stats`:
one 1-D float32 vector of every statistic (a single device buffer per step) plus the tags
naming its entries and a few static facts (shapes, dtypes), both kept in the pytree's
auxiliary data, so ``jax.jit`` returns them without tracing them. Tags starting with ``_``
are raw inputs of host-side decisions (output activation, activation kind, class counts);
the :class:`~traindx.adapters.jax.Recorder` turns them into canonical series.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
import types
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import tree_util as jtu

from traindx.adapters._common import (
    FUNCTIONAL_LOSSES,
    INIT_MIN_SIZE,
    LOSS_KINDS,
    TARGET_SAMPLE,
    TargetFacts,
    count_ids,
)
from traindx.schema import DataInfo, LayerInfo, LossInfo, ModelInfo, OptimizerInfo

MAX_COUNTED_CLASSES = 1024  # class counts are kept for at most this many classes
_DIGITS = re.compile(r"(\d+)")
_ROOT_LEAF = re.compile(r"[A-Za-z_]*?_?(\d+)")
_F32 = jnp.float32
#: Set while :func:`traindx.adapters.jax.telemetry_jit` traces a step: ``"full"`` (every
#: statistic) or ``"light"`` (loss, learning rate and non-finite inputs only).
MODE: contextvars.ContextVar[str | None] = contextvars.ContextVar("traindx_telemetry_mode", default=None)


# --------------------------------------------------------------------------- Stats


@jtu.register_pytree_node_class
class Stats:
    """What :func:`telemetry` returns: ``values`` (a float32 vector, the only traced part),
    ``tags`` (one per entry) and ``meta`` (static facts: shapes, dtypes), both static.

    Under ``vmap``/``pmap`` ``values`` gains leading axes; the Recorder keeps the first
    replica. :meth:`as_dict` gives the values by tag on the host (it waits for the device).
    """

    __slots__ = ("values", "tags", "meta")

    def __init__(self, values: Any, tags: tuple[str, ...], meta: tuple[tuple[str, Any], ...] = ()):
        self.values = values
        self.tags = tags
        self.meta = meta

    def tree_flatten(self) -> tuple[tuple[Any], tuple[Any, Any]]:
        return (self.values,), (self.tags, self.meta)

    @classmethod
    def tree_unflatten(cls, aux: tuple[Any, Any], children: tuple[Any]) -> Stats:
        return cls(children[0], *aux)

    def as_dict(self) -> dict[str, float]:
        v = np.asarray(jax.device_get(self.values), dtype=np.float64)
        v = v.reshape(-1, v.shape[-1])[0] if v.ndim > 1 else v
        return dict(zip(self.tags, v.tolist(), strict=True))

    def __repr__(self) -> str:
        return f"Stats({len(self.tags)} entries: {', '.join(self.tags[:4])}{', ...' if len(self.tags) > 4 else ''})"


# --------------------------------------------------------------------------- layers


def key_str(k: Any) -> str:
    """One pytree key as text: dict key, attribute name or sequence index."""
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k).strip("[].'\"")


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text))


def path_parts(path: tuple[Any, ...]) -> list[str]:
    if len(path) > 1 and isinstance(path[-1], jtu.GetAttrKey) and path[-1].name in ("value", "raw_value"):
        path = path[:-1]  # a flax nnx Variable's array: the variable's path names it
    parts = [key_str(k) for k in path]
    if len(parts) > 1 and parts[0] == "params":  # flax variables {'params': {...}}
        parts = parts[1:]
    return parts


def layer_of(parts: list[str]) -> str:
    """The layer a leaf belongs to: its parent path (``Dense_0/kernel`` -> ``Dense_0``);
    root-level leaves named like ``w1``/``b1`` share the layer ``1``."""
    if len(parts) > 1:
        return ".".join(parts[:-1])
    name = parts[0] if parts else "root"
    m = _ROOT_LEAF.fullmatch(name)
    return m.group(1) if m else name


@lru_cache(maxsize=256)
def _grouping(treedef: Any, paths: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    layers = [layer_of(list(p)) for p in paths]
    names = sorted(set(layers), key=lambda n: _natural(n))
    index = {n: i for i, n in enumerate(names)}
    return tuple(names), tuple(index[n] for n in layers)


def is_array(x: Any) -> bool:
    """A numeric (or bool) array leaf; an equinox module's functions, PRNG keys and other
    leaves of a model pytree are not statistics."""
    dt = getattr(x, "dtype", None)
    if dt is None or not hasattr(x, "shape"):
        return False
    try:
        return bool(jnp.issubdtype(dt, jnp.number) or jnp.issubdtype(dt, jnp.bool_))
    except TypeError:
        return False


def array_leaves(tree: Any) -> list[Any]:
    """The array leaves of a pytree (see :func:`is_array`), in tree order."""
    return [x for x in jtu.tree_leaves(tree) if is_array(x)]


def group_leaves(tree: Any) -> tuple[list[Any], tuple[str, ...], tuple[int, ...], tuple[tuple[str, ...], ...]]:
    """(array leaves, layer names in natural order, layer index of each leaf, leaf paths);
    a flax nnx State or Module and an equinox module work as they are (layers named by
    their attribute paths)."""
    flat, treedef = jtu.tree_flatten_with_path(tree)
    flat = [(p, x) for p, x in flat if is_array(x)]
    paths = tuple(tuple(path_parts(p)) for p, _ in flat)
    names, seg = _grouping(treedef, paths)
    return [x for _, x in flat], names, seg, paths


# --------------------------------------------------------------------------- pieces


def _f32(x: Any) -> jax.Array:
    x = jnp.asarray(x)
    if jnp.iscomplexobj(x):
        x = jnp.abs(x)
    return x if x.dtype == _F32 else x.astype(_F32)


def _sq(x: Any) -> jax.Array:
    x = _f32(x)
    return jnp.sum(x * x)


def leaf_sums(leaves: list[Any], plain: bool = False) -> tuple[jax.Array, jax.Array | None]:
    """Per-leaf sums of squares (and plain sums when ``plain``): one reduction per leaf,
    which XLA fuses with the producers. (Concatenating the leaves into rows reduced by one
    kernel and a 0/1 matmul was measured slower on CPU: the copy costs more than it saves.)"""
    if not leaves:
        z = jnp.zeros((0,), _F32)
        return z, (z if plain else None)
    sq = jnp.stack([_sq(x) for x in leaves])
    return sq, (jnp.stack([jnp.sum(_f32(x)) for x in leaves]) if plain else None)


def _segment(v: jax.Array, seg: tuple[int, ...], n: int) -> jax.Array:
    """Per-layer sums of per-leaf values (static grouping: adds, no scatter)."""
    if tuple(seg) == tuple(range(n)):
        return v
    groups: list[list[int]] = [[] for _ in range(n)]
    for i, j in enumerate(seg):
        groups[j].append(i)
    return jnp.stack([functools.reduce(jnp.add, [v[i] for i in g]) if g else jnp.zeros((), v.dtype) for g in groups])


def activation_names(acts: Any) -> tuple[list[str], list[Any]]:
    """Names and arrays of an activation dict (flat, nested, or flax ``intermediates``)."""
    flat, _ = jtu.tree_flatten_with_path(acts)
    names, arrays = [], []
    for path, a in flat:
        parts = [key_str(k) for k in path]
        parts = [p for p in parts if p not in ("intermediates", "__call__")]
        # flax sow() stores a tuple: drop a trailing index of a one-element tuple
        if len(parts) > 1 and parts[-1].isdigit():
            parts = parts[:-1]
        names.append(".".join(parts) or "root")
        arrays.append(a)
    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # keep names unique
        if n in seen:
            seen[n] += 1
            names[i] = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
    return names, arrays


def _act_stats(a: Any) -> list[jax.Array]:
    """mean, std, frac == 0, frac |a| > 0.99, frac |a - 0.5| > 0.49, min, max."""
    a = _f32(a)
    mean = jnp.mean(a)
    std = jnp.sqrt(jnp.maximum(jnp.mean(a * a) - mean * mean, 0.0))
    return [mean, std, jnp.mean(a == 0), jnp.mean(jnp.abs(a) > 0.99),
            jnp.mean(jnp.abs(a - 0.5) > 0.49), jnp.min(a), jnp.max(a)]  # fmt: skip


def _summary(x: Any) -> list[jax.Array]:
    """mean, std, min, max, non-finite count, size (over finite values where some are not)."""
    xf = _f32(x)
    n = xf.size
    if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating):
        fin = jnp.isfinite(xf)
        nf = jnp.asarray(n, _F32) - jnp.sum(fin, dtype=_F32)
        xz = jnp.where(fin, xf, 0.0)
        cnt = jnp.maximum(n - nf, 1.0)
        mean = jnp.sum(xz) / cnt
        var = jnp.maximum(jnp.sum(xz * xz) / cnt - mean * mean, 0.0)
        lo = jnp.min(jnp.where(fin, xf, jnp.inf))
        hi = jnp.max(jnp.where(fin, xf, -jnp.inf))
    else:
        nf = jnp.zeros((), _F32)
        mean, lo, hi = jnp.mean(xf), jnp.min(xf), jnp.max(xf)
        var = jnp.maximum(jnp.mean(xf * xf) - mean * mean, 0.0)
    return [mean, jnp.sqrt(var), lo, hi, nf, jnp.asarray(n, _F32)]


def _output_stats(o: Any, y: Any, tags: list[str], vals: list[Any], meta: list[tuple[str, Any]]) -> None:
    """Raw output facts (the host decides the output activation from the first of them),
    the largest predicted-class fraction, accuracies, class counts of the labels."""
    o = _f32(o)
    width = int(o.shape[-1]) if o.ndim >= 2 else 1
    meta.append(("out_shape", tuple(int(s) for s in o.shape)))
    tags += ["_out_min", "_out_max", "_out_frac_zero"]
    vals += [jnp.min(o), jnp.max(o), jnp.mean(o == 0)]
    ys = None if y is None else jnp.asarray(y)
    if ys is not None:
        meta += [("label_shape", tuple(int(s) for s in ys.shape)), ("label_dtype", str(ys.dtype))]
    if width >= 2:
        o2 = o.reshape(-1, width)
        rows = jnp.sum(o2, axis=-1)
        cols = jnp.sum(o2, axis=0)
        lse = jax.scipy.special.logsumexp(o2, axis=-1)
        pred = jnp.argmax(o2, axis=-1)
        counts = jnp.zeros((width,), _F32).at[pred].add(1.0)
        tags += ["_out_rowdev", "_out_rowdev_max", "_out_coldev_max", "_out_lse_max", "train/pred_class_frac:max"]
        vals += [jnp.mean(jnp.abs(rows - 1.0)), jnp.max(jnp.abs(rows - 1.0)), jnp.max(jnp.abs(cols - 1.0)),
                 jnp.max(jnp.abs(lse)), jnp.max(counts) / o2.shape[0]]  # fmt: skip
        if ys is not None:
            if not jnp.issubdtype(ys.dtype, jnp.floating) and ys.shape == o.shape[:-1]:
                yf = ys.reshape(-1)
                valid = (yf >= 0) & (yf < width)
                tags.append("_acc")
                vals.append(jnp.sum((pred == yf) & valid, dtype=_F32) / jnp.maximum(jnp.sum(valid, dtype=_F32), 1.0))
                if width <= MAX_COUNTED_CLASSES:
                    tags += [f"_cls{k}" for k in range(width)]
                    vals.append(jnp.zeros((width,), _F32).at[jnp.where(valid, yf, 0)].add(valid.astype(_F32)))
            elif ys.shape == o.shape:  # one-hot or soft targets
                y2 = _f32(ys).reshape(-1, width)
                tags.append("_acc")
                vals.append(jnp.mean(pred == jnp.argmax(y2, axis=-1)))
                if width <= MAX_COUNTED_CLASSES:
                    tags += [f"_cls{k}" for k in range(width)]
                    vals.append(jnp.sum(y2, axis=0))
    elif ys is not None and ys.size == o.size:  # one output per example: binary or regression
        of, yf = o.reshape(-1), _f32(ys).reshape(-1)
        pos = yf > 0.5
        tags += ["_acc_thr0", "_acc_thr05", "_cls0", "_cls1", "_label_binary"]
        vals += [jnp.mean((of > 0.0) == pos), jnp.mean((of > 0.5) == pos),
                 jnp.sum(~pos, dtype=_F32), jnp.sum(pos, dtype=_F32),
                 jnp.all((yf == 0.0) | (yf == 1.0)).astype(_F32)]  # fmt: skip
    meta.append(("out_width", width))


# --------------------------------------------------------------------------- telemetry


def _full(grads: Any, params: Any, updates: Any, activations: Any, logits: Any, labels: Any,
          inputs: Any, g_names: tuple[str, ...], g_seg: tuple[int, ...], with_global: bool = True,
          ) -> tuple[list[str], list[Any], list[tuple[str, Any]]]:  # fmt: skip
    """The statistics of a telemetry step (everything but the per-step entries)."""
    tags: list[str] = []
    vals: list[Any] = []
    meta: list[tuple[str, Any]] = []
    if grads is not None and g_names:
        gl = array_leaves(grads)
        g_sq, _ = leaf_sums(gl)

        def count_nonfinite(leaves: list[Any]) -> jax.Array:
            return functools.reduce(jnp.add, [jnp.sum(~jnp.isfinite(_f32(x)), dtype=_F32) for x in leaves])

        # the exact count only when some gradient is not finite (one pass less otherwise)
        nonfinite = jax.lax.cond(jnp.all(jnp.isfinite(g_sq)), lambda _: jnp.zeros((), _F32), count_nonfinite, gl)
        if with_global:
            tags.append("train/grad_norm")
            vals.append(jnp.sqrt(jnp.sum(g_sq)))
        tags += [f"train/grad_norm@{n}" for n in g_names] + ["train/nonfinite@grads", "_pwg"]
        vals += [jnp.sqrt(_segment(g_sq, g_seg, len(g_names))), nonfinite, jnp.sum(g_sq == 0.0, dtype=_F32)]
    if params is not None:
        pl, names, seg, _ = group_leaves(params)
        p_sq, p_sum = leaf_sums(pl, plain=True)
        w_sq = _segment(p_sq, seg, len(names))
        w_sum = _segment(p_sum, seg, len(names))  # type: ignore[arg-type]
        tags += [f"train/weight_norm@{n}" for n in names] + ["train/weight_norm"] + [f"_wsum@{n}" for n in names]
        vals += [jnp.sqrt(w_sq), jnp.sqrt(jnp.sum(w_sq)), w_sum]
        if updates is not None:
            ul = array_leaves(updates)
            if [jnp.shape(x) for x in ul] == [jnp.shape(x) for x in pl]:
                u_sq = _segment(leaf_sums(ul)[0], seg, len(names))
                tags += [f"train/update_ratio@{n}" for n in names] + ["train/update_ratio"]
                vals += [jnp.sqrt(u_sq) / jnp.maximum(jnp.sqrt(w_sq), 1e-30),
                         jnp.sqrt(jnp.sum(u_sq)) / jnp.maximum(jnp.sqrt(jnp.sum(w_sq)), 1e-30)]  # fmt: skip
    if activations is not None:
        names, arrays = activation_names(activations)
        for n, a in zip(names, arrays, strict=True):
            if not hasattr(a, "shape") or not jnp.issubdtype(jnp.asarray(a).dtype, jnp.inexact) or not jnp.size(a):
                continue
            tags += [f"train/act_mean@{n}", f"train/act_std@{n}", f"_az@{n}", f"_at@{n}", f"_as@{n}",
                     f"_amin@{n}", f"_amax@{n}"]  # fmt: skip
            vals += _act_stats(a)
    nonfinite = []
    if inputs is not None:
        x = first_array(inputs)
        meta += [("input_dtype", str(x.dtype)), ("batch_size", int(x.shape[0]) if x.ndim else 1)]
        if x.size:
            summ = _summary(x)
            tags += ["train/input_mean", "train/input_std", "train/input_min", "train/input_max", "_in_n"]
            vals += summ[:4] + [summ[5]]
            nonfinite.append(summ[4])
    if labels is not None:
        nonfinite.append(_nonfinite(labels))
        _label_facts(labels, tags, vals)
    if nonfinite:
        tags.append("train/nonfinite@inputs")
        vals.append(functools.reduce(jnp.add, nonfinite))
    if logits is not None:
        _output_stats(logits, labels, tags, vals, meta)
    return tags, vals, meta


def _label_facts(labels: Any, tags: list[str], vals: list[Any]) -> None:
    """For 1-D or (N, 1) labels: whether every value (of the first ``TARGET_SAMPLE``) is
    integer-valued, and how many distinct values there are (one sort of the sample)."""
    y = first_array(labels)
    if not TargetFacts.sample(tuple(y.shape)) or not y.size or jnp.iscomplexobj(y):
        return
    if not (jnp.issubdtype(y.dtype, jnp.number) or y.dtype == jnp.bool_):
        return
    v = y.reshape(-1)[:TARGET_SAMPLE]
    if jnp.issubdtype(v.dtype, jnp.inexact):  # non-finite labels are another fault
        integer = jnp.all(~jnp.isfinite(v) | (v == jnp.round(v))).astype(_F32)
    else:
        integer = jnp.ones((), _F32)
    v = jnp.sort(v.astype(jnp.int32) if v.dtype == jnp.bool_ else v)
    distinct = 1.0 + jnp.sum(v[1:] != v[:-1], dtype=_F32)
    tags += ["_lbl_int", "_lbl_distinct"]
    vals += [integer, distinct]


def first_array(x: Any) -> jax.Array:
    return jnp.asarray(x if hasattr(x, "shape") else jtu.tree_leaves(x)[0])


def _nonfinite(x: Any) -> jax.Array:
    """Number of NaN/inf values of an array (0 for integer arrays)."""
    x = first_array(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact) or not x.size:
        return jnp.zeros((), _F32)
    return jnp.sum(~jnp.isfinite(x), dtype=_F32)


def _pack(vals: list[Any]) -> jax.Array:
    if not vals:
        return jnp.zeros((0,), _F32)
    return jnp.concatenate([jnp.reshape(v, (-1,)).astype(_F32) for v in vals])


def _lr_of(opt_state: Any) -> jax.Array | None:
    """The learning rate of the first ``inject_hyperparams`` state found, if any."""
    for node in jtu.tree_leaves(opt_state, is_leaf=lambda n: hasattr(n, "hyperparams")):
        hp = getattr(node, "hyperparams", None)
        if isinstance(hp, Mapping) and "learning_rate" in hp:
            return jnp.asarray(hp["learning_rate"], _F32).reshape(())
    return None


def telemetry(grads: Any = None, params: Any = None, updates: Any = None, loss: Any = None,
              activations: Any = None, logits: Any = None, labels: Any = None, inputs: Any = None,
              *, opt_state: Any = None, step: Any = None, every: int | None = None,
              grad_norm_every_step: bool = False) -> Stats:  # fmt: skip
    """Training statistics as one fused, pure computation; call it inside the jitted step.

    Args:
        grads: gradients (a pytree shaped like ``params``): global and per-layer norms,
            non-finite count, leaves whose gradient is exactly zero.
        params: the parameters the gradients were taken at: per-layer weight norms.
        updates: what the optimizer adds to ``params`` (optax ``updates``): update/weight
            ratios per layer.
        loss: the training loss (its mean if not a scalar).
        activations: a dict (nested dicts allowed, e.g. flax ``capture_intermediates`` or
            ``sow``) of activation arrays: mean, std, fraction zero or saturated.
        logits: the model output; with ``labels`` also accuracy and class counts.
        labels: integer class ids, one-hot or float targets.
        inputs: the input batch: mean, std, min, max, non-finite values.
        opt_state: an optax state: the learning rate of an ``inject_hyperparams`` state in it.
        step, every: with ``step`` (a traced step counter) only the loss and learning rate
            are computed every step; everything else only when ``step % every == 0``
            (``every`` defaults to 10) or the loss is not finite, under ``jax.lax.cond``;
            other steps carry NaN there. Without ``step`` everything is computed each call.
        grad_norm_every_step: with ``step``, also the global gradient norm every step
            (one more pass over the gradients per step).

    Layers are the parents of the leaves' pytree paths (``params/Dense_0/kernel`` and
    ``.../bias`` -> ``Dense_0``), in natural order (``Dense_2`` before ``Dense_10``).
    """
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"every must be a positive int, not {every!r}")
    tags: list[str] = []
    vals: list[Any] = []
    g_names: tuple[str, ...] = ()
    g_seg: tuple[int, ...] = ()
    mode = MODE.get()
    if loss is not None:
        tags.append("train/loss")
        vals.append(jnp.mean(_f32(loss)))
    lr = _lr_of(opt_state) if opt_state is not None else None
    if lr is not None:
        tags.append("train/lr")
        vals.append(lr)
    meta: list[tuple[str, Any]] = []
    if grads is not None:
        gl, g_names, g_seg, _ = group_leaves(grads)
        meta.append(("grad_layers", g_names))
        if (step is not None or mode == "light") and grad_norm_every_step and gl:
            tags.append("train/grad_norm")
            vals.append(jnp.sqrt(functools.reduce(jnp.add, [_sq(x) for x in gl])))
    args = (grads, params, updates, activations, logits, labels, inputs)
    if mode == "light":  # telemetry_jit's step between telemetry steps
        if inputs is not None or labels is not None:
            tags.append("train/nonfinite@inputs")
            vals.append(functools.reduce(jnp.add, [_nonfinite(a) for a in (inputs, labels) if a is not None]))
        meta.append(("per_step", len(tags)))
        return Stats(_pack(vals + [jnp.zeros((), _F32)]), tuple(tags + ["_tel"]), tuple(meta))
    meta.append(("per_step", len(tags)))  # entries computed every step come first
    if step is None or mode == "full":
        ftags, fvals, fmeta = _full(*args, g_names, g_seg)
        tags += ftags + ["_tel"]
        vals += fvals + [jnp.ones((), _F32)]
        return Stats(_pack(vals), tuple(tags), tuple(meta + fmeta))
    every = every or 10
    layout: list[Any] = []

    with_global = "train/grad_norm" not in tags

    def on(ops: tuple[Any, ...]) -> jax.Array:
        ftags, fvals, fmeta = _full(*ops, g_names, g_seg, with_global)
        layout[:] = [ftags, fmeta]
        return _pack(fvals)

    nfull = jax.eval_shape(on, args).shape[0]  # the layout (tags) of a telemetry step
    ftags, fmeta = layout

    def off(ops: tuple[Any, ...]) -> jax.Array:
        return jnp.full((nfull,), jnp.nan, _F32)

    pred = jnp.asarray(step) % every == 0
    if loss is not None:
        pred = pred | ~jnp.isfinite(vals[0])
    full = jax.lax.cond(pred, on, off, args)
    tags += ftags + ["_tel"]
    return Stats(jnp.concatenate([_pack(vals), full, pred.astype(_F32).reshape(1)]),
                 tuple(tags), tuple(meta + fmeta))  # fmt: skip


#: optax (and common hand-written) loss names -> the canonical names of LOSS_KINDS.
JAX_LOSSES: dict[str, str] = {
    "softmax_cross_entropy": "crossentropyloss",
    "softmax_cross_entropy_with_integer_labels": "crossentropyloss",
    "safe_softmax_cross_entropy": "crossentropyloss",
    "poly_loss_cross_entropy": "crossentropyloss",
    "cross_entropy": "crossentropyloss",
    "sigmoid_binary_cross_entropy": "bcewithlogitsloss",
    "sigmoid_focal_loss": "bcewithlogitsloss",
    "binary_cross_entropy": "bceloss",
    "squared_error": "mseloss",
    "l2_loss": "mseloss",
    "mse": "mseloss",
    "mean_squared_error": "mseloss",
    "absolute_error": "l1loss",
    "l1": "l1loss",
    "mae": "l1loss",
    "mean_absolute_error": "l1loss",
    "huber_loss": "huberloss",
    "log_cosh": "huberloss",
    "nll": "nllloss",
    "negative_log_likelihood": "nllloss",
    "kl_divergence": "kldivloss",
}

#: optax components (closure owners) -> optimizer name, most specific first.
_OPT_NAMES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("scale_by_adam", "add_decayed_weights", "scale_by_trust_ratio"), "lamb"),
    (("scale_by_adam", "add_decayed_weights"), "adamw"),
    (("scale_by_adam",), "adam"),
    (("scale_by_adamax",), "adamax"),
    (("scale_by_amsgrad",), "amsgrad"),
    (("scale_by_radam",), "radam"),
    (("scale_by_yogi",), "yogi"),
    (("scale_by_belief",), "adabelief"),
    (("scale_by_lion",), "lion"),
    (("scale_by_novograd",), "novograd"),
    (("scale_by_factored_rms",), "adafactor"),
    (("scale_by_rms",), "rmsprop"),
    (("scale_by_stddev",), "rmsprop"),
    (("scale_by_rss",), "adagrad"),
    (("scale_by_sm3",), "sm3"),
    (("trace",), "sgd"),
)
_SCHEDULE_PROBES = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 100_000)


# --------------------------------------------------------------------------- context


def _cells(fn: types.FunctionType) -> dict[str, Any]:
    out = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            out[name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    return out


def _components(obj: Any, out: list[tuple[str, dict[str, Any]]], seen: set[int], depth: int = 0) -> None:
    """(owner function, closure cells) of every function reachable from an optax transform."""
    if depth > 16 or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, tuple) and hasattr(obj, "update") and hasattr(obj, "init"):
        _components(obj.init, out, seen, depth + 1)  # inject_hyperparams keeps values here
        _components(obj.update, out, seen, depth + 1)
    elif not isinstance(obj, tuple) and isinstance(getattr(obj, "_opt", None), tuple):
        _components(obj._opt, out, seen, depth + 1)  # optax.MultiSteps(inner, k)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _components(o, out, seen, depth + 1)
    elif isinstance(obj, functools.partial):
        _components(obj.func, out, seen, depth + 1)
    elif isinstance(obj, types.FunctionType):
        cells = _cells(obj)
        out.append((obj.__qualname__.split(".<locals>")[0], cells))
        for v in cells.values():
            if callable(v) or isinstance(v, (list, tuple)):
                _components(v, out, seen, depth + 1)


def _defaults(fn: Any) -> dict[str, Any]:
    """Default arguments of an optimizer factory (``optax.adam``: b1, b2, eps...)."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _value(v: Any) -> float | None:
    """A hyperparameter's value: a number, or a schedule's peak (best effort)."""
    if callable(v):
        try:
            return schedule_peak(v)
        except Exception:  # noqa: BLE001 - a schedule we cannot evaluate: unknown
            return None
    return num(v)


def schedule_name(fn: Any) -> str:
    comps: list[tuple[str, dict[str, Any]]] = []
    _components(fn, comps, set())
    names = [n for n, _ in comps]
    if not names:
        return getattr(fn, "__name__", type(fn).__name__)
    head, rest = names[0], [n for n in names[1:] if n != names[0]]
    return f"{head}({', '.join(dict.fromkeys(rest))})" if rest else head


def schedule_peak(fn: Callable[[Any], Any]) -> float | None:
    try:
        vals = np.asarray(fn(np.asarray(_SCHEDULE_PROBES)), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a schedule that is not vectorized
        vals = np.asarray([float(fn(s)) for s in _SCHEDULE_PROBES], dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    return float(np.max(np.abs(vals))) if vals.size else None


def optimizer_info(tx: Any, name: str | None = None) -> tuple[OptimizerInfo, Callable[[Any], Any] | float | None]:
    """OptimizerInfo of an optax transformation (read from its closures, best effort) and
    its learning rate: a float, a schedule (callable of the step) or None."""
    info = OptimizerInfo(name=name)
    if tx is None:
        return info, None
    comps: list[tuple[str, dict[str, Any]]] = []
    _components(tx, comps, set())
    owners = [c for c, _ in comps]
    lr: Any = None
    for owner, cells in comps:
        if owner == "inject_hyperparams":
            factory = cells.get("inner_factory")
            if info.name is None and factory is not None:
                info.name = getattr(factory, "__name__", None)
            hps = {**_defaults(factory), **(cells.get("other_hps") or {}), **(cells.get("numeric_hps") or {}),
                   **(cells.get("sched_hps") or {})}  # fmt: skip
            # optax wraps schedules given to inject_hyperparams (WrappedSchedule.schedule_fn)
            hps = {k: getattr(v, "schedule_fn", v) for k, v in hps.items()}
            lr = hps.get("learning_rate", lr)
            info.momentum = num(hps.get("momentum")) if info.momentum is None else info.momentum
            info.weight_decay = _value(hps.get("weight_decay")) if info.weight_decay is None else info.weight_decay
            info.eps = num(hps.get("eps")) if info.eps is None else info.eps
            if num(hps.get("b1")) is not None and num(hps.get("b2")) is not None:
                info.betas = [float(hps["b1"]), float(hps["b2"])]
        elif owner == "scale_by_learning_rate" and lr is None:
            lr = cells.get("learning_rate")
        elif owner == "scale" and lr is None and num(cells.get("step_size")) is not None:
            step = float(cells["step_size"])
            lr = -step if step < 0 else lr
        elif owner == "trace" and info.momentum is None:
            info.momentum = num(cells.get("decay"))
        elif owner in ("scale_by_adam", "scale_by_adamax", "scale_by_amsgrad", "scale_by_radam", "scale_by_belief", "scale_by_yogi"):
            info.eps = info.eps if info.eps is not None else num(cells.get("eps"))
            b1, b2 = num(cells.get("b1")), num(cells.get("b2"))
            if info.betas is None and b1 is not None and b2 is not None:
                info.betas = [b1, b2]
        elif owner in ("scale_by_rms", "scale_by_stddev", "scale_by_rss"):
            info.eps = info.eps if info.eps is not None else num(cells.get("eps") or cells.get("initial_accumulator_value"))
        elif owner == "add_decayed_weights" and info.weight_decay is None:
            info.weight_decay = _value(cells.get("weight_decay"))
        elif owner == "clip_by_global_norm" and info.clipnorm is None:
            info.clipnorm = num(cells.get("max_norm"))
        elif owner == "clip" and info.clipvalue is None:
            info.clipvalue = num(cells.get("max_delta"))
    if info.name is None:
        present = set(owners)
        for needs, n in _OPT_NAMES:
            if all(c in present for c in needs):
                info.name = n
                break
        else:
            if lr is not None:
                info.name = "sgd"
        # chain(add_decayed_weights, adam) decays before Adam's scaling: coupled L2, not AdamW
        if info.name == "adamw" and owners.index("add_decayed_weights") < owners.index("scale_by_adam"):
            info.name = "adam"
    if callable(lr):
        info.schedule = schedule_name(lr)
        info.lr = schedule_peak(lr)
    else:
        lr = num(lr)
        info.lr = lr
    return info, lr


def loss_info(loss: Any) -> tuple[LossInfo, str | None, bool]:
    """LossInfo, the task it implies, and whether it is element-wise."""
    if loss is None:
        return LossInfo(), None, False
    raw = loss if isinstance(loss, str) else getattr(loss, "__name__", None) or type(loss).__name__
    key = raw.lower().removeprefix("optax.").removeprefix("optax.losses.")
    key = JAX_LOSSES.get(key, FUNCTIONAL_LOSSES.get(key, key))
    kind = LOSS_KINDS.get(key)
    info = LossInfo(
        name=key,
        expects=kind.expects if kind else None,  # type: ignore[arg-type]
        from_logits=kind.from_logits if kind else None,
    )
    return info, (kind.task if kind else None), bool(kind and kind.elementwise)


_TYPE_OF_NAME = re.compile(r"(?:.*[./])?([A-Za-z][A-Za-z]*?)(?:_?\d+)?$")


def model_info(params: Any) -> ModelInfo:
    """Layers (parents of the parameter leaves), their parameter counts and kinds."""
    tree = params
    collections: set[str] = set()
    if isinstance(params, Mapping) and "params" in params and len(params) > 1:
        collections = {str(k) for k in params}
        tree = params["params"]
    leaves, names, seg, paths = group_leaves(tree)
    counts = [0] * len(names)
    kernels: list[tuple[int, ...] | None] = [None] * len(names)
    for leaf, i, path in zip(leaves, seg, paths, strict=True):
        shape = tuple(int(s) for s in getattr(leaf, "shape", ()))
        counts[i] += int(np.prod(shape)) if shape else 1
        if len(shape) >= 2 and (kernels[i] is None or path[-1].lower() in ("kernel", "w", "weight")):
            kernels[i] = shape
    layers = []
    for name, n, k in zip(names, counts, kernels, strict=True):
        m = _TYPE_OF_NAME.match(name)
        typ = m.group(1) if m and not name.isdigit() else None
        if k is not None and typ is None:
            typ = "Dense" if len(k) == 2 else f"Conv{len(k) - 2}D"
        layers.append(LayerInfo(name=name, type=typ, params=n, trainable=True,
                                output_shape=[None, k[-1]] if k else None))  # fmt: skip
    total = sum(counts)
    low = " ".join(names).lower()
    last = kernels[-1] if kernels else None
    return ModelInfo(
        layers=layers,
        num_params=total,
        num_trainable=total,
        output_units=int(last[-1]) if last else None,
        has_batchnorm=("batch_stats" in collections or "batchnorm" in low) or None,
    )


_QKV = ("query", "key", "value")


def _ordered_leaves(tree: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path parts, leaf) in the tree's own order: a mapping's insertion order (the order
    its modules were created in), or its natural order where the keys are sorted (as
    ``jax.tree.map`` leaves them: ``Dense_2`` before ``Dense_10``)."""
    if isinstance(tree, Mapping):
        keys = list(tree.keys())
        if [str(k) for k in keys] == sorted(str(k) for k in keys):
            keys.sort(key=lambda k: _natural(str(k)))
        out = []
        for k in keys:
            out += _ordered_leaves(tree[k], (*prefix, str(k)))
        return out
    flat, _ = jtu.tree_flatten_with_path(tree)
    return [((*prefix, *(key_str(k) for k in path)), leaf) for path, leaf in flat]


def _is_weight_leaf(name: str) -> bool:
    return name.isdigit() or name.startswith(("kernel", "w")) or "weight" in name or "kernel" in name


@jax.jit
def _stds(leaves: list[Any]) -> jax.Array:
    """Standard deviation of each array, exactly 0 for a constant one (one compiled call)."""

    def std(w: Any) -> jax.Array:
        w = _f32(w)
        return jnp.where(jnp.min(w) == jnp.max(w), 0.0, jnp.std(w))

    return jnp.stack([std(w) for w in leaves])


def init_scales(params: Any) -> list[tuple[str, str, float]]:
    """(name, layer, ``std(w) * sqrt(fan_in)``) of the layer weights of a parameter tree,
    in the model's order (one host transfer). Weights are >= 2-D leaves named like
    ``kernel``, ``w*``, ``*weight*`` (or list indices); embedding tables are left out.
    fan_in follows the layout: flax/haiku ``[*kernel, in, out]`` -> ``prod(shape[:-1])``
    (attention ``query/key/value`` kernels ``[in, heads, dim]`` -> ``in``), a leaf named
    ``weight`` (torch/equinox ``[out, in, *kernel]``) -> ``prod(shape[1:])``. Constant
    weights give exactly 0; weights of fewer than ``INIT_MIN_SIZE`` entries are left out."""
    tree = params["params"] if isinstance(params, Mapping) and "params" in params else params
    items = []
    for parts, leaf in _ordered_leaves(tree):
        shape = tuple(int(d) for d in getattr(leaf, "shape", ()))
        if len(shape) < 2 or math.prod(shape) < INIT_MIN_SIZE or not jnp.issubdtype(leaf.dtype, jnp.floating):
            continue
        leaf_name = parts[-1].lower() if parts else ""
        layer = layer_of(list(parts))
        if "embed" in leaf_name or "embed" in layer.lower() or not _is_weight_leaf(leaf_name):
            continue
        if leaf_name == "weight":
            fan_in = math.prod(shape[1:])
        elif len(shape) == 3 and layer.rsplit(".", 1)[-1].lower() in _QKV:
            fan_in = shape[0]
        else:
            fan_in = math.prod(shape[:-1])
        items.append((parts, layer, leaf, fan_in))
    if not items:
        return []
    stds = jax.device_get(_stds([leaf for _, _, leaf, _ in items]))
    per_layer: dict[str, int] = {}
    for _, layer, _, _ in items:
        per_layer[layer] = per_layer.get(layer, 0) + 1
    return [(layer if per_layer[layer] == 1 else f"{layer}.{parts[-1]}", layer, float(sd) * math.sqrt(fan_in))
            for (parts, layer, _, fan_in), sd in zip(items, stds, strict=True)]  # fmt: skip


def data_info(data: Any) -> tuple[DataInfo, float]:
    """n_train, input range and dtype, class counts of ``(x, y)`` arrays (host side)."""
    x, y = data if isinstance(data, (tuple, list)) else (data, None)
    x = np.asarray(x)
    d = DataInfo(n_train=int(x.shape[0]) if x.ndim else None, input_dtype=str(x.dtype))
    nonfinite = 0.0
    if x.size and np.issubdtype(x.dtype, np.number):
        xf = x.astype(np.float64, copy=False)
        fin = np.isfinite(xf)
        nonfinite = float(xf.size - fin.sum())
        v = xf[fin] if nonfinite else xf
        if v.size:
            d.input_mean, d.input_std = float(v.mean()), float(v.std())
            d.input_min, d.input_max = float(v.min()), float(v.max())
    if y is not None:
        y = np.asarray(y)
        if np.issubdtype(y.dtype, np.floating):
            nonfinite += float(np.sum(~np.isfinite(y)))
        if np.issubdtype(y.dtype, np.integer) and y.size:
            counts = count_ids(y)  # None: ids beyond MAX_CLASSES are not class ids
            d.class_counts = counts.tolist() if counts is not None and counts.size else None
        elif y.size and np.all(np.isin(y, (0.0, 1.0))):
            yv = y.reshape(-1) > 0.5
            d.class_counts = [int((~yv).sum()), int(yv.sum())]
    return d, nonfinite
