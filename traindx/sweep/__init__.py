"""``traindx sweep``: every run under a directory diagnosed (in parallel when asked), the
runs grouped by what is wrong with them, and which hyperparameters decide it.

>>> report = sweep("runs/", executor="process")      # doctest: +SKIP
>>> report.hyperparameters[0].name, report.suggest    # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["EXECUTORS", "Cluster", "Hyperparameter", "RunSummary", "SweepReport", "sweep"]

if TYPE_CHECKING:
    from traindx.sweep.report import (
        EXECUTORS,
        Cluster,
        Hyperparameter,
        RunSummary,
        SweepReport,
        sweep,
    )


def __getattr__(name: str) -> Any:
    """The public names, imported on first use: ``traindx --help`` and ``traindx diagnose``
    register the ``sweep`` subcommand (traindx.sweep.cli) without loading the sweep."""
    if name not in __all__:
        raise AttributeError(f"module 'traindx.sweep' has no attribute {name!r}")
    from traindx.sweep import report

    value = getattr(report, name)
    globals()[name] = value
    return value
