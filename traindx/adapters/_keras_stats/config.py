"""The Keras loss, optimizer and regularization read into the context (LossInfo, OptimizerInfo, L2)."""

from __future__ import annotations

import math
import re
from typing import Any

import keras
import numpy as np

from traindx.adapters._keras_stats.model import BACKEND, leaf_layers, ops
from traindx.schema import LossInfo, OptimizerInfo

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
