"""A metric's epoch average beside its per-step value in one file (:func:`traindx.names.paired_names`).

pytorch-ignite's examples write ``training/loss`` every iteration and ``training/avg_loss``,
``training/avg_accuracy`` at each epoch's end; a hand loop prints ``loss`` per batch and
``loss_avg`` per epoch. :data:`traindx.name_tables.AVERAGED` reads ``avg_X`` as X itself (one
series, its plain value); the plain ``X`` beside it in one file is then X's per-step value
(statistic ``step``), as Lightning's ``train_loss_step`` is beside ``train_loss_epoch``. A name
alone keeps its reading: ``avg_loss`` alone is the loss, ``loss`` alone is the loss.
"""

from __future__ import annotations

from traindx.name_tables import AVERAGED_WHY
from traindx.schema import SeriesKey


def average_twins(names: list[str]) -> dict[str, str]:
    """Overrides for the names of one file: each plain name whose key an ``avg_`` name of the
    file also maps to becomes that key's per-step statistic (``loss`` -> ``train/loss:step``
    beside ``avg_loss``)."""
    from traindx.names import _decompose, _target, map_name

    averaged: dict[SeriesKey, str] = {}  # key -> the avg name that maps to it
    plain: dict[SeriesKey, list[str]] = {}
    for n in names:
        key = map_name(n)
        if key is None or key.statistic != "value":
            continue
        parts = _decompose(n)
        if not isinstance(parts, str) and AVERAGED_WHY in parts.trace:
            averaged.setdefault(key, n.strip())
        else:
            plain.setdefault(key, []).append(n)
    return {n: _target(str(key.model_copy(update={"statistic": "step"})),
                       f"'{n.strip()}' beside its epoch average '{avg}' in one file: the per-step value")
            for key, avg in averaged.items() for n in plain.get(key, [])}  # fmt: skip
