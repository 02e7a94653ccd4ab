"""The model forms JAX preflight accepts, reduced to one: ``apply(params, x)`` and
``loss(params, x, y)`` over a pytree of trainable arrays.

- plain parameters or flax linen: ``apply_fn(params, x)`` (``model.apply``) and
  ``loss_fn(params, x, y)`` are used as given;
- a flax ``nnx.Module``: split once into its graph, its ``nnx.Param`` state (what is checked
  and trained) and the rest (batch statistics, RNG counters); every call merges new copies,
  so the user's module is never changed. ``loss_fn(module, x, y)``; outputs from
  ``module(x)`` (or ``apply_fn(module, x)``);
- an equinox ``eqx.Module``: ``eqx.partition`` on inexact arrays; ``loss_fn(model, x, y)``;
  outputs from ``jax.vmap(model)(x)`` (equinox layers take one example; pass
  ``apply_fn(model, x)`` for a model that takes a batch).

Parameter names come from the pytree paths: ``params.Dense_0.kernel``, ``layers.0.weight``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax


def path_name(path: tuple[Any, ...]) -> str:
    """A pytree path as a dotted name (``['params']['Dense_0']['kernel']`` ->
    ``params.Dense_0.kernel``); an nnx Variable's ``.value`` is dropped."""
    parts = []
    for k in path:
        if isinstance(k, jax.tree_util.DictKey):
            parts.append(str(k.key))
        elif isinstance(k, jax.tree_util.SequenceKey):
            parts.append(str(k.idx))
        elif isinstance(k, jax.tree_util.GetAttrKey):
            parts.append(k.name)
        elif isinstance(k, jax.tree_util.FlattenedIndexKey):
            parts.append(str(k.key))
        else:
            parts.append(str(k).strip(".[]'\""))
    if len(parts) > 1 and parts[-1] == "value":
        parts.pop()
    return ".".join(parts) or "params"


@dataclass
class ModelForm:
    """What the checks need from any form: pure functions of a parameter pytree."""

    kind: str  # "apply" (plain / linen), "nnx", "equinox"
    params: Any
    apply: Callable[[Any, Any], Any]  # outputs for inspection (inference mode where the form has one)
    loss: Callable[[Any, Any, Any], Any]  # the user's loss, in the model's own mode
    apply_train: Callable[[Any, Any], Any] | None = None  # outputs in training mode (nnx)
    has_dropout: bool = False
    has_norm: bool = False
    training: bool = True
    notes: list[str] = field(default_factory=list)


def _is_nnx(m: Any) -> bool:
    nnx = sys.modules.get("flax.nnx")
    return nnx is not None and isinstance(m, nnx.Module)


def _is_eqx(m: Any) -> bool:
    eqx = sys.modules.get("equinox")
    return eqx is not None and isinstance(m, eqx.Module)


def is_module(m: Any) -> bool:
    """An nnx or equinox module (called as ``preflight(module, loss_fn, data)``)."""
    return _is_nnx(m) or _is_eqx(m)


def _nnx_form(model: Any, loss_fn: Callable, apply_fn: Callable | None) -> ModelForm:
    from flax import nnx

    graph, params, rest = nnx.split(model, nnx.Param, ...)
    call = apply_fn or (lambda m, x: m(x))

    def merged(p: Any, mode: str | None) -> Any:
        # a fresh copy of the non-parameter state per call: merging the same state object
        # under a JAX trace fails when the model mutates it (Dropout's RNG counter)
        m = nnx.merge(graph, p, jax.tree.map(lambda a: a, rest))
        if mode == "eval":
            m.eval()
        elif mode == "train":
            m.train()
        return m

    kinds = [type(v).__name__ for _, v in nnx.iter_graph(model)]
    subs = [v for _, v in nnx.iter_graph(model) if isinstance(v, nnx.Module)]
    frozen = [v for v in subs if getattr(v, "deterministic", False) is True or getattr(v, "use_running_average", False) is True]
    return ModelForm(
        kind="nnx", params=params,
        apply=lambda p, x: call(merged(p, "eval"), x),
        loss=lambda p, x, y: loss_fn(merged(p, None), x, y),
        apply_train=lambda p, x: call(merged(p, "train"), x),
        has_dropout=any("Dropout" in k for k in kinds), has_norm=any(k.endswith("Norm") and "Layer" not in k and "RMS" not in k for k in kinds),
        training=not frozen,
    )  # fmt: skip


def _eqx_form(model: Any, loss_fn: Callable, apply_fn: Callable | None) -> ModelForm:
    import equinox as eqx

    params, static = eqx.partition(model, eqx.is_inexact_array)
    call = apply_fn or (lambda m, x: jax.vmap(m)(x))
    kinds = {type(v).__name__ for v in jax.tree_util.tree_leaves(model, is_leaf=lambda v: isinstance(v, eqx.Module) and v is not model)}
    return ModelForm(
        kind="equinox", params=params,
        apply=lambda p, x: call(eqx.combine(p, static), x),
        loss=lambda p, x, y: loss_fn(eqx.combine(p, static), x, y),
        has_dropout="Dropout" in kinds, has_norm="BatchNorm" in kinds,
    )  # fmt: skip


def model_form(model: Any, args: tuple[Any, ...], apply_fn: Callable | None) -> tuple[ModelForm, tuple[Any, Any]]:
    """``(form, data)`` from preflight's positional arguments:
    ``(apply_fn, params, loss_fn, data)`` or ``(module, loss_fn, data)``."""
    if is_module(model):
        if len(args) != 2:
            raise TypeError("preflight(module, loss_fn, (x, y), ...): a module takes a loss_fn(module, x, y) and the data")
        loss_fn, data = args
        return (_nnx_form if _is_nnx(model) else _eqx_form)(model, loss_fn, apply_fn), data
    if len(args) != 3 or not callable(model):
        raise TypeError("preflight(apply_fn, params, loss_fn, (x, y), ...), or preflight(module, loss_fn, (x, y), ...) "
                        "for a flax nnx or equinox module")  # fmt: skip
    params, loss_fn, data = args
    return ModelForm(kind="apply", params=params, apply=model, loss=loss_fn), data


def bn_stats_at_init(variables: Any) -> dict[str, float]:
    """The batch-norm statistics a loop keeps (flax ``batch_stats``: each BatchNorm a dict
    with ``mean`` and ``var``; an nnx ``nnx.state(model, nnx.BatchStat)`` the same), as the
    Keras callback reads its layers': ``bn_layers`` (layers found) and ``bn_stats_at_init``
    (of those, layers whose mean is still exactly 0 and variance exactly 1 - the flax
    initial values; one training-mode apply whose returned ``batch_stats`` are kept moves
    both). Empty where none is found. A fact: the rulebook reads it with the steps taken."""
    import numpy as np

    n = at_init = 0
    stack = [variables]
    while stack:
        node = stack.pop()
        if hasattr(node, "to_pure_dict"):  # an nnx State
            node = node.to_pure_dict()
        if not isinstance(node, dict):
            continue
        mean, var = node.get("mean"), node.get("var")
        if mean is not None and var is not None and hasattr(mean, "shape") and hasattr(var, "shape"):
            n += 1
            m, v = np.asarray(jax.device_get(mean)), np.asarray(jax.device_get(var))
            at_init += int(bool(np.all(m == 0.0) and np.all(v == 1.0)))
            continue
        stack.extend(node.values())
    return {"bn_layers": float(n), "bn_stats_at_init": float(at_init)} if n else {}


def module_params(params: Any) -> tuple[Any, list[Any]]:
    """``(parameter pytree, mode layers)`` from what ``Recorder(params=...)`` was given: a flax
    ``nnx.Module`` gives its ``nnx.Param`` state and its submodules whose behaviour depends on
    the mode (``BatchNorm``'s ``use_running_average``, ``Dropout``'s ``deterministic``: what
    ``model.eval()`` / ``model.train()`` set), read at each logged step as the torch Monitor
    reads its dropout / batch-norm submodules' ``training``; anything else is returned as is."""
    if not _is_nnx(params):
        return params, []
    from flax import nnx

    modal = [v for _, v in nnx.iter_graph(params) if isinstance(v, nnx.Module)
             and (hasattr(v, "use_running_average") or hasattr(v, "deterministic"))]  # fmt: skip
    return nnx.state(params, nnx.Param), modal


def note_modes(model: Any, modal: list[Any]) -> None:
    """``has_batchnorm`` / ``has_dropout`` of the recorded model from its mode layers."""
    if modal:
        model.has_batchnorm = any(hasattr(v, "use_running_average") for v in modal)
        model.has_dropout = any(hasattr(v, "deterministic") for v in modal)


def all_in_eval(modal: list[Any]) -> bool:
    """Every mode layer in inference mode (running averages used, dropout off)."""
    return all(getattr(v, "use_running_average", None) is True or getattr(v, "deterministic", None) is True
               for v in modal)  # fmt: skip
