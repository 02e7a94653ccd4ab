"""scikit-learn's bundled digits, scaled to [0, 1]: the small real data set most adapter tests train on."""

from __future__ import annotations

import numpy as np


def scaled_digits(n: int | None = None, y_dtype: type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` digits (all 1,797 when None): float32 pixels / 16 and ``y_dtype`` labels."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x[:n] / 16.0).astype(np.float32), y[:n].astype(y_dtype)
