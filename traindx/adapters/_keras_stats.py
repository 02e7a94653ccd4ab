"""Keras 3 helpers of :mod:`traindx.adapters.keras`: layer kinds, the static context, and the
compiled probe/weight functions for each backend.

The statistics are written with ``keras.ops`` and compiled per backend (``tf.function`` on
TensorFlow, ``jax.jit`` on JAX, eager under ``torch.no_grad`` on torch); only the gradient
itself is backend-specific (``tf.GradientTape``, ``jax.value_and_grad`` over a stateless
forward pass, ``torch.autograd.grad``). Every function returns one flat float32 vector, moved
to the host in one transfer.

Nothing here changes the model: the probe forward pass runs with ``training=False`` inside a
``keras.StatelessScope`` (variable assignments such as a custom ``compute_loss`` updating a
metric are recorded in the scope and dropped), gradients never touch ``.grad`` or optimizer
state, and no random numbers are drawn.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from traindx.adapters._common import count_ids
from traindx.schema import LayerInfo, LossInfo, ModelInfo, OptimizerInfo

ops = keras.ops
BACKEND = keras.backend.backend()

# --------------------------------------------------------------------------- layer kinds

#: Keras activation function names -> the names ``output_activation`` uses (the torch
#: adapter's spelling, so the rules read one vocabulary).
ACT_NAMES: dict[str, str] = {
    "relu": "relu", "relu6": "relu", "leaky_relu": "leakyrelu", "elu": "elu", "selu": "selu",
    "gelu": "gelu", "silu": "silu", "swish": "silu", "hard_silu": "hardswish",
    "hard_swish": "hardswish", "mish": "mish", "softplus": "softplus", "softsign": "softsign",
    "sigmoid": "sigmoid", "hard_sigmoid": "sigmoid", "tanh": "tanh", "hard_tanh": "tanh",
    "softmax": "softmax", "log_softmax": "log_softmax", "linear": "linear",
    "exponential": "exponential", "log_sigmoid": "logsigmoid", "sparsemax": "softmax",
}  # fmt: skip
#: Activation layer classes -> activation name.
ACT_LAYERS: dict[str, str] = {
    "ReLU": "relu", "Softmax": "softmax", "LeakyReLU": "leakyrelu", "PReLU": "prelu",
    "ELU": "elu",
}  # fmt: skip
#: Layers whose output says nothing new (or is random): no activation statistics.
SKIP_LAYERS = {
    "InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianDropout", "GaussianNoise", "AlphaDropout", "Flatten", "Reshape", "Permute",
    "RepeatVector", "Identity", "ActivityRegularization", "Masking",
}  # fmt: skip
#: Layers that pass the output activation through unchanged (walked back over).
PASS_LAYERS = SKIP_LAYERS | {"Cropping1D", "Cropping2D", "ZeroPadding1D", "ZeroPadding2D"}
DROPOUT_LAYERS = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                  "GaussianDropout", "AlphaDropout"}  # fmt: skip
BN_LAYERS = {"BatchNormalization", "SyncBatchNormalization"}


def layer_activation(layer: Any) -> str | None:
    """The activation a layer applies last ("relu", "softmax", "linear"), or None."""
    k = type(layer).__name__
    if k == "ReLU":
        slope = float(getattr(layer, "negative_slope", 0.0) or 0.0)
        return "leakyrelu" if slope > 0 else "relu"
    if k in ACT_LAYERS:
        return ACT_LAYERS[k]
    act = getattr(layer, "activation", None)
    if act is None or not callable(act):
        return None
    name = getattr(act, "__name__", None) or type(act).__name__
    name = name.lower()
    return ACT_NAMES.get(name, name)


def stat_kind(act: str | None) -> int:
    """0: mean/std; 1: + fraction zero (ReLU-like); 2: + fraction saturated (tanh); 3: (sigmoid)."""
    if act in ("relu", "hardswish"):
        return 1
    if act in ("tanh", "softsign"):
        return 2
    if act == "sigmoid":
        return 3
    return 0


def _nested_models(layer: Any) -> bool:
    return isinstance(layer, keras.Model)


def leaf_layers(model: keras.Model) -> list[Any]:
    """Every layer below ``model`` (recursively), then the model itself (own weights)."""
    try:
        layers = list(model._flatten_layers(include_self=False, recursive=True))
    except Exception:  # noqa: BLE001 - private API moved: the public, non-recursive list
        layers = list(model.layers)
    return layers + [model]


@dataclass
class Groups:
    """Weights grouped by the layer that created them (trainable when created; frozen ones
    included so that an update ratio of 0 shows them), each variable once."""

    names: list[str] = field(default_factory=list)
    variables: list[Any] = field(default_factory=list)  # tracked weights
    group_of: list[int] = field(default_factory=list)  # per tracked weight
    layers: list[Any] = field(default_factory=list)


def group_weights(model: keras.Model) -> Groups:
    g = Groups()
    seen: set[int] = set()
    used: dict[str, int] = {}
    for layer in leaf_layers(model):
        own = [v for v in getattr(layer, "_trainable_variables", []) if id(v) not in seen]
        if not own:
            continue
        name = layer.name
        if name in used:  # nested models may repeat a name
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 1
        g.names.append(name)
        g.layers.append(layer)
        for v in own:
            seen.add(id(v))
            g.variables.append(v)
            g.group_of.append(len(g.names) - 1)
    rest = [v for v in model.trainable_variables if id(v) not in seen]
    if rest:
        g.names.append(model.name)
        g.layers.append(model)
        for v in rest:
            g.variables.append(v)
            g.group_of.append(len(g.names) - 1)
    return g


def output_layer(model: keras.Model) -> Any:
    """The layer producing the (first) output, walking back over reshapes and dropout, and
    into nested models. None for subclassed models."""
    try:
        outs = model.outputs
    except Exception:  # noqa: BLE001 - subclassed model
        outs = None
    if not outs:
        return None
    t = outs[0]
    for _ in range(64):
        hist = getattr(t, "_keras_history", None)
        if hist is None:
            return None
        layer = hist.operation
        if isinstance(layer, keras.Model) and layer is not model:
            inner = output_layer(layer)
            return inner if inner is not None else layer
        if type(layer).__name__ in PASS_LAYERS and layer_activation(layer) is None:
            node = (
                layer._inbound_nodes[hist.node_index]
                if getattr(layer, "_inbound_nodes", None)
                else None
            )
            args = list(getattr(node, "input_tensors", None) or []) if node is not None else []
            if len(args) != 1:
                return layer
            t = args[0]
            continue
        return layer
    return None


def _shape(x: Any) -> list[int | None] | None:
    try:
        return [None if d is None else int(d) for d in x.shape]
    except Exception:  # noqa: BLE001
        return None


def model_info(model: keras.Model, groups: Groups) -> ModelInfo:
    layers: list[LayerInfo] = []
    has_dropout = has_bn = False
    for layer in leaf_layers(model)[:-1]:
        k = type(layer).__name__
        has_dropout |= k in DROPOUT_LAYERS and float(getattr(layer, "rate", 0.0) or 0.0) > 0.0
        has_bn |= k in BN_LAYERS
        if isinstance(layer, keras.Model):
            continue
        own = list(getattr(layer, "_trainable_variables", [])) + list(
            getattr(layer, "_non_trainable_variables", [])
        )
        act = layer_activation(layer)
        if not own and act is None:
            continue
        try:
            out_shape = _shape(layer.output)
        except Exception:  # noqa: BLE001 - shared layer, subclassed model
            out_shape = None
        layers.append(LayerInfo(
            name=layer.name, type=k, activation=act,
            params=int(sum(int(np.prod(v.shape)) for v in own)),
            trainable=bool(layer.trainable) if own else None, output_shape=out_shape,
        ))  # fmt: skip
    n_tr = int(sum(int(np.prod(v.shape)) for v in model.trainable_variables))
    try:
        n_all = int(model.count_params())
    except Exception:  # noqa: BLE001
        n_all = int(sum(int(np.prod(v.shape)) for v in model.weights))
    return ModelInfo(
        layers=layers, num_params=n_all, num_trainable=n_tr, has_dropout=has_dropout,
        has_batchnorm=has_bn, training_mode=True,
    )  # fmt: skip


def act_layers(model: keras.Model) -> list[tuple[str, Any, int]]:
    """(name, layer, stat kind) of the top-level graph layers whose output is summarized."""
    out = []
    for layer in model.layers:
        k = type(layer).__name__
        if k in SKIP_LAYERS:
            continue
        out.append((layer.name, layer, stat_kind(layer_activation(layer))))
    return out


# --------------------------------------------------------------------------- losses

#: Canonical Keras loss name -> (task, expects when from_logits is False/None, takes logits).
KERAS_LOSSES: dict[str, tuple[str | None, str | None, bool]] = {
    "sparse_categorical_crossentropy": ("classification", "probabilities", True),
    "categorical_crossentropy": ("classification", "probabilities", True),
    "categorical_focal_crossentropy": ("classification", "probabilities", True),
    "binary_crossentropy": ("binary", "probabilities", True),
    "binary_focal_crossentropy": ("binary", "probabilities", True),
    "mse": ("regression", "values", False),
    "mae": ("regression", "values", False),
    "mape": ("regression", "values", False),
    "msle": ("regression", "values", False),
    "huber": ("regression", "values", False),
    "log_cosh": ("regression", "values", False),
    "hinge": ("binary", None, False),
    "squared_hinge": ("binary", None, False),
    "categorical_hinge": ("classification", None, False),
    "kl_divergence": (None, "probabilities", False),
    "poisson": ("regression", None, False),
    "cosine_similarity": (None, None, False),
}
#: Losses compared element by element (target and prediction shapes must match).
ELEMENTWISE_LOSSES = {"mse", "mae", "mape", "msle", "huber", "log_cosh", "binary_crossentropy",
                      "binary_focal_crossentropy", "hinge", "squared_hinge", "poisson",
                      "kl_divergence"}  # fmt: skip
LOSS_ALIASES = {
    "mean_squared_error": "mse", "meansquarederror": "mse",
    "mean_absolute_error": "mae", "meanabsoluteerror": "mae",
    "mean_absolute_percentage_error": "mape", "meanabsolutepercentageerror": "mape",
    "mean_squared_logarithmic_error": "msle", "meansquaredlogarithmicerror": "msle",
    "huber_loss": "huber", "logcosh": "log_cosh", "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence", "kldivergence": "kl_divergence",
    "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy",
    "categoricalcrossentropy": "categorical_crossentropy",
    "binarycrossentropy": "binary_crossentropy",
    "binaryfocalcrossentropy": "binary_focal_crossentropy",
    "categoricalfocalcrossentropy": "categorical_focal_crossentropy",
    "squaredhinge": "squared_hinge", "categoricalhinge": "categorical_hinge",
    "cosinesimilarity": "cosine_similarity",
}  # fmt: skip


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def canonical_loss_name(loss: Any) -> str | None:
    """``"mse"``, ``"sparse_categorical_crossentropy"``... for a loss string, function or object;
    a custom function's own (lower-case) name otherwise."""
    if loss is None:
        return None
    if isinstance(loss, str):
        name = loss.lower()
    else:
        fn = getattr(loss, "fn", None)  # LossFunctionWrapper
        name = getattr(fn, "__name__", None) or getattr(loss, "__name__", None)
        if name is None:
            cls = type(loss).__name__
            name = cls.lower() if cls.lower() in LOSS_ALIASES else _snake(cls)
        name = name.lower()
    return LOSS_ALIASES.get(name, name)


def loss_info(loss: Any) -> tuple[LossInfo, str | None, list[str]]:
    """LossInfo, the task it implies, and notes."""
    notes: list[str] = []
    if isinstance(loss, dict | list | tuple):
        flat = [v for v in (loss.values() if isinstance(loss, dict) else loss) if v is not None]
        if not flat:
            return LossInfo(), None, notes
        notes.append(f"{len(flat)} losses (one per output); the context describes the first")
        loss = flat[0]
    name = canonical_loss_name(loss)
    if name is None:
        return LossInfo(), None, notes
    from_logits = None
    if not isinstance(loss, str):
        from_logits = getattr(loss, "from_logits", None)
        if from_logits is None:
            try:
                from_logits = loss.get_config().get("from_logits")
            except Exception:  # noqa: BLE001
                from_logits = None
    kind = KERAS_LOSSES.get(name)
    if from_logits is None and kind is not None and kind[2]:
        from_logits = False  # the Keras default
    expects = None
    if kind is not None:
        expects = "logits" if (kind[2] and from_logits) else kind[1]
    reduction = getattr(loss, "reduction", None)
    info = LossInfo(
        name=name, from_logits=bool(from_logits) if from_logits is not None else None,
        reduction=reduction if isinstance(reduction, str) else None,
        expects=expects,  # type: ignore[arg-type]
    )  # fmt: skip
    return info, (kind[0] if kind else None), notes


# --------------------------------------------------------------------------- optimizer


def host_float(v: Any) -> float:
    """A scalar tensor or variable as a Python float (through a tensor: NumPy 2 warns on a
    TensorFlow variable's ``__array__``)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return float(tf.convert_to_tensor(v).numpy())
    return float(np.asarray(ops.convert_to_numpy(ops.convert_to_tensor(v))))


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(host_float(v) if not isinstance(v, int | float) else v)
    except Exception:  # noqa: BLE001
        return None
    return f


def inner_optimizer(opt: Any) -> Any:
    inner = getattr(opt, "inner_optimizer", None)  # LossScaleOptimizer
    return inner if inner is not None else opt


def optimizer_info(opt: Any) -> tuple[OptimizerInfo, Any]:
    """OptimizerInfo and the learning-rate schedule (or None)."""
    if opt is None:
        return OptimizerInfo(), None
    opt = inner_optimizer(opt)
    lr_obj = getattr(opt, "_learning_rate", None)
    schedule = (
        lr_obj if isinstance(lr_obj, keras.optimizers.schedules.LearningRateSchedule) else None
    )
    lr = None
    if schedule is not None:
        try:
            cfg = schedule.get_config()
        except Exception:  # noqa: BLE001
            cfg = {}
        # the nominal (peak) rate, not the value at step 0 (0 under a warm-up)
        for k in ("warmup_target", "initial_learning_rate", "maximal_learning_rate"):
            if cfg.get(k) is not None:
                lr = _num(cfg[k])
                break
        if lr is None and isinstance(cfg.get("values"), list | tuple) and cfg["values"]:
            lr = _num(cfg["values"][0])
    else:
        try:
            lr = _num(opt.learning_rate)
        except Exception:  # noqa: BLE001
            lr = None
    k = type(opt).__name__.lower()
    betas = None
    if getattr(opt, "beta_1", None) is not None and getattr(opt, "beta_2", None) is not None:
        betas = [_num(opt.beta_1), _num(opt.beta_2)]
        betas = [b for b in betas if b is not None] or None
    clipnorm = _num(getattr(opt, "clipnorm", None))
    if clipnorm is None:
        clipnorm = _num(getattr(opt, "global_clipnorm", None))
    info = OptimizerInfo(
        name=k, lr=lr, momentum=_num(getattr(opt, "momentum", None)) if k in ("sgd", "rmsprop") else None,
        weight_decay=_num(getattr(opt, "weight_decay", None)), eps=_num(getattr(opt, "epsilon", None)),
        betas=betas, clipnorm=clipnorm, clipvalue=_num(getattr(opt, "clipvalue", None)),
        schedule=type(schedule).__name__ if schedule is not None else None,
    )  # fmt: skip
    return info, schedule


def l2_coefficient(model: keras.Model) -> float | None:
    """The largest L2 coefficient among kernel regularizers, or None."""
    best = None
    for layer in leaf_layers(model):
        for attr in ("kernel_regularizer", "depthwise_regularizer", "pointwise_regularizer"):
            reg = getattr(layer, attr, None)
            if reg is None:
                continue
            try:
                l2 = float(reg.get_config().get("l2", 0.0) or 0.0)
            except Exception:  # noqa: BLE001
                continue
            if l2 > 0 and (best is None or l2 > best):
                best = l2
    return best


def _reg_l2(reg: Any) -> float:
    """The L2 factor of a weight regularizer (``L2``, ``L1L2``, or a config with ``l2``)."""
    v = getattr(reg, "l2", None)
    if v is None:
        try:
            v = reg.get_config().get("l2")
        except Exception:  # noqa: BLE001 - a custom regularizer without a config
            v = None
    f = _num(v)
    return f if f is not None and math.isfinite(f) and f > 0 else 0.0


def l2_max(model: keras.Model) -> float:
    """The largest L2 factor among the layers' weight regularizers (kernel, bias, recurrent,
    embeddings, ...; not activity regularizers); 0.0 without any."""
    best = 0.0
    for layer in leaf_layers(model):
        for attr, reg in list(vars(layer).items()):
            if reg is None or not attr.endswith("_regularizer") or attr == "activity_regularizer":
                continue
            if isinstance(reg, str | dict):
                continue
            best = max(best, _reg_l2(reg))
    return best


def regularization_penalty(model: keras.Model) -> float | None:
    """The weight-regularization penalty Keras adds to the loss (the regularizer losses of
    ``model.losses``) at the current weights; None if it cannot be computed. Activity
    regularizers and ``add_loss`` terms depend on a batch and are left out."""
    total = 0.0
    for v in model.trainable_weights:
        reg = getattr(v, "regularizer", None)
        if reg is None:
            continue
        try:
            total += host_float(reg(v.value))
        except Exception:  # noqa: BLE001
            return None
    return total


#: Variables of these layer types are lookup tables, not kernels (no fan-in).
EMBEDDING_LAYERS = {
    "Embedding",
    "ReversibleEmbedding",
    "PositionEmbedding",
    "TokenAndPositionEmbedding",
}


def init_scales(
    model: keras.Model, out_layer: Any = None, min_size: int = 8
) -> list[tuple[str, float]]:
    """``(layer name, std(w) * sqrt(fan_in))`` for every kernel (a weight with ndim >= 2) at
    the current weights, Keras layout (fan_in = prod(shape[:-1]): Dense ``[in, out]`` -> in,
    Conv ``[*k, in, out]`` -> prod(k) * in), except the output layer's kernel, embedding
    tables and kernels of fewer than ``min_size`` entries. A constant kernel (zeros) gives
    exactly 0; Glorot/He defaults give about 0.5-1.4."""
    kernels: list[tuple[Any, Any, int]] = []  # (layer, variable, fan_in)
    seen: set[int] = set()
    for layer in leaf_layers(model)[:-1]:
        if isinstance(layer, keras.Model):
            continue
        for v in getattr(layer, "_trainable_variables", []):
            if id(v) in seen or len(v.shape) < 2:
                continue
            seen.add(id(v))
            kernels.append((layer, v, int(np.prod([int(d) for d in v.shape[:-1]]))))
    if not kernels:
        return []
    if out_layer is None or not any(k[0] is out_layer for k in kernels):
        # no layer graph, or Dense then an Activation/Softmax layer: the last kernel's layer
        out_layer = kernels[-1][0]
    cands = [
        (layer.name, v, fan_in)
        for layer, v, fan_in in kernels
        if layer is not out_layer
        and type(layer).__name__ not in EMBEDDING_LAYERS
        and "embedding" not in str(getattr(v, "name", "")).lower()
        and int(np.prod([int(d) for d in v.shape])) >= min_size
    ]
    if not cands:
        return []
    items: list[Any] = []
    for _, v, _ in cands:
        w = ops.cast(v.value, "float32")
        items += [ops.std(w), ops.max(w) - ops.min(w)]
    vals = np.asarray(ops.convert_to_numpy(_vec(items)), dtype=np.float64).reshape(-1, 2)
    out = []
    for (name, _, fan_in), (std, rng) in zip(cands, vals, strict=True):
        if not (math.isfinite(std) and math.isfinite(rng)):
            continue
        out.append((name, 0.0 if rng == 0.0 else float(std * math.sqrt(fan_in))))
    return out


TARGET_CAP = 65_536  # target rows looked at


def target_facts(y: Any) -> dict[str, float | bool]:
    """What the targets are: for 1-D or (N, 1) targets ``target_integer`` (every finite value
    is a whole number, whatever the dtype) and ``target_distinct`` (distinct values); for
    (N, C) targets ``target_onehot`` (rows of 0/1 with exactly one 1). First TARGET_CAP rows."""
    a = np.asarray(y)
    if a.size == 0 or a.dtype.kind not in "fiub" or a.ndim == 0:
        return {}
    a = a[:TARGET_CAP]
    if a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1):
        v = a.reshape(-1)
        if v.dtype.kind == "f":
            v = v[np.isfinite(v)]
            if v.size == 0:
                return {}
            integer = bool(np.all(v == np.round(v)))
        else:
            integer = True
        return {"target_onehot": False, "target_integer": integer,
                "target_distinct": float(np.unique(v).size)}  # fmt: skip
    if a.ndim == 2:
        ok = bool(np.all((a == 0) | (a == 1)) and np.all(a.sum(-1) == 1))
        return {"target_onehot": ok}
    return {}


# --------------------------------------------------------------------------- host statistics


def host_summary(x: np.ndarray) -> dict[str, float]:
    """Count, mean, std, min, max over the finite values; non-finite count (floats only)."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiub" or a.size == 0:
        return {}
    if a.dtype.kind == "f":
        fin = np.isfinite(a)
        bad = float(a.size - np.count_nonzero(fin))
        v = a[fin] if bad else a
    else:
        bad, v = 0.0, a
    if v.size == 0:
        return {"n": 0.0, "nonfinite": bad}
    v = v.astype(np.float64, copy=False)
    return {"n": float(v.size), "mean": float(v.mean()), "std": float(v.std()),
            "min": float(v.min()), "max": float(v.max()), "nonfinite": bad}  # fmt: skip


def class_counts(y: Any, task: str | None) -> list[int] | None:
    """Class counts of targets: integer labels, one-hot rows, or 0/1 binary targets."""
    if y is None:
        return None
    a = np.asarray(y)
    if a.size == 0:
        return None
    if a.ndim >= 2 and a.shape[-1] > 1 and a.dtype.kind == "f":
        if not np.all((a == 0) | (a == 1)):
            return None
        a = a.reshape(-1, a.shape[-1]).argmax(-1)
    a = a.reshape(-1)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            return None
        if task == "regression" and not np.all((a == 0) | (a == 1)):
            return None
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    counts = count_ids(a.astype(np.int64))
    return counts.tolist() if counts is not None and counts.size else None


def looks_one_hot(y: Any) -> bool:
    a = np.asarray(y)
    return bool(a.ndim >= 2 and a.shape[-1] > 1 and a.dtype.kind == "f" and a.size
                and np.all((a == 0) | (a == 1)) and np.all(a.sum(-1) == 1))  # fmt: skip


def infer_activation(out: np.ndarray) -> str:
    """Guess the output activation from probe output values (subclassed models)."""
    o = np.asarray(out, dtype=np.float64)
    if o.size == 0 or not np.all(np.isfinite(o)):
        return "linear"
    lo, hi = float(o.min()), float(o.max())
    if o.ndim < 2 or o.shape[-1] < 2:
        return "sigmoid" if 0.0 < lo and hi < 1.0 else "linear"
    if lo >= 0.0 and hi <= 1.0:
        if np.abs(o.sum(-1) - 1).max() < 1e-3:
            return "softmax"
        if lo > 0.0:
            return "sigmoid"
    if hi <= 0.0 and np.abs(np.log(np.exp(o).sum(-1))).max() < 1e-3:
        return "log_softmax"
    if lo == 0.0 and float((o == 0).mean()) > 0.05:
        return "relu"
    return "linear"


# --------------------------------------------------------------------------- compiled functions


def _act_stats(a: Any, kind: int) -> list[Any]:
    a = ops.cast(a, "float32")
    mean = ops.mean(a)
    std = ops.sqrt(ops.maximum(ops.mean(ops.square(a - mean)), 0.0))
    out = [mean, std]
    if kind == 1:
        out.append(ops.mean(ops.cast(ops.equal(a, 0.0), "float32")))
    elif kind == 2:
        out.append(ops.mean(ops.cast(ops.greater(ops.abs(a), 0.99), "float32")))
    elif kind == 3:
        out.append(ops.mean(ops.cast(ops.greater(ops.abs(a - 0.5), 0.49), "float32")))
    return out


def _output_stats(y_pred: Any, probs: bool, n_classes: int) -> list[Any]:
    out: list[Any] = []
    p = ops.cast(y_pred, "float32")
    p = ops.reshape(p, (-1, n_classes))
    if probs:
        out.append(ops.mean(ops.abs(ops.sum(p, axis=-1) - 1.0)) + 1.0)
    if n_classes >= 2:
        pred = ops.argmax(p, axis=-1)
        out.append(ops.max(ops.mean(ops.one_hot(pred, n_classes), axis=0)))
    return out


def _grad_stats(grads: list[Any]) -> list[Any]:
    """Per gradient: squared norm (-1 for a missing gradient) and the non-finite count."""
    sq, bad = [], []
    for g in grads:
        if g is None:
            sq.append(ops.convert_to_tensor(-1.0, "float32"))
            bad.append(ops.convert_to_tensor(0.0, "float32"))
            continue
        g = ops.cast(g, "float32")
        sq.append(ops.sum(ops.square(g)))
        bad.append(ops.sum(ops.cast(ops.logical_not(ops.isfinite(g)), "float32")))
    return sq + bad


def _vec(items: list[Any]) -> Any:
    if not items:
        return ops.zeros((0,), "float32")
    return ops.stack([ops.reshape(ops.cast(v, "float32"), ()) for v in items])


@dataclass
class ProbeLayout:
    """Where each statistic sits in the probe vector."""

    n_grads: int
    acts: list[tuple[str, int]]  # (layer name, kind)
    probs: bool
    n_classes: int
    out_stats: list[str]

    @property
    def size(self) -> int:
        return 1 + 2 * self.n_grads + sum(2 + (k > 0) for _, k in self.acts) + len(self.out_stats)


class Engine:
    """Backend-specific compiled functions over the model's current weights.

    ``weights()`` gives the tracked weights' current values (on JAX, the trainer's state in
    the middle of an epoch, when the variables themselves hold no value); ``weight_sq`` their
    squared norms (one vector), ``snapshot`` a copy, ``delta_sq`` the squared norms of the
    difference to a snapshot, ``probe`` the probe vector.
    """

    def __init__(self, model: keras.Model, tracked: list[Any], fwd: Any, layout: ProbeLayout | None,
                 has_loss: bool):  # fmt: skip
        self.model = model
        self.tracked = tracked
        self.fwd = fwd  # x -> (acts list, y_pred)
        self.layout = layout
        self.has_loss = has_loss
        self.backend = BACKEND
        tv = {id(v): i for i, v in enumerate(model.trainable_variables)}
        ntv = {id(v): i for i, v in enumerate(model.non_trainable_variables)}
        self._where = [
            ("t", tv[id(v)]) if id(v) in tv else ("n", ntv.get(id(v), -1)) for v in tracked
        ]
        self._fns: dict[str, Any] = {}

    # -------------------------------------------------------------- state

    def _jax_state(self) -> dict[str, Any] | None:
        m = self.model
        st = getattr(m, "_jax_state", None)
        if st and not getattr(m, "_jax_state_synced", True):
            return st
        return None

    def state(self) -> tuple[list[Any], list[Any], list[Any]]:
        """(trainable, non-trainable, metrics) values for a stateless call (JAX)."""
        st = self._jax_state()
        m = self.model
        if st is not None:
            tv = st.get("trainable_variables") or [v.value for v in m.trainable_variables]
            ntv = st.get("non_trainable_variables") or [v.value for v in m.non_trainable_variables]
            mv = st.get("metrics_variables") or [v.value for v in m.metrics_variables]
            return list(tv), list(ntv), list(mv)
        return ([v.value for v in m.trainable_variables], [v.value for v in m.non_trainable_variables],
                [v.value for v in m.metrics_variables])  # fmt: skip

    def weights(self) -> list[Any]:
        if self.backend == "jax":
            tv, ntv, _ = self.state()
            return [
                tv[i] if k == "t" else ntv[i] if i >= 0 else v.value
                for (k, i), v in zip(self._where, self.tracked, strict=True)
            ]
        return [v.value for v in self.tracked]

    def read_metric_var(self, var: Any) -> float | None:
        """The current value of a metric variable (a loss tracker's count)."""
        st = self._jax_state() if self.backend == "jax" else None
        if st is not None:
            mv = st.get("metrics_variables")
            ids = [id(v) for v in self.model.metrics_variables]
            if mv is None or id(var) not in ids:
                return None
            return float(np.asarray(mv[ids.index(id(var))]))
        return host_float(var.value)

    # -------------------------------------------------------------- compiled functions

    def _compile(self, fn: Any) -> Any:
        if self.backend == "tensorflow":
            import tensorflow as tf

            return tf.function(fn, reduce_retracing=True)
        if self.backend == "jax":
            import jax

            return jax.jit(fn)
        if self.backend == "torch":
            import torch

            def run(*a: Any) -> Any:
                with torch.no_grad():
                    return fn(*a)

            return run
        return fn

    def weight_sq(self, ws: list[Any]) -> np.ndarray:
        f = self._fns.get("wsq")
        if f is None:
            f = self._fns["wsq"] = self._compile(
                lambda ws: _vec([ops.sum(ops.square(ops.cast(w, "float32"))) for w in ws])
            )
        return np.asarray(ops.convert_to_numpy(f(ws)), dtype=np.float64)

    def snapshot(self, ws: list[Any]) -> list[Any]:
        if self.backend == "tensorflow":
            import tensorflow as tf

            f = self._fns.get("snap")
            if f is None:
                f = self._fns["snap"] = tf.function(lambda ws: [tf.identity(w) for w in ws])
            return list(f(ws))
        if self.backend == "jax":
            import jax.numpy as jnp

            return [jnp.array(w, copy=True) for w in ws]  # the trainer donates its state
        if self.backend == "torch":
            return [w.detach().clone() for w in ws]
        return [np.array(w, copy=True) for w in ws]

    def delta_sq(self, ws: list[Any], snap: list[Any]) -> np.ndarray:
        f = self._fns.get("dsq")
        if f is None:
            f = self._fns["dsq"] = self._compile(lambda ws, ss: _vec(
                [ops.sum(ops.square(ops.cast(w, "float32") - ops.cast(s, "float32"))) for w, s in zip(ws, ss, strict=True)]))  # fmt: skip
        return np.asarray(ops.convert_to_numpy(f(ws, snap)), dtype=np.float64)

    def probe(self, x: Any, y: Any) -> np.ndarray:
        f = self._fns.get("probe")
        if f is None:
            f = self._fns["probe"] = self._make_probe()
        if self.backend == "jax":
            tv, ntv, mv = self.state()
            out = f(tv, ntv, mv, x, y)
        else:
            out = f(x, y)
        return np.asarray(ops.convert_to_numpy(out), dtype=np.float64)

    def telemetry(
        self, xy: tuple[Any, Any] | None
    ) -> tuple[np.ndarray, list[Any], np.ndarray | None]:
        """Squared norms of the tracked weights, a snapshot of them, and the probe vector
        (None without a probe): on TensorFlow one compiled call reading the variables."""
        if self.backend != "tensorflow":
            ws = self.weights()
            sq = self.weight_sq(ws) if ws else np.zeros(0)
            snap = self.snapshot(ws) if ws else []
            return sq, snap, (self.probe(*xy) if xy is not None else None)
        import tensorflow as tf

        key = "tel_probe" if xy is not None else "tel"
        f = self._fns.get(key)
        if f is None:
            body = self._make_probe(compiled=False) if xy is not None else None
            tracked = self.tracked

            def tel(*xy: Any) -> Any:
                vs = [v.value for v in tracked]
                sq = _vec([ops.sum(ops.square(ops.cast(w, "float32"))) for w in vs])
                snap = [tf.identity(w) for w in vs]
                vec = body(*xy) if body is not None else tf.zeros((0,))
                return sq, snap, vec

            f = self._fns[key] = tf.function(tel, reduce_retracing=True)
        sq, snap, vec = f(*xy) if xy is not None else f()
        return (np.asarray(sq.numpy(), dtype=np.float64), list(snap),
                np.asarray(vec.numpy(), dtype=np.float64) if xy is not None else None)  # fmt: skip

    def delta(self, snap: list[Any]) -> np.ndarray:
        """Squared norms of (current weights - snapshot), per tracked weight."""
        if self.backend != "tensorflow":
            return self.delta_sq(self.weights(), snap)
        import tensorflow as tf

        f = self._fns.get("tel_delta")
        if f is None:
            tracked = self.tracked

            def delta(ss: Any) -> Any:
                return _vec([ops.sum(ops.square(ops.cast(v.value, "float32") - ops.cast(s_, "float32")))
                             for v, s_ in zip(tracked, ss, strict=True)])  # fmt: skip

            f = self._fns["tel_delta"] = tf.function(delta, reduce_retracing=True)
        return np.asarray(f(snap).numpy(), dtype=np.float64)

    def _pack(self, loss: Any, grads: list[Any], acts: list[Any], y_pred: Any) -> Any:
        lay = self.layout
        assert lay is not None
        items: list[Any] = [
            loss if loss is not None else ops.convert_to_tensor(float("nan"), "float32")
        ]
        items += _grad_stats(grads)
        for a, (_, kind) in zip(acts, lay.acts, strict=True):
            items += _act_stats(a, kind)
        if lay.out_stats:
            items += _output_stats(y_pred, lay.probs, lay.n_classes)
        return _vec(items)

    def _forward_loss(self, x: Any, y: Any) -> tuple[Any, list[Any], Any]:
        acts, y_pred = self.fwd(x)
        loss = None
        if self.has_loss and y is not None:
            loss = self.model._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=None, training=False
            )
        return loss, acts, y_pred

    def _live_mapping(self) -> list[tuple[Any, Any]]:
        """Each model variable mapped to its current value (read here: on TensorFlow inside the
        gradient tape, so gradients flow to the variables). Without a mapping a stateless scope
        gives None for variables it does not know (weight regularizers read them)."""
        m = self.model
        return [(v, v.value) for v in [*m.trainable_variables, *m.non_trainable_variables]]

    def _make_probe(self, compiled: bool = True) -> Any:
        model = self.model
        want_grads = self.has_loss and self.layout is not None and self.layout.n_grads > 0
        scope = keras.StatelessScope
        if self.backend == "tensorflow":
            import tensorflow as tf

            def probe_tf(x: Any, y: Any) -> Any:
                tvars = [v.value for v in model.trainable_variables]
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(tvars)
                    with scope(state_mapping=self._live_mapping()):
                        loss, acts, y_pred = self._forward_loss(x, y)
                grads = (
                    tape.gradient(loss, tvars)
                    if (want_grads and loss is not None)
                    else [None] * len(tvars)
                )
                return self._pack(loss, list(grads), acts, y_pred)

            return tf.function(probe_tf, reduce_retracing=True) if compiled else probe_tf
        if self.backend == "jax":
            import jax

            def fwd(tv: Any, ntv: Any, mv: Any, x: Any, y: Any) -> Any:
                mapping = (list(zip(model.trainable_variables, tv, strict=True))
                           + list(zip(model.non_trainable_variables, ntv, strict=True))
                           + list(zip(model.metrics_variables, mv, strict=True)))  # fmt: skip
                with scope(state_mapping=mapping):
                    loss, acts, y_pred = self._forward_loss(x, y)
                if loss is None:
                    loss = ops.convert_to_tensor(0.0, "float32")
                return loss, (acts, y_pred)

            def probe_jax(tv: Any, ntv: Any, mv: Any, x: Any, y: Any) -> Any:
                if want_grads:
                    (loss, (acts, y_pred)), grads = jax.value_and_grad(fwd, has_aux=True)(
                        tv, ntv, mv, x, y
                    )
                    grads = list(grads)
                else:
                    loss, (acts, y_pred) = fwd(tv, ntv, mv, x, y)
                    grads = [None] * len(tv)
                    if not self.has_loss or y is None:
                        loss = None
                return self._pack(loss, grads, acts, y_pred)

            return jax.jit(probe_jax)
        if self.backend == "torch":
            import torch

            def probe_torch(x: Any, y: Any) -> Any:
                tvars = [v.value for v in model.trainable_variables]
                with torch.enable_grad(), scope(state_mapping=self._live_mapping()):
                    loss, acts, y_pred = self._forward_loss(x, y)
                if want_grads and loss is not None and loss.requires_grad:
                    grads = list(torch.autograd.grad(loss, tvars, allow_unused=True))
                else:
                    grads = [None] * len(tvars)
                with torch.no_grad():
                    return self._pack(
                        loss.detach() if loss is not None else None, [g if g is None else g.detach() for g in grads],
                        [a.detach() for a in acts], y_pred.detach())  # fmt: skip

            return probe_torch
        raise RuntimeError(f"the Keras backend {self.backend!r} is not supported for the probe")
