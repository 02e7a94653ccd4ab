"""What a jitted step's graph shows about its model (facts read from the step's jaxpr, never
from running anything): whether it normalizes its inputs before its first layer, and the last
operation of its output.

:func:`traindx.adapters.jax.telemetry` computes the input statistics of the batch it is
given (``inputs=x``), under the name scope :data:`SCOPE`; :class:`~traindx.adapters.jax.TelemetryJit`
traces its step once more (``jax.jit(...).trace``: the trace is the one the first call
compiles, nothing runs) and :func:`first_layer_sees` follows ``x`` through the step's
equations to the first contraction with it (``dot_general``, a convolution): the first
layer. What reached it:

- ``True``: the inputs were normalized on the way - combined with a statistic of themselves
  (``(x - x.mean(0)) / x.std(0)``, a flax ``BatchNorm``/``LayerNorm`` in training mode), or
  divided / multiplied by an array from outside the batch (a standardization with stored
  means and deviations, a ``BatchNorm`` on running statistics) or by a constant that
  shrinks them at least five-fold (``x / 255.0``);
- ``False``: the inputs themselves (up to reshapes, casts, shifts, slices);
- ``None``: anything else (a nonlinearity first, a scan, indices into an embedding, no
  first layer found): not known.

The Recorder writes it as the ``input_norm_layer`` flag, the fact the torch and Keras
adapters read from a normalization layer first in the model.

The output (``logits=`` of telemetry, found by the name scope :data:`OUT_SCOPE`) is followed
back through reshapes and casts to the operation that made it (:func:`output_op`): ``sigmoid``
(``logistic``), ``softmax`` / ``log_softmax`` / ``relu`` / ``sigmoid`` (jax.nn's jitted
functions by name), ``tanh``, ``relu`` (a maximum with 0), ``linear`` (a contraction or a bias
added to one); None for anything else. The Recorder reads the output activation from the
output values of the first telemetry step; where the graph says ``linear`` the outputs are
logits whatever their range (raw logits that stay inside (0, 1) in a run that learns nothing
were read as a sigmoid's).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from traindx.adapters._common import TargetFacts
from traindx.adapters._jax_stats.telemetry import INPUTS_SCOPE as SCOPE
from traindx.adapters._jax_stats.telemetry import OUTPUTS_SCOPE as OUT_SCOPE
from traindx.arrays import median

RAW, DERIV, STAT, NORM, UNK = 1, 2, 3, 4, 5  # labels of values that depend on the inputs
_SHAPE = {"convert_element_type", "reshape", "broadcast_in_dim", "squeeze", "expand_dims", "transpose",
          "copy", "copy_p", "slice", "dynamic_slice", "rev", "pad", "concatenate", "reduce_precision",
          "neg", "select_n"}  # fmt: skip
_REDUCE = {"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "argmax", "argmin", "cumsum", "cummax",
           "cummin", "cumprod", "reduce_and", "reduce_or"}  # fmt: skip
_UNARY = {"abs", "sqrt", "rsqrt", "square", "integer_pow", "exp", "exp2", "log", "log1p", "tanh", "logistic",
          "sign", "floor", "ceil", "round", "erf", "cbrt", "sin", "cos", "is_finite", "not"}  # fmt: skip
_BINARY = {"add", "sub", "mul", "div", "max", "min", "pow", "rem", "atan2", "gt", "lt", "ge", "le", "eq", "ne",
           "and", "or"}  # fmt: skip
_CONTRACT = {"dot_general", "conv_general_dilated"}
_SHRINK = 0.2  # a constant factor at most this large scales the inputs down


class StepGraph:
    """What the graph of a :func:`~traindx.adapters.jax.telemetry_jit` step shows:
    ``normalized`` (True / False / None: the first layer sees the inputs normalized) and
    ``output`` (the output's last operation or None), ``relu`` (:func:`relu_in_model`), see
    the module; hashed by identity (it
    rides in the Stats' static meta)."""

    __slots__ = ("label_at", "label_facts", "label_reads", "n_invars", "normalized", "output", "read", "recurrent",
                 "relu")

    def __init__(self) -> None:
        self.normalized: bool | None = None
        self.output: str | None = None
        self.relu: bool | None = None
        self.recurrent = False  # recurrent_in_model
        self.read = False
        # the step input the loss compares the output with, and what its values are (._jax_target)
        self.label_at: int | None = None
        self.n_invars = self.label_reads = 0
        self.label_facts = TargetFacts()

    def read_from(self, closed: Any) -> None:
        self.read = True
        self.n_invars = len(closed.jaxpr.invars)
        for name, read in (("normalized", first_layer_sees), ("output", output_op), ("relu", relu_in_model),
                           ("recurrent", recurrent_in_model)):
            try:
                setattr(self, name, read(closed))
            except Exception:  # noqa: BLE001, S110 - a fact not known; the other may be
                pass


    def flags(self, targets: bool) -> dict[str, Any]:
        """The Recorder's flags: ``input_norm_layer`` (the first layer sees the inputs
        normalized), ``graph_relu`` (the forward pass holds a ReLU-family unit, or holds
        none), ``has_recurrent`` (only when True: :func:`recurrent_in_model`) and, with ``targets``, ``target_min`` / ``target_max`` / ``target_integer`` /
        ``target_distinct`` / ``target_kind`` of the input the loss compares the output with
        (read at the first calls: ._jax_target)."""
        out: dict[str, Any] = {}
        if self.normalized is not None:
            out["input_norm_layer"] = bool(self.normalized)
        if self.relu is not None:
            out["graph_relu"] = bool(self.relu)
        if self.recurrent:  # the fact the other adapters read from a recurrent layer's type
            out["has_recurrent"] = True
        if targets:
            out.update(self.label_facts.flags())
        return out


class _Found(Exception):  # noqa: N818 - control flow: the first layer was reached
    def __init__(self, result: bool | None):
        self.result = result


def first_layer_sees(closed: Any) -> bool | None:
    """Whether the inputs reach the first layer normalized (see the module), from the
    closed jaxpr of a step that called ``telemetry(inputs=x)``."""
    jaxpr = closed.jaxpr
    x = _inputs_var(jaxpr)
    if x is None:
        return None
    consts = {v: c for v, c in zip(jaxpr.constvars, getattr(closed, "consts", ()), strict=False)}
    try:
        _walk(jaxpr, {x: RAW}, consts)
    except _Found as f:
        return f.result
    return None


def _inputs_var(jaxpr: Any, scope: str = SCOPE) -> Any:
    """The variable ``telemetry`` read the input batch (the output) from: what its scope's
    equations take from outside the scope (one variable, or None)."""
    made: set[Any] = set()
    outside: list[Any] = []
    for e in jaxpr.eqns:
        if scope not in str(e.source_info.name_stack):
            continue
        for v in e.invars:
            if _is_var(v) and v not in made and v not in outside:
                outside.append(v)
        made.update(e.outvars)
    return outside[0] if len(outside) == 1 else None


def _is_var(v: Any) -> bool:
    return type(v).__name__ != "Literal" and hasattr(v, "aval")


def _sub_jaxpr(e: Any) -> tuple[Any, tuple[Any, ...]] | None:
    """(inner jaxpr, its consts) of a call-like equation (jit, custom_jvp/vjp, checkpoint)
    whose inputs map one to one onto the inner jaxpr's."""
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        j = e.params.get(key)
        if j is None:
            continue
        inner = getattr(j, "jaxpr", j)
        if hasattr(inner, "eqns") and len(inner.invars) == len(e.invars):
            return inner, tuple(getattr(j, "consts", ()))
    return None


def _walk(jaxpr: Any, env: dict[Any, int], consts: dict[Any, Any]) -> None:
    for e in jaxpr.eqns:
        labels = [env.get(v) if _is_var(v) else None for v in e.invars]
        if not any(labels):
            continue
        if SCOPE in str(e.source_info.name_stack):
            continue  # telemetry's own statistics never reach the model
        name = e.primitive.name
        sub = _sub_jaxpr(e)
        if sub is not None:
            inner, inner_consts = sub
            ienv = {iv: lab for iv, lab in zip(inner.invars, labels, strict=True) if lab}
            ic = {v: c for v, c in zip(inner.constvars, inner_consts, strict=False)}
            _walk(inner, ienv, ic)  # raises _Found when the first layer is inside
            for ov, iv in zip(e.outvars, inner.outvars, strict=True):
                if _is_var(iv) and ienv.get(iv):
                    env[ov] = ienv[iv]
            continue
        out = _label(name, e, labels, consts)
        for ov in e.outvars:
            env[ov] = out


def _label(name: str, e: Any, labels: list[int | None], consts: dict[Any, Any]) -> int:
    x_like = [lab for lab in labels if lab in (RAW, DERIV, NORM, UNK)]
    if name in _CONTRACT:
        if not x_like:
            return STAT  # a product of statistics (telemetry's own, a Gram matrix of means)
        raise _Found(True if NORM in x_like else False if set(x_like) == {RAW} else None)
    if name == "gather":
        if labels[0] is None:  # the inputs index a table (token ids): no scale to speak of
            raise _Found(None)
        return labels[0]
    if name in _REDUCE:
        return STAT
    if name in _SHAPE:
        present = [lab for lab in labels if lab]
        return max(present, key=[RAW, STAT, DERIV, UNK, NORM].index)
    if name in _UNARY:
        lab = next(lab for lab in labels if lab)
        return DERIV if lab == RAW else lab
    if name in _BINARY and len(labels) == 2:
        return _binary(name, e, labels, consts)
    return UNK


def _binary(name: str, e: Any, labels: list[int | None], consts: dict[Any, Any]) -> int:
    a, b = labels
    if NORM in labels:
        return NORM
    if STAT in labels and (a in (RAW, DERIV) or b in (RAW, DERIV)):
        return NORM if name in ("sub", "div", "mul") else DERIV  # x - mean(x), x / std(x)
    if a and b:
        return UNK if UNK in labels else STAT if a == b == STAT else DERIV
    lab, other, x_first = (a, e.invars[1], True) if a else (b, e.invars[0], False)
    if lab in (STAT, UNK) or name in ("add", "sub"):
        return lab  # a shift keeps the scale
    if name not in ("mul", "div") or (name == "div" and not x_first):
        return DERIV if lab == RAW else lab
    value = getattr(other, "val", None) if not _is_var(other) else consts.get(other)
    if value is None:  # an array from outside the batch: stored statistics, a BatchNorm's running ones
        return NORM
    size = float(median(np.abs(np.asarray(value, dtype=np.float64))))
    factor = size if name == "mul" else (1.0 / size if size else np.inf)
    return NORM if factor <= _SHRINK else lab


_PASS = {"convert_element_type", "reshape", "squeeze", "expand_dims", "copy", "copy_p", "broadcast_in_dim",
         "transpose", "slice", "reduce_precision"}  # fmt: skip
_NAMED = {"sigmoid": "sigmoid", "softmax": "softmax", "log_softmax": "log_softmax", "relu": "relu",
          "tanh": "tanh"}  # fmt: skip


def output_op(closed: Any) -> str | None:
    """The operation that made the step's output (see the module), or None."""
    jaxpr = closed.jaxpr
    out = _inputs_var(jaxpr, OUT_SCOPE)
    return None if out is None else _made_by(jaxpr, out, 0)


def _made_by(jaxpr: Any, var: Any, depth: int) -> str | None:
    if depth > 40:
        return None
    eqn = next((e for e in jaxpr.eqns if any(o is var for o in e.outvars)), None)
    if eqn is None:
        return None  # an input of the step (outputs computed outside it)
    name = eqn.primitive.name
    ins = [v for v in eqn.invars if _is_var(v)]
    if name in _PASS and ins:
        return _made_by(jaxpr, ins[0], depth + 1)
    if name == "logistic":
        return "sigmoid"
    if name == "tanh":
        return "tanh"
    if name in _CONTRACT:
        return "linear"
    if name == "max" and any(not _is_var(v) and getattr(v, "val", None) == 0 for v in eqn.invars):
        return "relu"
    if name in ("add", "sub") and ins:  # a bias added to a contraction
        made = [_made_by(jaxpr, v, depth + 1) for v in ins]
        return "linear" if "linear" in made and all(m in ("linear", None) for m in made) else None
    sub = _sub_jaxpr(eqn)
    if sub is not None:
        named = _NAMED.get(str(eqn.params.get("name", "")))
        if named:
            return named
        inner = sub[0]
        k = next(i for i, o in enumerate(eqn.outvars) if o is var)
        iv = inner.outvars[k]
        return _made_by(inner, iv, depth + 1) if _is_var(iv) else None
    return None


_RELU_NAMES = {"relu", "relu6"}  # units that output exactly 0 below a threshold: they can die
_OTHER_NAMES = {"leaky_relu", "elu", "celu", "selu", "gelu", "silu", "swish", "softplus", "soft_sign", "mish",
                "hard_tanh", "hard_sigmoid", "hard_silu", "hard_swish", "sigmoid", "log_sigmoid", "tanh",
                "glu", "squareplus", "sparse_plus"}  # fmt: skip
_WHERE = {"select_n", "_where", "where", "clamp"}  # a hand-written activation could hide here


def relu_in_model(closed: Any) -> bool | None:
    """Whether the operations that made the step's output (``logits=`` of telemetry, followed
    back through every equation it depends on: the model's forward pass, never the loss or
    the gradient) hold a ReLU-family activation: ``True`` for ``jax.nn.relu`` / ``relu6`` (flax's
    ``nn.relu``) or a maximum with 0; ``False`` where they hold a contraction and some other
    known nonlinearity (tanh, sigmoid, GELU, leaky ReLU, ELU...) and nothing a hand-written
    ReLU could hide in (a ``where``/``select``, a clamp); ``None`` otherwise (not known). The
    Recorder writes it as the ``graph_relu`` flag: a model without ReLU units has none to die."""
    jaxpr = closed.jaxpr
    out = _inputs_var(jaxpr, OUT_SCOPE)
    if out is None:
        return None
    found: set[str] = set()
    _ancestors(jaxpr, [out], found, 0)
    if "relu" in found:
        return True
    if "contract" in found and "other" in found and "where" not in found:
        return False
    return None


def _upstream(jaxpr: Any, wanted: list[Any]) -> Iterator[Any]:
    """Each equation of ``jaxpr`` the variables ``wanted`` depend on, once (not into sub-jaxprs)."""
    made = {o: e for e in jaxpr.eqns for o in e.outvars}
    seen: set[int] = set()
    stack = [v for v in wanted if _is_var(v)]
    while stack:
        e = made.get(stack.pop())
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        stack.extend(v for v in e.invars if _is_var(v))
        yield e


def _ancestors(jaxpr: Any, wanted: list[Any], found: set[str], depth: int) -> None:
    """Classify every equation of ``jaxpr`` the variables ``wanted`` depend on into ``found``
    (``relu``, ``other`` nonlinearity, ``contract``, ``where``)."""
    if depth > 20:
        found.add("where")  # too deep to tell: never claim "no ReLU"
        return
    for e in _upstream(jaxpr, wanted):
        name, called = e.primitive.name, str(e.params.get("name", ""))
        if called in _RELU_NAMES:
            found.add("relu")
        elif called in _OTHER_NAMES:
            found.add("other")
        elif name == "max" and any(not _is_var(v) and getattr(v, "val", None) == 0 for v in e.invars):
            found.add("relu")
        elif name in ("tanh", "logistic", "erf", "exp", "log1p", "expm1"):
            found.add("other")
        elif name in _CONTRACT:
            found.add("contract")
        elif name in _WHERE or called in _WHERE or name in ("max", "min"):
            found.add("where")
        else:
            sub = _sub_jaxpr(e)
            if sub is not None:
                _ancestors(sub[0], list(sub[0].outvars), found, depth + 1)
            elif any(k in e.params for k in ("jaxpr", "call_jaxpr", "fun_jaxpr", "body_jaxpr", "branches")):
                found.add("where")  # a loop or branch not followed: not known


def recurrent_in_model(closed: Any) -> bool:
    """Whether the forward pass (the equations the step's output depends on) holds a
    recurrence: a ``scan`` whose carried state passes through a contraction (a matmul or a
    convolution) on its way back into the carry - ``h = tanh(x_t @ wx + h @ wh)`` under
    ``jax.lax.scan``, flax's ``nn.RNN`` / ``nn.scan`` cells, equinox cells scanned by hand. The
    gradient then multiplies through every step of the loop, as through a recurrent layer of
    the other frameworks. A scan that only sums its carry (gradient accumulation over
    micro-batches, a running mean) is none. False where nothing was found."""
    out = _inputs_var(closed.jaxpr, OUT_SCOPE)
    return out is not None and _recurrent(closed.jaxpr, [out], 0)


def _recurrent(jaxpr: Any, wanted: list[Any], depth: int) -> bool:
    if depth > 20:
        return False
    for e in _upstream(jaxpr, wanted):
        if e.primitive.name == "scan":
            if _carry_contracts(e):
                return True
            continue
        sub = _sub_jaxpr(e)
        if sub is not None and _recurrent(sub[0], list(sub[0].outvars), depth + 1):
            return True
    return False


def _carry_contracts(e: Any) -> bool:
    """A scan equation whose carry reaches a carry output through a contraction."""
    body = getattr(e.params["jaxpr"], "jaxpr", e.params["jaxpr"])
    nc, nk = int(e.params["num_consts"]), int(e.params["num_carry"])
    level: dict[Any, int] = {v: 0 for v in body.invars[nc:nc + nk]}
    for q in body.eqns:
        ins = [level[v] for v in q.invars if _is_var(v) and v in level]
        if not ins:
            continue
        lv = 1 if q.primitive.name in _CONTRACT or _contains_contraction(q, 0) else max(ins)
        for o in q.outvars:
            level[o] = lv
    return any(level.get(v) == 1 for v in body.outvars[:nk] if _is_var(v))


def _contains_contraction(e: Any, depth: int) -> bool:
    sub = _sub_jaxpr(e)
    if sub is None or depth > 20:
        return False
    return any(q.primitive.name in _CONTRACT or _contains_contraction(q, depth + 1) for q in sub[0].eqns)
