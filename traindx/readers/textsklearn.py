"""scikit-learn's verbose MLP output in a text log (:mod:`traindx.readers.textlog`)."""

from __future__ import annotations

import re
from typing import Any

_ESTIMATOR = re.compile(r"(?i)[a-z]*(classifier|regressor)\b")
#: scikit-learn's verbose MLP with early_stopping prints "Validation score: 0.93": the
#: estimator's score(), accuracy for a classifier and R^2 for a regressor.
_SCORE_AS = {"classifier": "val_accuracy", "regressor": "val_r2"}


def sklearn_score(text: str, records: list[tuple[int, dict[str, Any]]]) -> None:
    """Read scikit-learn's ``Validation score`` as the validation accuracy (R^2) where the
    file names only classifiers (only regressors); otherwise it stays unread, and counted."""
    if not any("validation score" in r for _, r in records):
        return
    kinds = {m.group(1).lower() for m in _ESTIMATOR.finditer(text)}
    if len(kinds) != 1:
        return
    name = _SCORE_AS[kinds.pop()]
    for _, r in records:
        if "validation score" in r:
            r[name] = r.pop("validation score")
