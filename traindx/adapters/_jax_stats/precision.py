"""Numeric precision facts of a JAX run (facts for the context, never a judgment).

- ``param_dtype``: the floating dtype holding most of the parameters (``float16`` / ``bfloat16``
  parameters keep the optimizer's state in that dtype too: Adam's eps 1e-8 is 0 in float16).
- ``update_nonfinite_finite_grads``: the first telemetry step whose gradients and weights were
  all finite while the update the optimizer returned was not: the optimizer's own arithmetic
  overflowed or divided by zero (m / (sqrt(v) + eps) with eps and v underflowed to 0). A large
  learning rate times a finite gradient is a large but finite update.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np


def param_dtype(params: Any) -> str | None:
    """The floating dtype of the most parameter entries (None without floating leaves)."""
    import jax

    sizes: Counter[str] = Counter()
    for leaf in jax.tree_util.tree_leaves(params):
        dt = getattr(leaf, "dtype", None)
        if dt is not None and (str(dt) == "bfloat16" or np.issubdtype(np.dtype(dt), np.floating)):
            sizes[str(dt)] += int(np.size(leaf))
    return sizes.most_common(1)[0][0] if sizes else None


def update_overflow_step(col: dict[str, int], t: np.ndarray, steps: np.ndarray) -> int | None:
    """The first of these telemetry rows with finite gradients (none counted non-finite, a
    finite global norm), a finite weight norm and a non-finite update ratio; None if none or
    the columns are missing."""
    need = ("train/nonfinite@grads", "train/weight_norm", "train/update_ratio")
    if not t.size or any(k not in col for k in need):
        return None
    ok = (t[:, col["train/nonfinite@grads"]] == 0) & np.isfinite(t[:, col["train/weight_norm"]])
    if "train/grad_norm" in col:
        ok &= np.isfinite(t[:, col["train/grad_norm"]])
    hit = np.flatnonzero(ok & ~np.isfinite(t[:, col["train/update_ratio"]]))
    return int(steps[hit[0]]) if hit.size else None


def precision_flags(col: dict[str, int], t: np.ndarray, steps: np.ndarray, meta: dict[str, Any],
                    flags: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The flags these rows add: ``param_dtype`` (from the telemetry's meta, unless known)
    and ``update_nonfinite_finite_grads`` (the step, kept from the first rows showing it)."""
    out: dict[str, Any] = {}
    if "param_dtype" not in flags and meta.get("param_dtype"):
        out["param_dtype"] = str(meta["param_dtype"])
    if "update_nonfinite_finite_grads" not in flags:
        s = update_overflow_step(col, t, steps)
        if s is not None:
            out["update_nonfinite_finite_grads"] = float(s)
    return out
