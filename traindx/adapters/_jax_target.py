"""The targets a :func:`~traindx.adapters.jax.telemetry_jit` step's loss compares its output
with, found in the step's graph when ``telemetry`` was given no ``labels=``.

:func:`label_index` reads the step's jaxpr (the trace its first call compiles; nothing runs)
for the input the loss compares the output (``logits=``) with; :func:`see_labels` reads that
argument's values on the host at the first calls. The Recorder writes their range as the
``target_min`` / ``target_max`` flags, as it does from ``labels=`` or ``data=(x, y)``: a
sigmoid output trained on targets above 1 then shows without the user passing the labels.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from traindx.adapters._jax_graph import (
    _PASS,
    OUT_SCOPE,
    SCOPE,
    StepGraph,
    _inputs_var,
    _is_var,
    _sub_jaxpr,
)

LABEL_READS = 32  # calls whose label argument is read
LABEL_ELEMENTS = 1 << 16  # of each, at most this many values
_MEET = {"sub", "add", "mul", "div"}  # where a loss compares the output with its target
_OUT = -1  # the dependency mark of the output


def label_index(closed: Any) -> int | None:
    """The step's input (index into its jaxpr's inputs) the loss compares the output with:
    the first ``sub``/``add``/``mul``/``div`` whose one operand is computed from the output
    alone (``pred``, ``log_sigmoid(logits)``) and whose other is one step input passed
    through reshapes and casts only (``y``, ``y[:, None]``) with the output's leading (batch)
    size - ``(pred - y) ** 2``, ``logits * y`` of a binary cross-entropy. The values of that
    input are the targets as the loss sees them. None when the step compares the output with
    nothing so plain (integer labels gathered, a one-hot made in the step, a target
    standardized in the step) or has no ``logits=``."""
    jaxpr = closed.jaxpr
    out = _inputs_var(jaxpr, OUT_SCOPE)
    if out is None or not getattr(out.aval, "shape", ()):
        return None
    deps: dict[Any, frozenset[int]] = {v: frozenset((i,)) for i, v in enumerate(jaxpr.invars)}
    plain = set(jaxpr.invars)  # an input up to reshapes and casts
    sizes = [tuple(getattr(v.aval, "shape", ())) for v in jaxpr.invars]
    return _meets(jaxpr, deps, plain, out, int(out.aval.shape[0]), sizes, 0)


def _meets(jaxpr: Any, deps: dict[Any, frozenset[int]], plain: set[Any], out: Any, n: int,
           sizes: list[tuple[int, ...]], depth: int) -> int | None:  # fmt: skip
    """Follow the equations in order (into calls: jit, custom_jvp), each variable with the
    step inputs it depends on (the output, once made, as :data:`_OUT`)."""
    for e in jaxpr.eqns:
        stack = str(e.source_info.name_stack)
        if OUT_SCOPE in stack or SCOPE in stack:
            continue  # telemetry's own marks
        ins = [v for v in e.invars if _is_var(v)]
        sub = _sub_jaxpr(e) if depth < 20 else None
        if sub is not None:
            inner = sub[0]
            for iv, ov in zip(inner.invars, e.invars, strict=True):
                deps[iv] = deps.get(ov, frozenset()) if _is_var(ov) else frozenset()
                if _is_var(ov) and ov in plain:
                    plain.add(iv)
            found = _meets(inner, deps, plain, out, n, sizes, depth + 1)
            if found is not None:
                return found
            for ov, iv in zip(e.outvars, inner.outvars, strict=True):
                deps[ov] = deps.get(iv, frozenset()) if _is_var(iv) else frozenset()
                if _is_var(iv) and iv in plain:
                    plain.add(ov)
        else:
            if e.primitive.name in _MEET and len(ins) == 2:
                for a, b in (ins, ins[::-1]):
                    src = deps.get(b, frozenset())
                    if deps.get(a) == {_OUT} and b in plain and len(src) == 1:
                        i = next(iter(src))
                        if i >= 0 and sizes[i][:1] == (n,):
                            return i
            d = frozenset().union(*(deps.get(v, frozenset()) for v in ins))
            for ov in e.outvars:
                deps[ov] = d
                if e.primitive.name in _PASS and len(ins) == 1 and ins[0] in plain:
                    plain.add(ov)
        if any(o is out for o in e.outvars):
            deps[out] = frozenset((_OUT,))  # computed from here on from it alone: the output's
    return None


def step_leaves(args: tuple[Any, ...], kwargs: dict[str, Any], jit_kwargs: dict[str, Any], flag: Any) -> list[Any]:
    """The step's arguments as its jaxpr's inputs: the array leaves of the arguments that
    ``jax.jit`` traces (not ``static_argnums`` / ``static_argnames``), after the host
    design's telemetry ``flag`` (None in the compiled design)."""
    nums = jit_kwargs.get("static_argnums")
    nums = () if nums is None else (nums,) if isinstance(nums, int) else nums
    nums = {i % len(args) for i in nums if -len(args) <= i < len(args)}
    names = jit_kwargs.get("static_argnames") or ()
    names = {names} if isinstance(names, str) else set(names)
    dyn = ([a for i, a in enumerate(args) if i not in nums], {k: v for k, v in kwargs.items() if k not in names})
    return ([] if flag is None else [flag]) + jax.tree_util.tree_leaves(dyn)


def see_labels(graph: StepGraph, leaves: list[Any]) -> None:
    """Add the label argument's values to ``graph.label_facts`` (``TargetFacts``: range,
    integer or not, distinct values), at the first :data:`LABEL_READS` calls only and only
    from an array on the host or already computed (never a wait on the device; the values
    are copied, nothing of the step changes)."""
    if graph.label_at is None or graph.label_reads >= LABEL_READS:
        return
    graph.label_reads += 1  # tries, read or not: a bounded cost
    if len(leaves) != graph.n_invars:
        graph.label_at = None  # the arguments do not map onto the graph's inputs: not known
        return
    a = leaves[graph.label_at]
    if not isinstance(a, np.ndarray):
        ready = getattr(a, "is_ready", None)
        if not (callable(ready) and getattr(a, "is_fully_addressable", False) and ready()):
            return
    graph.label_facts.add(np.asarray(a), limit=LABEL_ELEMENTS)
