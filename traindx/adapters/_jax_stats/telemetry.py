"""The fused telemetry: per-layer sums, activation and output statistics, packed into one vector."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import tree_util as jtu

from traindx.adapters._common import (
    TARGET_SAMPLE,
    TargetFacts,
)
from traindx.adapters._jax_stats.reduce import _act_block, _f32, _segment, leaf_sums
from traindx.adapters._jax_stats.tree import array_leaves, first_array, group_leaves, key_str

MAX_COUNTED_CLASSES = 1024  # class counts are kept for at most this many classes
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


# --------------------------------------------------------------------------- pieces


def _sq(x: Any) -> jax.Array:
    x = _f32(x)
    return jnp.sum(x * x)


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


def _summary(x: Any) -> list[jax.Array]:
    """mean, std, min, max, non-finite count, size (over finite values where some are not)."""
    xf = _f32(x)
    n = xf.size
    if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating):
        # two reductions (sums; min and max), not five: each costs XLA compile time
        fin = jnp.isfinite(xf).reshape(-1)
        xz = jnp.where(fin, xf.reshape(-1), 0.0)
        s = jnp.sum(jnp.stack([fin.astype(_F32), xz, xz * xz]), axis=1)
        mm = jnp.max(jnp.stack([jnp.where(fin, -xz, -jnp.inf), jnp.where(fin, xz, -jnp.inf)]), axis=1)
        nf = jnp.asarray(n, _F32) - s[0]
        cnt = jnp.maximum(s[0], 1.0)
        mean = s[1] / cnt
        var = jnp.maximum(s[2] / cnt - mean * mean, 0.0)
        lo, hi = -mm[0], mm[1]
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
        if o.ndim == ys.ndim + 1 and o.shape[-1] == 1:  # (N, 1) outputs, (N,) targets
            # an element-wise loss of the two either compared them row by row (the output
            # squeezed, o[:, 0]) or broadcast them to (N, N): the mean of MSE and of sigmoid
            # BCE both ways (O(N): both are linear in the target), for the host to compare
            # with the step's loss (squeezed_or_broadcast in _jax_context)
            sp = jnp.maximum(of, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(of)))
            mo, my = jnp.mean(of), jnp.mean(yf)
            tags += ["_bc_mse_sq", "_bc_mse_bc", "_bc_bce_sq", "_bc_bce_bc"]
            vals += [jnp.mean((of - yf) ** 2), jnp.mean(of * of) - 2.0 * mo * my + jnp.mean(yf * yf),
                     jnp.mean(sp - of * yf), jnp.mean(sp) - mo * my]  # fmt: skip
    meta.append(("out_width", width))


# --------------------------------------------------------------------------- telemetry


def _full(grads: Any, params: Any, updates: Any, activations: Any, logits: Any, labels: Any,
          inputs: Any, g_names: tuple[str, ...], g_seg: tuple[int, ...], with_global: bool = True,
          ) -> tuple[list[str], list[Any], list[tuple[str, Any]]]:  # fmt: skip
    """The statistics of a telemetry step (everything but the per-step entries)."""
    tags: list[str] = []
    vals: list[Any] = []
    meta: list[tuple[str, Any]] = []
    # the sums of every pytree's leaves in one pass (few kernels: see leaf_sums)
    gl = array_leaves(grads) if grads is not None and g_names else []
    pl, names, seg, _ = group_leaves(params) if params is not None else ([], (), (), ())
    ul = array_leaves(updates) if params is not None and updates is not None else []
    with_updates = params is not None and updates is not None and [jnp.shape(x) for x in ul] == [jnp.shape(x) for x in pl]
    ul = ul if with_updates else []
    sq, sums = leaf_sums(gl + pl + ul, plain=[False] * len(gl) + [True] * len(pl) + [False] * len(ul))
    ng, npl = len(gl), len(pl)
    if gl:
        g_sq = sq[:ng]

        def count_nonfinite(leaves: list[Any]) -> jax.Array:
            # one reduction over every leaf (a reduction per leaf: 0.15 s more XLA compile)
            flat = jnp.concatenate([jnp.reshape(_f32(x), (-1,)) for x in leaves])
            return jnp.sum(~jnp.isfinite(flat), dtype=_F32)

        # the exact count only when some gradient is not finite (one pass less otherwise)
        nonfinite = jax.lax.cond(jnp.all(jnp.isfinite(g_sq)), lambda _: jnp.zeros((), _F32), count_nonfinite, gl)
        if with_global:
            tags.append("train/grad_norm")
            vals.append(jnp.sqrt(jnp.sum(g_sq)))
        tags += [f"train/grad_norm@{n}" for n in g_names] + ["train/nonfinite@grads", "_pwg"]
        vals += [jnp.sqrt(_segment(g_sq, g_seg, len(g_names))), nonfinite, jnp.sum(g_sq == 0.0, dtype=_F32)]
        # per leaf, whether its gradient is exactly zero (GradReach: which ever get one)
        tags += [f"_gz{i}" for i in range(ng)]
        vals.append((jnp.asarray(g_sq) == 0.0).astype(_F32).reshape(-1))
        meta.append(("g_seg", tuple(int(x) for x in g_seg)))
    if params is not None:
        assert sums is not None or not pl
        w_sq = _segment(sq[ng : ng + npl], seg, len(names))
        w_sum = _segment(sums[ng : ng + npl], seg, len(names)) if sums is not None else jnp.zeros((len(names),), _F32)
        tags += [f"train/weight_norm@{n}" for n in names] + ["train/weight_norm"] + [f"_wsum@{n}" for n in names]
        vals += [jnp.sqrt(w_sq), jnp.sqrt(jnp.sum(w_sq)), w_sum]
        if with_updates:
            u_sq = _segment(sq[ng + npl :], seg, len(names))
            tags += [f"train/update_ratio@{n}" for n in names] + ["train/update_ratio"]
            vals += [jnp.sqrt(u_sq) / jnp.maximum(jnp.sqrt(w_sq), 1e-30),
                     jnp.sqrt(jnp.sum(u_sq)) / jnp.maximum(jnp.sqrt(jnp.sum(w_sq)), 1e-30)]  # fmt: skip
    if activations is not None:
        names, arrays = activation_names(activations)
        kept = []
        for n, a in zip(names, arrays, strict=True):
            if not hasattr(a, "shape") or not jnp.issubdtype(jnp.asarray(a).dtype, jnp.inexact) or not jnp.size(a):
                continue
            tags += [f"train/act_mean@{n}", f"train/act_std@{n}", f"_az@{n}", f"_at@{n}", f"_as@{n}",
                     f"_amin@{n}", f"_amax@{n}"]  # fmt: skip
            kept.append(a)
        if kept:
            vals.append(_act_block(kept))
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
