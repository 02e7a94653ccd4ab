"""The base of traindx's data models: pydantic models whose validators are built on first use.

Pydantic builds a model's validator and serializer when the class is defined, unless
``defer_build`` is set; over the schema, the diagnosis and the rulebook that was a fifth of
a ``traindx diagnose``. A :class:`LazyModel` builds them the first time an instance is
validated (``Model(...)``, ``model_validate``) or dumped (``model_dump``, ``--json``), so a
command pays only for the models it validates. The engine builds the diagnosis, and the API
its report, from values they made themselves with ``model_construct``, which validates
nothing and builds nothing. Not for models made many times over: pydantic's
``model_construct`` inspects the signature of each default factory it calls (0.4 ms for a
model with one ``default_factory=list``), where a built validator makes one in microseconds.
That inspection is what makes ``list``, ``dict`` and a model class slow factories (0.2-0.5 ms
each: their signatures are parsed from text); :func:`new_list` and :func:`new_dict` are the
same factories as Python functions, whose signatures pydantic reads in microseconds, both
when it builds a validator and in ``model_construct``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


def new_list() -> list[Any]:
    """``list()`` as a default factory whose signature is cheap to inspect."""
    return []


def new_dict() -> dict[Any, Any]:
    """``dict()`` as a default factory whose signature is cheap to inspect."""
    return {}


class LazyModel(BaseModel):
    """A pydantic model built on first validation (``defer_build``); otherwise a BaseModel."""

    model_config = ConfigDict(defer_build=True)
