""":func:`telemetry` as users call it: inside a jitted step it is the fused computation of
:func:`traindx.adapters._jax_stats.telemetry`; called outside ``jit`` (eager code, a
debugging loop) it jits itself, so a call costs one compiled dispatch instead of hundreds of
eager operations (``step=``'s ``lax.cond`` included).

The arguments are split into their array leaves (traced) and everything else: the tree
structure and the leaves that are not arrays (an equinox module's activation functions,
flags), static. ``jax.jit`` keeps one compiled function per structure, shapes and dtypes
and static leaves, so a loop compiles once. Arguments that cannot be static (an unhashable
leaf) are computed eagerly as before.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax import tree_util as jtu

from traindx.adapters import _jax_stats as js
from traindx.adapters._jax_stats import Stats

_NAMES = ("grads", "params", "updates", "loss", "activations", "logits", "labels", "inputs",
          "opt_state", "step")  # fmt: skip


def _dynamic(x: Any) -> bool:
    """A leaf passed to the compiled function as an array (Python numbers too: a new loss
    value must not compile again)."""
    if isinstance(x, (jax.Array, np.ndarray, np.generic)):
        return getattr(x, "dtype", None) != np.dtype(object)
    return isinstance(x, (int, float, complex)) and not isinstance(x, bool)


def _run(dyn: list[Any], static: tuple[Any, tuple[tuple[int, Any], ...]], every: int | None,
         grad_norm_every_step: bool) -> Stats:  # fmt: skip
    treedef, fixed = static
    fixed_at = dict(fixed)
    it = iter(dyn)
    leaves = [fixed_at[i] if i in fixed_at else next(it) for i in range(treedef.num_leaves)]
    kw = dict(zip(_NAMES, jtu.tree_unflatten(treedef, leaves), strict=True))
    return js.telemetry(**kw, every=every, grad_norm_every_step=grad_norm_every_step)


_compiled = jax.jit(_run, static_argnums=(1, 2, 3))


def telemetry(grads: Any = None, params: Any = None, updates: Any = None, loss: Any = None,
              activations: Any = None, logits: Any = None, labels: Any = None, inputs: Any = None,
              *, opt_state: Any = None, step: Any = None, every: int | None = None,
              grad_norm_every_step: bool = False) -> Stats:  # fmt: skip
    args = (grads, params, updates, loss, activations, logits, labels, inputs, opt_state, step)
    if js.MODE.get() is None:  # not inside telemetry_jit's trace
        leaves, treedef = jtu.tree_flatten(args)
        if not any(isinstance(x, jax.core.Tracer) for x in leaves):  # outside any trace
            if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
                raise ValueError(f"every must be a positive int, not {every!r}")
            fixed = tuple((i, x) for i, x in enumerate(leaves) if not _dynamic(x))
            try:
                hash(fixed)
            except TypeError:
                fixed = None  # type: ignore[assignment]
            if fixed is not None:
                dyn = [x for x in leaves if _dynamic(x)]
                return _compiled(dyn, (treedef, fixed), every, bool(grad_norm_every_step))
    return js.telemetry(*args[:8], opt_state=opt_state, step=step, every=every,
                        grad_norm_every_step=grad_norm_every_step)  # fmt: skip


telemetry.__doc__ = js.telemetry.__doc__
