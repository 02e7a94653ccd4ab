"""Where a loss blow-up falls on the logged learning-rate schedule.

A loss that leaves its range while the logged LR is climbing (a warm-up, a growing
schedule) or soon after it reached a peak far above where it started blew up because of
the step size; a blow-up at a flat LR says nothing of the kind. These facts place the
blow-up's onset (``loss.explode_step``) on the LR curve; the rulebook judges them.
"""

from __future__ import annotations

import numpy as np


def lr_at_onset(lr_steps: np.ndarray, lr: np.ndarray, onset: int) -> dict[str, float]:
    """The logged LR at ``onset`` (its last finite value at or before that step) over the
    first logged LR (``explode_over_first``) and over the LR's peak (``explode_over_max``);
    both -1 when there is no onset (``onset`` < 0: the loss did not blow up), the LR was not
    logged by then, or it is not positive."""
    none = {"explode_over_first": -1.0, "explode_over_max": -1.0}
    ok = np.isfinite(lr)
    s, v = lr_steps[ok], lr[ok]
    if onset < 0 or v.size < 2 or s[0] > onset:
        return none
    first, top = float(v[0]), float(v.max())
    at = float(v[int(np.searchsorted(s, onset, side="right")) - 1])
    if not (first > 0.0 and top > 0.0):
        return none
    return {"explode_over_first": at / first, "explode_over_max": at / top}
