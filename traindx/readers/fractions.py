"""Accuracy written as a fraction string (issue 10, a beginner's habit): ``f"{correct}/{total}"``
in a table's ``correct`` or ``val_acc`` column (``'79/114'``). Such a cell is the share
correct/total (0.693) where the column's name is an accuracy or a count of correct answers;
in any other column it stays "not a number", counted. A ``correct`` column read so is the
accuracy of the split its name says (``val_correct`` -> ``val/accuracy``); a ``correct``
column of plain counts is not an accuracy and is not read as one."""

from __future__ import annotations

import re

import numpy as np

_FRACTION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*")
_CORRECT = re.compile(r"(?i)(?<![a-z])(n_|num_)?correct(?![a-z])")


def accuracy_like(name: str) -> bool:
    """The column's name says an accuracy or a count of correct answers."""
    from traindx.names import map_name

    key = map_name(name)
    return key is not None and key.metric == "accuracy" or correct_key(name) is not None


def correct_key(name: str) -> str | None:
    """``val_correct`` -> ``val/accuracy``: the key of a count-of-correct column read as a share."""
    from traindx.names import map_name

    if not _CORRECT.search(name):
        return None
    key = map_name(_CORRECT.sub("acc", name))
    return str(key) if key is not None and key.metric == "accuracy" else None


def parse_fractions(values: np.ndarray, present: np.ndarray, cells: list[str], bad: list[int]) -> list[int]:
    """Read the ``bad`` cells that are fractions ``a/b`` (0 <= a <= b, b > 0) into ``values``
    (marking them ``present``); the indices of the cells still bad."""
    still: list[int] = []
    for i in bad:
        m = _FRACTION.fullmatch(cells[i])
        a, b = (float(m[1]), float(m[2])) if m else (0.0, 0.0)
        if m and b > 0 and a <= b:
            values[i], present[i] = a / b, True
        else:
            still.append(i)
    return still
