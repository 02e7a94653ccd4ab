"""The base of traindx's data models: plain classes, validated by pydantic only when asked.

A :class:`LazyModel` declares its fields as a pydantic model does (annotations, ``Field``,
``ConfigDict``, ``field_validator``...), but is a plain Python class: building one with
``model_construct``, reading, copying (``model_copy``) and pickling it import nothing. The
pydantic model that validates and serializes it, its *twin*, is made from the same
declarations the first time one is needed: ``Model(**fields)``, ``model_validate*`` (outside
input), ``model_dump*`` (``--json``), ``model_json_schema`` (``traindx schema``), or a
pydantic model with a field of that type. A ``traindx diagnose`` that prints text imports no
pydantic at all (issue 15: pydantic's import alone was a third of its start-up).

Validation gives the same errors as before (the twin has the model's name, fields and
validators), and serialization the same bytes (it is pydantic's serializer). The names this
module exports stand in for pydantic's in the model modules; an annotation string may name
pydantic's own (``Annotated[int, Field(ge=1)]``): it is read with pydantic's names, and with
the constrained types of the model's module's ``_validation_types()`` when it has one, only
when the twin is built.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

_MISSING: Any = object()


def new_list() -> list[Any]:
    """``list()`` as a default factory."""
    return []


def new_dict() -> dict[Any, Any]:
    """``dict()`` as a default factory."""
    return {}


class _FieldSpec:
    """A field's default and its pydantic keywords (constraints, ``exclude``...)."""

    __slots__ = ("default", "factory", "kwargs")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, kwargs: dict[str, Any]) -> None:
        self.default, self.factory, self.kwargs = default, factory, kwargs


class _Private(_FieldSpec):
    """A private attribute (not a field): set on every instance, never validated or dumped."""


def Field(default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None, **kwargs: Any) -> Any:  # noqa: N802
    """``pydantic.Field``: a default (or ``default_factory``) and pydantic's keywords."""
    return _FieldSpec(default, default_factory, kwargs)


def PrivateAttr(default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None) -> Any:  # noqa: N802
    """``pydantic.PrivateAttr``."""
    return _Private(default, default_factory, {})


ConfigDict = dict  #: ``pydantic.ConfigDict`` (a plain mapping; merged along the bases)


def _hook(kind: str, *args: Any, **kw: Any) -> Callable[[Any], Any]:
    def mark(fn: Any) -> Any:
        target: Any = fn.__func__ if isinstance(fn, classmethod | staticmethod) else fn
        target.__lazymodel_hook__ = (kind, args, kw)
        return fn

    return mark


def field_validator(*fields: str, **kw: Any) -> Callable[[Any], Any]:
    """``pydantic.field_validator``, applied by the twin."""
    return _hook("field_validator", *fields, **kw)


def model_validator(**kw: Any) -> Callable[[Any], Any]:
    """``pydantic.model_validator``, applied by the twin (``self`` is the twin's instance)."""
    return _hook("model_validator", **kw)


def field_serializer(*fields: str, **kw: Any) -> Callable[[Any], Any]:
    """``pydantic.field_serializer``, applied by the twin."""
    return _hook("field_serializer", *fields, **kw)


class _TwinAttr:
    """A class attribute read from the twin (``Model.model_fields``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type[LazyModel]) -> Any:
        return getattr(owner.twin(), self.name)


class LazyModel:
    """A data model whose pydantic twin (validator, serializer, JSON schema) is built on first use."""

    model_config: ClassVar[dict[str, Any]] = {}
    _fields: ClassVar[dict[str, _FieldSpec]] = {}
    _private: ClassVar[dict[str, _FieldSpec]] = {}
    _frozen: ClassVar[bool] = False
    _twin_model: ClassVar[Any] = None
    model_fields: ClassVar[Any] = _TwinAttr("model_fields")

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        fields, private = dict(cls._fields), dict(cls._private)
        for name, ann in cls.__dict__.get("__annotations__", {}).items():
            if isinstance(ann, str) and ann.startswith(("ClassVar", "typing.ClassVar")):
                continue
            value = cls.__dict__.get(name, _MISSING)
            spec = value if isinstance(value, _FieldSpec) else _FieldSpec(value, None, {})
            if isinstance(value, _FieldSpec):
                delattr(cls, name)
            (private if name.startswith("_") or isinstance(spec, _Private) else fields)[name] = spec
        config: dict[str, Any] = {}
        for base in reversed(cls.__mro__):
            config.update(base.__dict__.get("model_config", {}))
        cls.model_config, cls._fields, cls._private = config, fields, private
        cls._frozen = bool(config.get("frozen"))
        cls._twin_model = None

    # -- made without validation --------------------------------------------------------------

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Any:
        """An instance of these values, unvalidated (``pydantic.BaseModel.model_construct``)."""
        obj = cls.__new__(cls)
        d = obj.__dict__
        for name, spec in cls._fields.items():
            if name in values:
                d[name] = values[name]
            elif spec.factory is not None:
                d[name] = spec.factory()
            elif spec.default is not _MISSING:
                d[name] = spec.default
        d["__fields_set__"] = set(values) & cls._fields.keys() if _fields_set is None else set(_fields_set)
        obj._init_private()
        return obj

    def _init_private(self) -> None:
        d = self.__dict__
        for name, spec in self._private.items():
            d[name] = spec.factory() if spec.factory is not None else spec.default

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        """A shallow (or ``deep``) copy with ``update``'s values, unvalidated."""
        import copy

        new = type(self).__new__(type(self))
        d = copy.deepcopy(self.__dict__) if deep else dict(self.__dict__)
        if update:
            d.update(update)
            d["__fields_set__"] = d.get("__fields_set__", set()) | (update.keys() & self._fields.keys())
        new.__dict__.update(d)
        return new

    @property
    def model_fields_set(self) -> set[str]:
        """The fields given explicitly (not from their defaults)."""
        return self.__dict__.get("__fields_set__", set())

    # -- validated and serialized by the twin -------------------------------------------------

    def __init__(self, **data: Any) -> None:
        self._take(type(self).twin()(**data))

    def _take(self, twin: Any) -> None:
        d = self.__dict__
        for name in self._fields:
            if name in twin.__dict__:
                d[name] = twin.__dict__[name]
        d["__fields_set__"] = set(twin.model_fields_set)
        self._init_private()

    @classmethod
    def _from_twin(cls, twin: Any) -> Any:
        obj = cls.__new__(cls)
        obj._take(twin)
        return obj

    @classmethod
    def model_validate(cls, obj: Any, **kw: Any) -> Any:
        if isinstance(obj, cls):
            return obj
        return cls._from_twin(cls.twin().model_validate(obj, **kw))

    @classmethod
    def model_validate_json(cls, data: str | bytes, **kw: Any) -> Any:
        return cls._from_twin(cls.twin().model_validate_json(data, **kw))

    @classmethod
    def model_json_schema(cls, **kw: Any) -> dict[str, Any]:
        return cls.twin().model_json_schema(**kw)

    def as_twin(self) -> Any:
        """This instance as its twin's, unvalidated (nested models stay as they are)."""
        d = self.__dict__
        values = {name: d[name] for name in self._fields if name in d}
        return type(self).twin().model_construct(_fields_set=self.model_fields_set, **values)

    def model_dump(self, **kw: Any) -> dict[str, Any]:
        return self.as_twin().model_dump(**kw)

    def model_dump_json(self, **kw: Any) -> str:
        return self.as_twin().model_dump_json(**kw)

    @classmethod
    def twin(cls) -> Any:
        """The pydantic model of this class (built once, on first use)."""
        t = cls.__dict__.get("_twin_model")
        if t is None:
            from traindx._twin import build

            t = build(cls)
            cls._twin_model = t
        return t

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """As a field of a pydantic model: validated and serialized as the twin, held as ``cls``."""
        from pydantic_core import core_schema as cs

        inner = handler(cls.twin())

        def validate(value: Any, nxt: Any) -> Any:
            return value if isinstance(value, cls) else cls._from_twin(nxt(value))

        def serialize(value: Any, nxt: Any) -> Any:
            return nxt(value.as_twin() if isinstance(value, LazyModel) else value)

        ser = cs.wrap_serializer_function_ser_schema(serialize, schema=inner)
        return cs.no_info_wrap_validator_function(validate, inner, serialization=ser)

    # -- plain-object protocol, as pydantic's --------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen and name in self._fields:
            raise TypeError(f"{type(self).__name__} is frozen: field {name!r} cannot be set")
        object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        d = self.__dict__
        return tuple(d.get(name, _MISSING) for name in (*self._fields, *self._private))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyModel):
            return NotImplemented
        return type(self) is type(other) and self._values() == other._values()

    def __hash__(self) -> int:
        if not self._frozen:
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash((type(self), *(self.__dict__.get(n) for n in self._fields)))

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        d = self.__dict__
        yield from ((name, d[name]) for name in self._fields if name in d)

    def __repr_args__(self) -> Iterator[tuple[str, Any]]:
        d = self.__dict__
        for name, spec in self._fields.items():
            if name in d and spec.kwargs.get("repr", True):
                yield name, d[name]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__repr_args__())})"

    def __str__(self) -> str:
        return " ".join(f"{k}={v!r}" for k, v in self.__repr_args__())


def module_of(cls: type) -> Any:
    """The module that defines ``cls`` (where its annotations are read)."""
    return sys.modules[cls.__module__]
