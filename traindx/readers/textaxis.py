"""The x axis of printed training output's records (:mod:`traindx.readers.textlog`), and the
percentages a line names by their split alone (``train 95.1% val 93.2%``)."""

from __future__ import annotations

import re
from typing import Any

from traindx.readers import textsteps as steps

EVAL_NAME = re.compile(r"(?i)(?:val(?:id(?:ation)?)?|eval(?:uation)?|test|dev)(?![a-z])")


def with_axis(records: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """One record per epoch: the epoch is the x axis; more: the steps the lines print (a Keras
    bar's batches, ``step 300``, XGBoost's ``[10]``), else the record order, epoch beside."""
    by_step = steps.step_axis(records)
    if by_step is not None:
        return by_step
    records = steps.plain(records)
    rest = records[_preamble(records):]
    epochs = [r.get("epoch") for _, r in rest]
    if rest and None not in epochs and len(set(epochs)) == len(epochs) and all(float(e).is_integer() for e in epochs):  # type: ignore[arg-type]
        return rest
    if len(rest) >= 2 and all(_evaluated(r) for _, r in rest):
        # no marker, yet every line holds a validation value beside a training one: one line
        # per evaluation, i.e. per epoch (issue 10: timestamped ``logging`` lines read per step)
        return [(i, {"epoch": k, **r}) for k, (i, r) in enumerate(rest)]
    return [(i, {"step": k, **r}) for k, (i, r) in enumerate(records)]


def _evaluated(rec: dict[str, Any]) -> bool:
    """A record with a validation value and a training one (no epoch, no step of its own)."""
    names = [k for k in rec if isinstance(k, str) and k not in ("epoch", "step")]
    evals = [k for k in names if EVAL_NAME.match(k)]
    return bool(evals) and len(evals) < len(names) and "epoch" not in rec


def _preamble(records: list[tuple[int, dict[str, Any]]]) -> int:
    """How many leading records hold no epoch and no name of a metric: a header printed before
    training (``start training: 1500 train / 300 val digits, z=8``, ``train=2000 val=400``).
    They are dropped where the epoch lines that follow give the axis, instead of turning it into
    the record order."""
    from traindx.names import map_name

    n = 0
    for _, r in records:
        if r.get("epoch") is not None or any(map_name(k) is not None for k in r):
            break
        n += 1
    return n


#: A split's name alone before a number: ``train 2.49e-01 val 4.27e-02`` (the metric left unsaid).
_BARE = re.compile(r"(?i)train(?:ing)?|trn|val(?:id(?:ation)?)?|eval(?:uation)?|dev|test")


def percent_split(name: str, pct: str | None) -> str:
    """A split's name alone before a percentage (``train 95.1% val 93.2%``) is a share, an accuracy
    most likely, never a loss: named ``train percent`` so that the bare split words read as losses
    (:func:`traindx.names.paired_names`) leave it."""
    return f"{name} percent" if pct and _BARE.fullmatch(name) else name

