"""traindx: a differential diagnosis for deep-learning training runs.

>>> import traindx
>>> report = traindx.diagnose("runs/exp1")     # doctest: +SKIP
>>> d = report[0]                               # doctest: +SKIP
>>> d.healthy, d.causes[0].id, d.causes[0].probability   # doctest: +SKIP
>>> print(traindx.render_text(report))          # doctest: +SKIP

Importing traindx is light: no framework is imported here (adapters live in
``traindx.adapters`` and import their framework when used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Diagnosis", "Report", "Run", "RunContext", "Series", "SeriesKey", "diagnose", "diagnose_all", "read", "render_text"]

if TYPE_CHECKING:
    from traindx.api import Report, diagnose, diagnose_all, read
    from traindx.diagnosis import Diagnosis
    from traindx.report.text import render_text
    from traindx.schema import Run, RunContext, Series, SeriesKey

_LAZY = {
    "diagnose": "traindx.api", "diagnose_all": "traindx.api", "read": "traindx.api", "Report": "traindx.api",
    "Diagnosis": "traindx.diagnosis", "render_text": "traindx.report.text",
    "Run": "traindx.schema", "RunContext": "traindx.schema", "Series": "traindx.schema", "SeriesKey": "traindx.schema",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'traindx' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value
