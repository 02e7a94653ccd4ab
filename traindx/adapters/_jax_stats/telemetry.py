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

from traindx.adapters._jax_stats.batch import (
    _label_facts,
    _level_facts,
    _nonfinite,
    _output_stats,
    _summary,
)
from traindx.adapters._jax_stats.reduce import _act_block, _f32, _segment, leaf_sums
from traindx.adapters._jax_stats.stepdir import sketch
from traindx.adapters._jax_stats.tree import array_leaves, first_array, group_leaves, key_str

_F32 = np.float32
#: Set while :func:`traindx.adapters.jax.telemetry_jit` traces a step: ``"full"`` (every
#: statistic) or ``"light"`` (loss, learning rate and non-finite inputs only).
#: ``"host"``: one function for every step, the statistics computed by numpy on the host at
#: telemetry steps (:mod:`.host`), whose traced flag is :data:`HOST_FLAG`.
MODE: contextvars.ContextVar[str | None] = contextvars.ContextVar("traindx_telemetry_mode", default=None)
#: Set while telemetry_jit traces the step it reads facts from (``full`` or the host design's
#: one function): the holder (``_jax_graph.StepGraph``) of what the step's graph shows (inputs
#: normalized before the first layer, the output's last op), which the step's Stats carry in
#: their meta as ``step_graph``; telemetry then marks its input batch and output in the graph
#: (a slice of each under a name scope: unused, so compiled away).
STEP_GRAPH: contextvars.ContextVar[Any] = contextvars.ContextVar("traindx_step_graph", default=None)
INPUTS_SCOPE, OUTPUTS_SCOPE = "traindx_inputs", "traindx_outputs"
HOST_FLAG: contextvars.ContextVar[Any] = contextvars.ContextVar("traindx_telemetry_flag", default=None)


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
    arrays, treedef = jtu.tree_flatten(acts)
    try:
        names = _NAMES.get(treedef)
    except TypeError:  # a node whose static data cannot be hashed: not kept
        return _activation_names(acts)
    if names is None:
        names = _activation_names(acts)[0]
        if len(_NAMES) >= 64:
            _NAMES.clear()
        _NAMES[treedef] = names
    return list(names), arrays


#: The names depend on the tree's structure alone: found once per structure (a host
#: telemetry step asks at every telemetry step).
_NAMES: dict[Any, list[str]] = {}


def _activation_names(acts: Any) -> tuple[list[str], list[Any]]:
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


# --------------------------------------------------------------------------- telemetry


def _full(grads: Any, params: Any, updates: Any, activations: Any, logits: Any, labels: Any,
          inputs: Any, g_names: tuple[str, ...], g_seg: tuple[int, ...], with_global: bool = True,
          xp: Any = jnp, with_nonfinite_inputs: bool = True,
          ) -> tuple[list[str], list[Any], list[tuple[str, Any]]]:  # fmt: skip
    """The statistics of a telemetry step (everything but the per-step entries): traced
    (``xp`` is ``jax.numpy``) or on the host (``numpy``, :mod:`.host`), one definition."""
    tags: list[str] = []
    vals: list[Any] = []
    meta: list[tuple[str, Any]] = []
    # the sums of every pytree's leaves in one pass (few kernels: see leaf_sums)
    gl = array_leaves(grads) if grads is not None and g_names else []
    pl, names, seg, _ = group_leaves(params) if params is not None else ([], (), (), ())
    ul = array_leaves(updates) if params is not None and updates is not None else []
    with_updates = params is not None and updates is not None and [np.shape(x) for x in ul] == [np.shape(x) for x in pl]
    ul = ul if with_updates else []
    sq, sums = leaf_sums(gl + pl + ul, plain=[False] * len(gl) + [True] * len(pl) + [False] * len(ul), xp=xp)
    ng, npl = len(gl), len(pl)
    if gl:
        g_sq = sq[:ng]

        def count_nonfinite(leaves: list[Any]) -> jax.Array:
            # one reduction over every leaf (a reduction per leaf: 0.15 s more XLA compile)
            flat = xp.concatenate([xp.reshape(_f32(x, xp), (-1,)) for x in leaves])
            return xp.sum(~xp.isfinite(flat), dtype=_F32)

        # the exact count only when some gradient is not finite (one pass less otherwise)
        if xp is np:
            nonfinite = np.zeros((), _F32) if np.all(np.isfinite(g_sq)) else count_nonfinite(gl)
        else:
            nonfinite = jax.lax.cond(jnp.all(jnp.isfinite(g_sq)), lambda _: jnp.zeros((), _F32), count_nonfinite, gl)
        if with_global:
            tags.append("train/grad_norm")
            vals.append(xp.sqrt(xp.sum(g_sq)))
        tags += [f"train/grad_norm@{n}" for n in g_names] + ["train/nonfinite@grads", "_pwg"]
        vals += [xp.sqrt(_segment(g_sq, g_seg, len(g_names), xp)), nonfinite, xp.sum(g_sq == 0.0, dtype=_F32)]
        # per leaf, whether its gradient is exactly zero (GradReach: which ever get one)
        tags += [f"_gz{i}" for i in range(ng)]
        vals.append((xp.asarray(g_sq) == 0.0).astype(_F32).reshape(-1))
        meta.append(("g_seg", tuple(int(x) for x in g_seg)))
    if params is not None:
        assert sums is not None or not pl
        w_sq = _segment(sq[ng : ng + npl], seg, len(names), xp)
        w_sum = _segment(sums[ng : ng + npl], seg, len(names), xp) if sums is not None else xp.zeros((len(names),), _F32)
        tags += [f"train/weight_norm@{n}" for n in names] + ["train/weight_norm"] + [f"_wsum@{n}" for n in names]
        meta.append(("param_dtype", str(max(pl, key=np.size).dtype) if pl else None))  # .precision
        vals += [xp.sqrt(w_sq), xp.sqrt(xp.sum(w_sq)), w_sum]
        if with_updates:
            u_sq = _segment(sq[ng + npl :], seg, len(names), xp)
            tags += [f"train/update_ratio@{n}" for n in names] + ["train/update_ratio"]
            vals += [xp.sqrt(u_sq) / xp.maximum(xp.sqrt(w_sq), 1e-30),
                     xp.sqrt(xp.sum(u_sq)) / xp.maximum(xp.sqrt(xp.sum(w_sq)), 1e-30)]  # fmt: skip
        stags, svals = sketch(gl, pl, xp)  # the applied step's direction (.stepdir)
        tags += stags
        vals += svals
    if activations is not None:
        names, arrays = activation_names(activations)
        kept = []
        for n, a in zip(names, arrays, strict=True):
            if not hasattr(a, "shape") or not jnp.issubdtype(xp.asarray(a).dtype, jnp.inexact) or not np.size(a):
                continue
            tags += [f"train/act_mean@{n}", f"train/act_std@{n}", f"_az@{n}", f"_at@{n}", f"_as@{n}",
                     f"_amin@{n}", f"_amax@{n}"]  # fmt: skip
            kept.append(a)
        if kept:
            vals.append(_act_block(kept, xp))
    nonfinite = []
    if inputs is not None:
        x = first_array(inputs, xp)
        meta += [("input_dtype", str(x.dtype)), ("batch_size", int(x.shape[0]) if x.ndim else 1)]
        if x.size:
            summ = _summary(x, xp)
            tags += ["train/input_mean", "train/input_std", "train/input_min", "train/input_max", "_in_n"]
            vals += summ[:4] + [summ[5]]
            nonfinite.append(summ[4] if hasattr(inputs, "shape") else _nonfinite(inputs, xp))
    if labels is not None:
        nonfinite.append(_nonfinite(labels, xp))
        _label_facts(labels, tags, vals, xp)
        _level_facts(labels, tags, vals, xp)
    if nonfinite and with_nonfinite_inputs:
        tags.append("train/nonfinite@inputs")
        vals.append(functools.reduce(xp.add, nonfinite))
    if logits is not None:
        _output_stats(logits, labels, tags, vals, meta, xp)
    return tags, vals, meta


def _pack(vals: list[Any], xp: Any = jnp) -> jax.Array:
    if not vals:
        return xp.zeros((0,), _F32)
    if xp is np:  # the host's scalars: C-level conversions (numpy's reshape wrapper was a tenth of a telemetry step's numpy)
        return np.concatenate([np.asarray(v, _F32).reshape(-1) for v in vals])
    return xp.concatenate([xp.reshape(v, (-1,)).astype(_F32) for v in vals])


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
            (``every`` defaults to 10), at step 1 or when the loss is not finite, under ``jax.lax.cond``;
            other steps carry NaN there. Without ``step`` everything is computed each call: pass
            ``step=step, every=N`` whenever the step is not compiled by ``telemetry_jit`` (a plain
            ``jax.jit``, flax's ``nnx.jit``, a ``lax.scan`` body, an eager call after the step),
            or every statistic is taken and written at every step.
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
    if inputs is not None and np.size(first_array(inputs)):  # every step: the same batch as the last?
        xi = _f32(first_array(inputs))
        tags += ["_inck_n", "_inck_mean", "_inck_ms"]
        vals += [jnp.asarray(float(np.size(xi)), _F32), jnp.mean(xi), jnp.mean(xi * xi)]
    meta: list[tuple[str, Any]] = []
    graph = STEP_GRAPH.get()
    if graph is not None and (inputs is not None or logits is not None):
        for scope, a in ((INPUTS_SCOPE, inputs), (OUTPUTS_SCOPE, logits)):
            if a is not None and np.size(first_array(a)):
                with jax.named_scope(scope):  # where telemetry_jit finds them in the step's graph
                    _ = jnp.ravel(first_array(a))[:1]
        meta.append(("step_graph", graph))
    if grads is not None:
        gl, g_names, g_seg, _ = group_leaves(grads)
        meta.append(("grad_layers", g_names))
        if (step is not None or mode in ("light", "host")) and grad_norm_every_step and gl:
            tags.append("train/grad_norm")
            vals.append(jnp.sqrt(functools.reduce(jnp.add, [_sq(x) for x in gl])))
    args = (grads, params, updates, activations, logits, labels, inputs)
    if mode in ("light", "host"):  # telemetry_jit: the non-finite inputs every step
        if inputs is not None or labels is not None:
            tags.append("train/nonfinite@inputs")
            vals.append(functools.reduce(jnp.add, [_nonfinite(a) for a in (inputs, labels) if a is not None]))
    if mode == "light":  # telemetry_jit's step between telemetry steps
        meta.append(("per_step", len(tags)))
        return Stats(_pack(vals + [jnp.zeros((), _F32)]), tuple(tags + ["_tel"]), tuple(meta))
    meta.append(("per_step", len(tags)))  # entries computed every step come first
    if mode == "full" or (step is None and mode != "host"):
        ftags, fvals, fmeta = _full(*args, g_names, g_seg)
        tags += ftags + ["_tel"]
        vals += fvals + [jnp.ones((), _F32)]
        return Stats(_pack(vals), tuple(tags), tuple(meta + fmeta))
    with_global = "train/grad_norm" not in tags
    if mode == "host":  # telemetry_jit's one function: numpy on the host at telemetry steps
        from traindx.adapters._jax_stats.host import on_host

        pred = jnp.asarray(HOST_FLAG.get(), bool)
        if loss is not None:
            pred = pred | ~jnp.isfinite(vals[0])
        try:
            ftags, fmeta, full = on_host(args, g_names, g_seg, with_global, pred)
            return Stats(jnp.concatenate([_pack(vals), full, pred.astype(_F32).reshape(1)]),
                         tuple(tags + ftags + ["_tel"]), tuple(meta + fmeta))  # fmt: skip
        except Exception:  # noqa: BLE001, S110 - numpy cannot take these arrays: compiled under lax.cond below
            pass
    else:
        pred = (jnp.asarray(step) % (every or 10) == 0) | (jnp.asarray(step) == 1)  # 0 and 1: a pair (.stepdir)
        if loss is not None:
            pred = pred | ~jnp.isfinite(vals[0])
    layout: list[Any] = []

    def on(ops: tuple[Any, ...]) -> jax.Array:
        ftags, fvals, fmeta = _full(*ops, g_names, g_seg, with_global, with_nonfinite_inputs=mode != "host")
        layout[:] = [ftags, fmeta]
        return _pack(fvals)

    nfull = jax.eval_shape(on, args).shape[0]  # the layout (tags) of a telemetry step
    ftags, fmeta = layout

    def off(ops: tuple[Any, ...]) -> jax.Array:
        return jnp.full((nfull,), jnp.nan, _F32)

    full = jax.lax.cond(pred, on, off, args)
    tags += ftags + ["_tel"]
    return Stats(jnp.concatenate([_pack(vals), full, pred.astype(_F32).reshape(1)]),
                 tuple(tags), tuple(meta + fmeta))  # fmt: skip
