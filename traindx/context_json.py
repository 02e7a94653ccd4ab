"""``context.json`` without pydantic: the adapters' writer and the readers' fast path.

pydantic's import and the context's validating twin cost a fresh process 0.13-0.25 s of
CPU (issue 15: most of a short JAX run's fixed cost after its compile). A
:class:`~traindx.schema.RunContext` holds JSON's own values (None, bool, int, float, str,
lists and dicts of them) and five nested models, so both directions are plain ``json``:

* :func:`dumps`: the text, non-finite floats as ``null`` as pydantic writes them; None when a
  value is of another type (a numpy int, a tuple...): the writer uses pydantic then. The
  text is not pydantic's byte for byte (floats as Python writes them: ``1e-05`` where
  pydantic writes ``0.00001``), but the same JSON values of the same JSON types (an int in a
  float field is written as a float, as pydantic does), so both readers read the same.
* :func:`construct`: a context model made by an adapter, the same way.
* :func:`loads`: the context pydantic's ``model_validate_json`` gives, where every value has
  the type its field names (an int for a float field is that float, as pydantic's lax mode
  makes it) and no key is unknown or repeated; None otherwise, and the reader validates with
  pydantic (the same context, or its error message): :func:`read`.
"""

from __future__ import annotations

import json
import math
import types
import typing
from functools import cache
from typing import Any

from traindx import schema
from traindx.lazymodel import _MISSING
from traindx.schema import DataInfo, LayerInfo, LossInfo, ModelInfo, OptimizerInfo, RunContext

_MODELS = (RunContext, ModelInfo, LayerInfo, LossInfo, OptimizerInfo, DataInfo)
_EXACT_INT = 2**53  # larger ints as floats: left to pydantic


class _Slow(Exception):
    """A value the plain path does not take: pydantic decides."""


# --------------------------------------------------------------------------- writing


def _plain(v: Any, tp: Any = Any) -> Any:
    """``v`` as JSON's values; ``tp`` its field's type (an int in a float field is written as
    that float, as pydantic writes it)."""
    t = type(v)
    if t is int and tp in _FLOATS:
        return float(v) if abs(v) <= _EXACT_INT else v
    if v is None or t is str or t is bool or t is int:
        return v
    if isinstance(v, float):  # numpy's float64 too: written as the float it is, as pydantic does
        return float(v) if math.isfinite(v) else None
    if t is list:
        item = typing.get_args(tp)[0] if typing.get_origin(tp) is list else Any
        return [_plain(x, item) for x in v]
    if t is dict:
        if any(type(k) is not str for k in v):
            raise _Slow
        return {k: _plain(x) for k, x in v.items()}
    if t in _MODELS:
        d = v.__dict__
        if any(name not in d for name in t._fields):
            raise _Slow
        hints = _fields(t)  # type: ignore[arg-type]
        return {name: _plain(d[name], _unwrap(hints[name])) for name in t._fields}
    raise _Slow


def _unwrap(tp: Any) -> Any:
    """``X | None`` -> ``X`` (what a written value is checked against)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        return arms[0] if len(arms) == 1 else tp
    return tp


_FLOATS = (float,)


def dumps(ctx: RunContext) -> str | None:
    """``ctx`` as ``context.json``'s text (indent 1), or None: pydantic writes it."""
    try:
        text = json.dumps(_plain(ctx), indent=1, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")  # a lone surrogate: pydantic's error
    except (_Slow, ValueError, UnicodeError, RecursionError):
        return None
    return text


# --------------------------------------------------------------------------- reading


@cache
def _fields(cls: type) -> dict[str, Any]:
    """The field annotations of a context model, evaluated."""
    out = {}
    for name in cls._fields:  # type: ignore[attr-defined]
        ann = next(k.__dict__["__annotations__"][name] for k in cls.__mro__
                   if name in k.__dict__.get("__annotations__", {}))  # fmt: skip
        out[name] = eval(ann, vars(schema)) if isinstance(ann, str) else ann  # noqa: S307 - the schema's own text
    return out


@cache
def _required(cls: type) -> tuple[str, ...]:
    """The fields of a context model without a default."""
    return tuple(n for n, spec in cls._fields.items() if spec.default is _MISSING and spec.factory is None)  # type: ignore[attr-defined]


def _value(tp: Any, v: Any) -> Any:
    """``v`` (from ``json``) as pydantic validates it into ``tp``; raises _Slow where unsure."""
    if tp is Any:
        return v
    t = type(v)
    if tp is str or tp is bool:
        if t is not tp:
            raise _Slow
        return v
    if tp is int:
        if t is not int or abs(v) > _EXACT_INT:
            raise _Slow
        return v
    if tp is float:
        if t is float:
            return v
        if t is int and abs(v) <= _EXACT_INT:
            return float(v)
        raise _Slow
    if tp is type(None):
        if v is not None:
            raise _Slow
        return v
    if tp in _MODELS:
        if t is tp:  # a model already made: kept as it is, as pydantic keeps a LazyModel
            return v
        if t is not dict:
            raise _Slow
        hints = _fields(tp)
        if any(k not in hints for k in v) or any(k not in v for k in _required(tp)):
            raise _Slow
        return tp.model_construct(**{k: _value(hints[k], x) for k, x in v.items()})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        if v is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        if len(arms) == 1:
            return _value(arms[0], v)
        exact = [a for a in arms if a is t]  # float | bool | str: the arm of the value's own type
        if len(exact) != 1 or t is int:
            raise _Slow
        return v
    if origin is typing.Literal:
        if t is not str or v not in args:
            raise _Slow
        return v
    if origin is list:
        if t is not list:
            raise _Slow
        return [_value(args[0], x) for x in v]
    if origin is dict:
        if t is not dict or args[0] is not str:
            raise _Slow
        return {k: _value(args[1], x) for k, x in v.items()}
    raise _Slow


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # a repeated key
        raise _Slow
    return out


def _constant(name: str) -> Any:  # NaN, Infinity: pydantic's parser decides
    raise _Slow


def loads(data: str | bytes) -> RunContext | None:
    """The :class:`RunContext` of a ``context.json`` text, or None: validate it with pydantic."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
        return _value(RunContext, doc)
    except (_Slow, ValueError, UnicodeError, RecursionError):
        return None


def read(data: str | bytes) -> RunContext:
    """``RunContext.model_validate_json(data)``, with :func:`loads` where it can."""
    ctx = loads(data)
    return ctx if ctx is not None else RunContext.model_validate_json(data)


def construct(cls: type[Any], **values: Any) -> Any:
    """``cls(**values)`` for a context model (RunContext and its parts): the same instance
    pydantic's validation makes, without pydantic where every value has its field's type
    (the adapters' own values: ints, floats, strings, lists); else pydantic validates."""
    try:
        return _value(cls, values)
    except (_Slow, RecursionError):
        return cls(**values)
