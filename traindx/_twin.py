"""The pydantic twin of a :class:`~traindx.lazymodel.LazyModel`: built from its declarations.

Imported only when a model is validated, dumped or described (JSON schema): this is where
traindx imports pydantic. The twin has the model's name, docstring, fields (in pydantic's
order: the bases' first), configuration and validators, so that its errors, dumps and
schemas are those the model had when it was a pydantic model itself; a field typed with
another LazyModel is validated and serialized through that model's twin.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal  # noqa: F401 - names annotations may use

import pydantic

from traindx.lazymodel import LazyModel, module_of

_PYDANTIC = {name: getattr(pydantic, name) for name in (
    "Field", "AfterValidator", "BeforeValidator", "WithJsonSchema", "ConfigDict",
)}  # fmt: skip
_namespaces: dict[str, dict[str, Any]] = {}


def _namespace(module: Any) -> dict[str, Any]:
    """Where a module's annotation strings are read: its globals, pydantic's names and the
    module's constrained types (``_validation_types()``)."""
    ns = _namespaces.get(module.__name__)
    if ns is None:
        ns = {"Annotated": Annotated, "Literal": Literal, **vars(module), **_PYDANTIC}
        extra = getattr(module, "_validation_types", None)
        if extra is not None:
            ns.update(extra())
        _namespaces[module.__name__] = ns
    return ns


def build(cls: type[LazyModel]) -> type[pydantic.BaseModel]:
    annotations: dict[str, Any] = {}
    hooks: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, LazyModel)) or klass is LazyModel:
            continue
        ns = _namespace(module_of(klass))
        for name, ann in klass.__dict__.get("__annotations__", {}).items():
            if name in cls._fields:
                annotations[name] = eval(ann, ns) if isinstance(ann, str) else ann  # noqa: S307 - our own source
        for name, value in klass.__dict__.items():
            fn = value.__func__ if isinstance(value, classmethod | staticmethod) else value
            hook = getattr(fn, "__lazymodel_hook__", None)
            if hook is not None:
                hooks[name] = (fn, hook)
    fields: dict[str, Any] = {}
    for name, spec in cls._fields.items():
        kw = dict(spec.kwargs)
        if spec.factory is not None:
            kw["default_factory"] = spec.factory
        elif spec.default is not _missing():
            kw["default"] = spec.default
        fields[name] = (annotations[name], pydantic.Field(**kw))
    validators = {}
    for name, (fn, (kind, args, kw)) in hooks.items():
        if kind == "field_validator":
            kw = {"check_fields": False, **kw}
        validators[name] = getattr(pydantic, kind)(*args, **kw)(fn)
    config = {k: v for k, v in cls.model_config.items() if k != "defer_build"}
    twin: type[pydantic.BaseModel] = pydantic.create_model(
        cls.__name__,
        __config__=pydantic.ConfigDict(**config),  # type: ignore[typeddict-item]
        __doc__=cls.__doc__,
        __module__=cls.__module__,
        __validators__=validators,
        **fields,
    )
    twin.__qualname__ = cls.__qualname__
    return twin


def _missing() -> Any:
    from traindx.lazymodel import _MISSING

    return _MISSING
