"""The Keras model read statically: layers, activations, weight groups, the output layer, ModelInfo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from traindx.schema import LayerInfo, ModelInfo

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


#: one output's loss: its position in ``model.outputs``, its name, its compiled loss
Head = tuple[int, "str | None", Any]


def loss_head(model: keras.Model) -> Head | None:
    """The output the context describes on a model compiled with one loss per output (None
    for one loss): Keras 3 matches a dict of losses to outputs by output name and a list by
    position, while ``model.outputs`` orders dict outputs by sorted name, so the first loss and
    the first output may belong to different heads. The first head whose layer ends in a
    softmax or sigmoid (a classification head: its loss, targets and class counts carry the
    checkable facts), else the first output, each with its own loss."""
    loss = getattr(model, "loss", None)
    if not isinstance(loss, Mapping | list | tuple):  # one loss (a name, a function, a Loss)
        return None
    outs = _outputs(model)
    names = list(getattr(model, "output_names", None) or [])
    if len(outs) < 2 or len(names) != len(outs):
        return None
    heads: list[Head] = []
    for i, name in enumerate(names):
        if isinstance(loss, Mapping):
            one = loss.get(name)
        else:
            one = loss[i] if len(loss) == len(outs) else None
        if one is not None:
            heads.append((i, name, one))
    if not heads:
        return None
    for head in heads:
        layer = _producer(outs[head[0]], model)
        if layer is not None and layer_activation(layer) in ("softmax", "sigmoid"):
            return head
    return heads[0]


def one_unit_categorical_heads(model: keras.Model) -> int | None:
    """How many outputs are scored by a categorical (or sparse categorical) cross-entropy while
    they are one unit wide - a softmax over one column is 1 whatever the weights, and Keras'
    probability renormalization makes any one column 1 too: that head's loss is 0 with zero
    gradient. Every output's own loss (a dict by name, a list by position, or one loss for
    all); None when the model's outputs or loss are not known."""
    from traindx.adapters._keras_stats.config import canonical_loss_name

    loss = getattr(model, "loss", None)
    outs = _outputs(model)
    if loss is None or not outs:
        return None
    names = list(getattr(model, "output_names", None) or [])
    per: list[Any]
    if isinstance(loss, Mapping):
        if len(names) != len(outs):
            return None
        per = [loss.get(n) for n in names]
    elif isinstance(loss, list | tuple):
        per = list(loss) if len(loss) == len(outs) else []
    else:
        per = [loss] * len(outs)
    n = 0
    for out, one in zip(outs, per, strict=False):
        shape = getattr(out, "shape", None)
        if one is None or not shape or shape[-1] != 1:
            continue
        if canonical_loss_name(one) in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
            n += 1
    return n


def output_layer(model: keras.Model, pos: int = 0) -> Any:
    """The layer producing the (first) output, walking back over reshapes and dropout, and
    into nested models. None for subclassed models."""
    outs = _outputs(model)
    return _producer(outs[pos], model) if len(outs) > pos else None


def output_layers(model: keras.Model) -> list[Any]:
    """The layers that make the model's outputs (a multi-output model has several heads):
    for each output, the layer producing it walked back over single-input layers without
    weights (Activation, Reshape, Dropout) to the layer with weights they read, and through a
    merge without weights (a wide-and-deep ``Add()([wide, deep])``) into each of its branches.
    Empty for subclassed models."""
    found: list[Any] = []
    for t in _outputs(model):
        found += _head_chain(t, model)
    return found


def _outputs(model: keras.Model) -> list[Any]:
    try:
        return list(model.outputs or [])
    except Exception:  # noqa: BLE001 - subclassed model
        return []


def _inputs(layer: Any, hist: Any) -> list[Any]:
    """The tensors a layer's call at ``hist`` read."""
    nodes = getattr(layer, "_inbound_nodes", None)
    node = nodes[hist.node_index] if nodes else None
    return list(getattr(node, "input_tensors", None) or []) if node is not None else []


def _own_weights(layer: Any) -> bool:
    return bool(
        getattr(layer, "_trainable_variables", None)
        or getattr(layer, "_non_trainable_variables", None)
    )


def _head_chain(t: Any, model: keras.Model) -> list[Any]:
    chain: list[Any] = []
    for _ in range(64):
        hist = getattr(t, "_keras_history", None)
        if hist is None:
            break
        layer = hist.operation
        if isinstance(layer, keras.Model) and layer is not model:
            inner = _outputs(layer)
            i = int(getattr(hist, "tensor_index", 0) or 0)
            chain += _head_chain(inner[i], layer) if i < len(inner) else [layer]
            break
        chain.append(layer)
        args = _inputs(layer, hist)
        if _own_weights(layer):
            break
        if len(args) > 1:  # a merge without weights (Add, Concatenate): every branch makes the output
            for a in args:
                chain += _head_chain(a, model)
            break
        if len(args) != 1:
            break
        t = args[0]
    return chain


def _producer(t: Any, model: keras.Model) -> Any:
    for _ in range(64):
        hist = getattr(t, "_keras_history", None)
        if hist is None:
            return None
        layer = hist.operation
        if isinstance(layer, keras.Model) and layer is not model:
            inner = output_layer(layer)
            return inner if inner is not None else layer
        if type(layer).__name__ in PASS_LAYERS and layer_activation(layer) is None:
            args = _inputs(layer, hist)
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
    outs = {id(layer) for layer in output_layers(model)}  # empty: cannot tell (subclassed)
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
            is_output=(id(layer) in outs) if outs else None,
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
