"""Parameter pytrees: key paths, layer names and grouping, array leaves."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
from jax import tree_util as jtu

from traindx.schema import LayerInfo

_DIGITS = re.compile(r"(\d+)")
_ROOT_LEAF = re.compile(r"[A-Za-z_]*?_?(\d+)")


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
        return _numeric(dt)
    except TypeError:  # an unhashable dtype-like attribute: asked directly
        return _numeric.__wrapped__(dt)


@lru_cache(maxsize=64)
def _numeric(dt: Any) -> bool:
    """Whether ``dt`` is a number or bool dtype (``jnp.issubdtype`` per leaf was a tenth of a
    host telemetry step on a net of 30 small layers: asked once per dtype)."""
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
    leaves, treedef = jtu.tree_flatten(tree)
    keep = tuple(is_array(x) for x in leaves)
    paths, names, seg = _structure(treedef, keep, tree)
    return [x for x, k in zip(leaves, keep, strict=True) if k], names, seg, paths


#: (treedef, which leaves are arrays) -> (paths, layer names, layer of each leaf). A tree's
#: paths and layers depend on its structure alone; a host telemetry step (:mod:`.host`) asks
#: for them at every telemetry step (the paths as text were a fifth of its numpy's time on a
#: net of 30 small layers). Bounded: a few structures a run.
_STRUCTURES: dict[Any, tuple[tuple[tuple[str, ...], ...], tuple[str, ...], tuple[int, ...]]] = {}


def _structure(treedef: Any, keep: tuple[bool, ...], tree: Any) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...], tuple[int, ...]]:
    key = (treedef, keep)
    try:
        hit = _STRUCTURES.get(key)
    except TypeError:  # a node whose static data cannot be hashed: not kept
        key, hit = None, None
    if hit is not None:
        return hit
    flat, _ = jtu.tree_flatten_with_path(tree)
    paths = tuple(tuple(path_parts(p)) for (p, _), k in zip(flat, keep, strict=True) if k)
    names, seg = _grouping(treedef, paths)
    hit = (paths, names, seg)
    if key is not None:
        if len(_STRUCTURES) >= 64:
            _STRUCTURES.clear()
        _STRUCTURES[key] = hit
    return hit


def first_array(x: Any, xp: Any = jnp) -> jax.Array:
    return xp.asarray(x if hasattr(x, "shape") else jtu.tree_leaves(x)[0])


_INDEX = re.compile(r"_(\d+)(?=$|[./])")


def mark_output(layers: list[LayerInfo], width: int) -> None:
    """Mark the layer that produces the model's ``width`` outputs ``is_output``. The layers
    come in the parameter tree's key order (sorted names: flax's ``Dense_0`` head sorts before
    ``RNN_0``, ``Dense_10`` before ``Dense_2``), not in model order, so the last one is not the
    output. Of the layers ``width`` units wide, the one with the highest creation index
    (``Dense_3`` after ``Dense_1``: flax numbers a type's layers as they are made), the last
    listed on a tie; none marked when no layer is that wide (the last stays the output)."""
    if any(layer.is_output for layer in layers):
        return
    cands = [
        (i, layer) for i, layer in enumerate(layers)
        if layer.output_shape and len(layer.output_shape) == 2 and layer.output_shape[-1] == width
    ]  # fmt: skip
    if not cands:
        return

    def order(item: tuple[int, LayerInfo]) -> tuple[int, int]:
        found = _INDEX.findall(item[1].name or "")
        return (int(found[0]) if found else -1, item[0])

    best = max(cands, key=order)[1]
    best.is_output = True
