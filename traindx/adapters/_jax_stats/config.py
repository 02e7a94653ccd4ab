"""The optax optimizer (schedules included), the loss and the model read into the context."""

from __future__ import annotations

import functools
import math
import re
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from traindx.adapters._common import (
    FUNCTIONAL_LOSSES,
    LOSS_KINDS,
)
from traindx.adapters._jax_stats.tree import group_leaves
from traindx.context_json import construct
from traindx.schema import LayerInfo, LossInfo, ModelInfo, OptimizerInfo

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
#: transformations whose output does not depend on the scale of their input (Adam's m/sqrt(v),
#: Lion's sign, RMSprop's and Adagrad's g/sqrt(...)): a scale or learning rate placed BEFORE one of
#: them in a chain is divided out again and does not set the step size
_NORMALIZERS = ("scale_by_adam", "scale_by_adamax", "scale_by_amsgrad", "scale_by_radam", "scale_by_belief",
                "scale_by_yogi", "scale_by_lion", "scale_by_rms", "scale_by_stddev", "scale_by_rss")
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
    elif isinstance(obj, types.MethodType):  # MultiSteps(...).gradient_transformation()'s methods
        _components(obj.__self__, out, seen, depth + 1)
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


def _probe(fn: Callable[[Any], Any]) -> np.ndarray:
    """|schedule| at the probe steps (non-finite values dropped)."""
    try:
        vals = np.asarray(fn(np.asarray(_SCHEDULE_PROBES)), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a schedule that is not vectorized
        vals = np.asarray([float(fn(s)) for s in _SCHEDULE_PROBES], dtype=np.float64)
    vals = np.abs(vals.reshape(-1))
    return vals[np.isfinite(vals)]


def schedule_peak(fn: Callable[[Any], Any]) -> float | None:
    vals = _probe(fn)
    return float(np.max(vals)) if vals.size else None


def schedule_nominal(fn: Callable[[Any], Any]) -> float | None:
    """The configured rate of a schedule, as the torch Monitor (the optimizer's
    ``initial_lr``) and the Keras callback (``initial_learning_rate`` / ``warmup_target``)
    record it: the largest value it takes, a warm-up's peak or a decay's start - except for
    a schedule still rising at the last probe step (100,000: ``exponential_decay`` with a
    rate above 1 grows without end), whose "peak" is only where the probes stopped (1e19
    and more), none of what the run used: its value at step 0 (or, from 0, at the first
    probe where it is positive)."""
    vals = _probe(fn)
    if not vals.size:
        return None
    if vals.size >= 2 and vals[-1] > vals[-2] * (1.0 + 1e-6) and vals[-1] >= vals.max():
        pos = vals[vals > 0.0]
        return float(pos[0]) if pos.size else 0.0
    return float(vals.max())


def freezes_params(tx: Any) -> bool:
    """The optax transformation zeroes some parameters' updates on purpose: an
    ``optax.set_to_zero()`` inside ``optax.masked`` or ``optax.multi_transform`` /
    ``optax.partition`` (a backbone frozen while a head fine-tunes). Those parameters get a
    gradient and never change, as a broken update would leave them."""
    comps: list[tuple[str, dict[str, Any]]] = []
    _components(tx, comps, set())
    for owner, cells in comps:
        if owner == "set_to_zero":
            return True
        inner = cells.get("transforms") if owner in ("partition", "multi_transform") else None
        if isinstance(inner, dict) and any(freezes_params(t) for t in inner.values()):
            return True
    return False


def _label_sizes(labels: Any, params: Any) -> dict[Any, int]:
    """Parameter count per label of a partition's labels (a pytree, a prefix of the
    parameters, or a function of them); each label leaf counts 1 without the parameters."""
    import jax

    if callable(labels):
        if params is None:
            return {}
        labels = labels(params)
    sizes: dict[Any, int] = {}
    if params is None:
        for lab in jax.tree_util.tree_leaves(labels):
            sizes[lab] = sizes.get(lab, 0) + 1
        return sizes

    def add(lab: Any, sub: Any) -> None:
        n = sum(int(np.prod(getattr(x, "shape", ()))) for x in jax.tree_util.tree_leaves(sub))
        sizes[lab] = sizes.get(lab, 0) + n

    jax.tree_util.tree_map(add, labels, params)
    return sizes


def partition_main(tx: Any, params: Any = None) -> Any | None:
    """The transform an ``optax.multi_transform`` / ``optax.partition`` reached from ``tx``
    applies to most parameters: its single non-frozen one (not a ``set_to_zero``, as
    ``freezes_params`` reads it), else the one whose label covers most parameters (leaves
    without ``params``); None without a partition."""
    comps: list[tuple[str, dict[str, Any]]] = []
    _components(tx, comps, set())
    for owner, cells in comps:
        inner = cells.get("transforms") if owner in ("partition", "multi_transform") else None
        if not isinstance(inner, Mapping) or not inner:
            continue
        live = {k: t for k, t in inner.items() if not freezes_params(t)}
        if len(live) == 1:
            return next(iter(live.values()))
        sizes: dict[Any, int] = {}
        # flax's variables hold the optimized tree under "params"
        inner_params = params["params"] if isinstance(params, Mapping) and "params" in params else None
        for tree in (params, inner_params):
            try:
                sizes = _label_sizes(cells.get("param_labels"), tree)
                break
            except Exception:  # noqa: BLE001, S112 - labels that do not fit this tree
                continue
        pool = live or dict(inner)
        return pool[max(pool, key=lambda k: sizes.get(k, 0))]  # ties: the first given
    return None


def optimizer_info(tx: Any, name: str | None = None, params: Any = None, *,
                   partition: bool = True) -> tuple[OptimizerInfo, Callable[[Any], Any] | float | None]:  # fmt: skip
    """OptimizerInfo of an optax transformation (read from its closures, best effort) and
    its learning rate: a float, a schedule (callable of the step) or None. Inside a
    partition (``optax.multi_transform``), the settings of the transform ``partition_main``
    picks, ``params`` counting each label's parameters."""
    info = construct(OptimizerInfo, name=name)
    if tx is None:
        return info, None
    main = partition_main(tx, params) if partition else None
    if main is not None:  # the settings of the main transform, then those around the partition
        info, lr = optimizer_info(main, name, params)
        outer, _ = optimizer_info(tx, name, partition=False)
        for f in ("clipnorm", "clipvalue", "weight_decay", "momentum", "eps", "betas"):
            if getattr(info, f) is None and getattr(outer, f) is not None:
                setattr(info, f, getattr(outer, f))
        return info, lr
    comps: list[tuple[str, dict[str, Any]]] = []
    _components(tx, comps, set())
    owners = [c for c, _ in comps]
    # an owner's last entry comes from the update functions, visited after the init ones and in
    # chain order: a scale before the last normalizer there does not set the step size
    last = {o: i for i, o in enumerate(owners)}
    norm_at = max((last[o] for o in _NORMALIZERS if o in last), default=-1)
    lr: Any = None
    for i, (owner, cells) in enumerate(comps):
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
        elif owner == "scale_by_learning_rate" and lr is None and i > norm_at:
            lr = cells.get("learning_rate")
        elif owner == "scale" and lr is None and i > norm_at and num(cells.get("step_size")) is not None:
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
    if lr is None and any(o in ("scale", "scale_by_learning_rate") for o in owners[:norm_at]):
        lr = 1.0  # chain(scale(-lr), scale_by_adam()): the normalizer's unit-size steps are the updates
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
        info.lr = schedule_nominal(lr)
    else:
        lr = num(lr)
        info.lr = lr
    return info, lr


def loss_info(loss: Any) -> tuple[LossInfo, str | None, bool]:
    """LossInfo, the task it implies, and whether it is element-wise."""
    if loss is None:
        return construct(LossInfo), None, False
    raw = loss if isinstance(loss, str) else getattr(loss, "__name__", None) or type(loss).__name__
    key = raw.lower().removeprefix("optax.").removeprefix("optax.losses.")
    key = JAX_LOSSES.get(key, FUNCTIONAL_LOSSES.get(key, key))
    kind = LOSS_KINDS.get(key)
    info = construct(
        LossInfo,
        name=key,
        expects=kind.expects if kind else None,  # type: ignore[arg-type]
        from_logits=kind.from_logits if kind else None,
    )
    if kind is None:  # a loss of the user's own, named by them: what its name says it is
        return info, next((task for rx, task in _NAMED_TASKS if rx.search(key)), None), False
    return info, kind.task, bool(kind.elementwise)


#: a user's own loss named after what it is (``loss="vae_elbo"``) -> the task it implies: no
#: class count, ln(C) or single-label accuracy describes these (the torch Monitor reads the
#: same from the loss graph: reconstruction + KL is ``composite``)
_NAMED_TASKS = (
    (re.compile(r"elbo|vae|kl_?(?:div|loss|term|weight)|beta_?vae"), "composite"),
    (re.compile(r"recon|autoencod|denois"), "reconstruction"),
    (re.compile(r"contrastive|triplet|siamese|info_?nce|nt_?xent"), "contrastive"),
)


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
        layers.append(construct(LayerInfo, name=name, type=typ, params=n, trainable=True,
                                output_shape=[None, k[-1]] if k else None))  # fmt: skip
    total = sum(counts)
    low = " ".join(names).lower()
    last = kernels[-1] if kernels else None
    return construct(
        ModelInfo,
        layers=layers,
        num_params=total,
        num_trainable=total,
        output_units=int(last[-1]) if last else None,
        has_batchnorm=("batch_stats" in collections or "batchnorm" in low) or None,
    )
