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


def _twins(names: list[str]) -> list[tuple[str, str, SeriesKey]]:
    """(plain name, its ``avg_`` twin, the key both map to) for the names of one file."""
    from traindx.names import _decompose, map_name

    averaged: dict[SeriesKey, str] = {}  # key -> the avg name that maps to it
    plain: dict[SeriesKey, list[str]] = {}
    for n in names:
        key = map_name(n)
        if key is None or key.statistic != "value":
            continue
        parts = _decompose(n)
        if not isinstance(parts, str) and AVERAGED_WHY in parts.trace:
            averaged.setdefault(key, n)
        else:
            plain.setdefault(key, []).append(n)
    return [(n, avg, key) for key, avg in averaged.items() for n in plain.get(key, [])]


def average_twins(names: list[str]) -> dict[str, str]:
    """Overrides for the names of one file: each plain name whose key an ``avg_`` name of the
    file also maps to becomes that key's per-step statistic (``loss`` -> ``train/loss:step``
    beside ``avg_loss``)."""
    from traindx.names import _target

    return {n: _target(str(key.model_copy(update={"statistic": "step"})),
                       f"'{n.strip()}' beside its epoch average '{avg.strip()}' in one file: the per-step value")
            for n, avg, key in _twins(names)}  # fmt: skip


def epoch_averages(names: list[str]) -> set[str]:
    """The ``avg_`` names of a file where one of them has a per-step twin (:func:`average_twins`):
    the file's epoch-end averages, logged against the epoch index where their x values say so
    (ignite's ``training/avg_loss`` beside ``training/loss``, and its ``validation/avg_loss``)."""
    from traindx.names import _decompose

    if not _twins(names):
        return set()
    return {n for n in names if not isinstance(p := _decompose(n), str) and AVERAGED_WHY in p.trace}
