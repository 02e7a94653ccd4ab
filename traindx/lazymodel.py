"""The base of traindx's data models: pydantic models whose validators are built on first use.

Pydantic builds a model's validator and serializer when the class is defined, unless
``defer_build`` is set; over the schema, the diagnosis and the rulebook that was a fifth of
a ``traindx diagnose``. A :class:`LazyModel` builds them the first time an instance is
validated (``Model(...)``, ``model_validate``) or dumped (``model_dump``, ``--json``), so a
command pays only for the models it validates. Code that builds a model from values it made
itself and checked (a reader's series, the engine's diagnosis) uses ``model_construct``,
which validates nothing and builds nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LazyModel(BaseModel):
    """A pydantic model built on first validation (``defer_build``); otherwise a BaseModel."""

    model_config = ConfigDict(defer_build=True)
