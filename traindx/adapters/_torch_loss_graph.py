"""The kind of loss a run optimizes, read from the loss tensor's autograd graph (a fact).

``loss.grad_fn`` names the op that made the loss (``MseLossBackward0``, ``NllLossBackward0``
over ``LogSoftmaxBackward0``, ``BinaryCrossEntropyWithLogitsBackward0`` ...). A bounded walk
of its nodes - type names and ``next_functions`` only: no hook, no saved tensor read, nothing
kept - tells which library loss (or losses) it is when the user did not pass ``loss_fn``:

- the sum at the top is split into terms (through scalar wrappers: ``* beta``, ``/ n``,
  ``-``, mean, sum); a term that reaches no model op (only parameters: a weight penalty) is
  left out, and a term over a log-softmax (label smoothing's second term, a cross-entropy on
  soft targets) is a cross-entropy;
- one kind of term: that loss (``crossentropyloss`` when the NLL reads a log-softmax);
  terms of different kinds (reconstruction + KL): ``composite``; a hand-written term with a
  vector norm / distance (siamese, triplet, cosine): ``contrastive``; over a log-softmax
  (cross-entropy on soft targets): ``crossentropyloss``; anything else: ``custom``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

#: autograd node type names of the library losses -> canonical names (LOSS_KINDS keys)
LOSS_NODES: dict[str, str] = {
    "NllLossBackward0": "nllloss",
    "NllLoss2DBackward0": "nllloss",
    "MseLossBackward0": "mseloss",
    "L1LossBackward0": "l1loss",
    "HuberLossBackward0": "huberloss",
    "SmoothL1LossBackward0": "smoothl1loss",
    "BinaryCrossEntropyWithLogitsBackward0": "bcewithlogitsloss",
    "BinaryCrossEntropyBackward0": "bceloss",
    "SoftMarginLossBackward0": "softmarginloss",
    "MultiMarginLossBackward0": "multimarginloss",
    "MultilabelMarginLossBackward0": "multilabelmarginloss",
}
#: nodes that scale or reduce one term without changing what it measures
_WRAPPERS = ("Mul", "Div", "Neg", "Mean", "Sum", "View", "Reshape", "Squeeze", "Unsqueeze", "Clone", "To")
_SPLIT = ("AddBackward", "SubBackward")
#: ops that read activations (the model's output): a term without them reads only parameters
_MODEL_OPS = ("Addmm", "Mm", "Bmm", "Matmul", "Convolution", "Embedding", "Linear", "Cudnn", "Mkldnn", "Lstm", "Gru", "Rnn")
_DISTANCE = ("NormBackward", "LinalgVectorNorm", "Cdist", "SqrtBackward")
MAX_NODES = 400  # nodes visited in all (a few microseconds each)
TERM_NODES = 120  # nodes visited per term
MAX_TERMS = 8

#: canonical name -> the task it implies (multilabel / reconstruction decided by the targets)
TASKS: dict[str, str] = {
    "crossentropyloss": "classification",
    "nllloss": "classification",
    "multimarginloss": "classification",
    "bcewithlogitsloss": "binary",
    "bceloss": "binary",
    "softmarginloss": "binary",
    "multilabelmarginloss": "multilabel",
    "mseloss": "regression",
    "l1loss": "regression",
    "huberloss": "regression",
    "smoothl1loss": "regression",
    "contrastive": "contrastive",
    "composite": "composite",
}


def _name(fn: Any) -> str:
    return type(fn).__name__


def _children(fn: Any) -> list[Any]:
    return [f for f, _ in getattr(fn, "next_functions", ()) if f is not None]


def _is_wrapper(name: str) -> bool:
    return name.endswith(tuple(f"{w}Backward0" for w in _WRAPPERS)) or name.startswith(
        tuple(f"{w}Backward" for w in _WRAPPERS)
    )


def _terms(root: Any, budget: list[int]) -> list[Any]:
    """The summands of the loss: split at additions, through scalar wrappers."""
    out, todo = [], [root]
    while todo and budget[0] > 0 and len(out) + len(todo) <= MAX_TERMS:
        fn = todo.pop(0)
        budget[0] -= 1
        name = _name(fn)
        kids = _children(fn)
        if name.startswith(_SPLIT) and len(kids) >= 2:
            todo.extend(kids)
        elif _is_wrapper(name) and len(kids) == 1:
            todo.append(kids[0])
        else:  # a loss node, a model op, or a product of two graph tensors: one term
            out.append(fn)
    return out + todo


def _term_kind(term: Any, budget: list[int]) -> str:
    """The kind of one summand."""
    seen: set[int] = set()
    queue = deque([term])
    losses: set[str] = set()
    logsm = model = distance = False
    n = 0
    while queue and n < TERM_NODES and budget[0] > 0:
        fn = queue.popleft()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        n += 1
        budget[0] -= 1
        name = _name(fn)
        kind = LOSS_NODES.get(name)
        if kind is not None:
            kids = _children(fn)
            if kind == "nllloss":
                below = kids[0] if kids else None
                while below is not None and _name(below).startswith(("View", "Transpose", "Permute", "Reshape")):
                    below = (_children(below) or [None])[0]
                if below is not None and _name(below).startswith("LogSoftmax"):
                    kind = "crossentropyloss"
            losses.add(kind)
            continue  # what is under a loss node is the model
        if name.startswith("LogSoftmax"):
            logsm = True
            continue
        if name.startswith(_MODEL_OPS):
            model = True
            continue
        if name.startswith(_DISTANCE):
            distance = True
        queue.extend(_children(fn))
    if len(losses) == 1:
        return losses.pop()
    if losses:
        return "composite"
    if logsm:  # a cross-entropy written out (soft targets, label smoothing's second term)
        return "crossentropyloss"
    if distance:
        return "contrastive"
    if not model and n < TERM_NODES:
        return "penalty"  # reaches parameters only (an L1/L2 weight penalty)
    return "custom"


def loss_kind_of(loss: Any) -> str | None:
    """Canonical loss name read from ``loss.grad_fn`` (see the module docstring), or None
    when the tensor has no graph."""
    root = getattr(loss, "grad_fn", None)
    if root is None:
        return None
    budget = [MAX_NODES]
    names = {_term_kind(t, budget) for t in _terms(root, budget)} - {"penalty"}
    if len(names) == 1:
        return names.pop()
    return "composite" if names else "custom"


def loss_task(name: str | None, inputs: Any = None, targets: Any = None) -> str | None:
    """The task a loss implies, refined by the targets: a regression or binary loss whose
    targets are the inputs is a reconstruction; a binary loss on 2-D targets of several
    columns is multi-label."""
    task = TASKS.get(name or "")
    if task in ("regression", "binary") and targets is not None and inputs is not None:
        try:
            if targets is inputs or (
                tuple(targets.shape) == tuple(inputs.shape)
                and targets.dtype == inputs.dtype
                and bool((targets.detach() == inputs.detach()).all())
            ):
                return "reconstruction"
        except Exception:  # noqa: BLE001 - not tensors: say nothing more
            return task
    if task == "binary" and targets is not None and getattr(targets, "dim", lambda: 0)() == 2 and targets.shape[1] > 1:
        return "multilabel"
    return task


_RESHAPES = ("Squeeze", "Unsqueeze", "View", "Reshape", "Select", "Flatten", "Permute", "Transpose", "Slice")


#: element-wise library losses: prediction and target shapes must match
_ELEMENTWISE = ("MseLoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BinaryCrossEntropy", "SoftMarginLoss")


def _loss_input(loss: Any) -> tuple[str, str] | None:
    """(loss node name, the name of the node it reads) of the first library loss node under
    the loss, through scalar wrappers; None when there is none."""
    fn, n = getattr(loss, "grad_fn", None), 0
    while fn is not None and n < 16:
        n += 1
        kids = _children(fn)
        if _name(fn) in LOSS_NODES:
            return _name(fn), (_name(kids[0]) if kids else "")
        fn = kids[0] if _is_wrapper(_name(fn)) and len(kids) == 1 else None
    return None


def reshaped_into_loss(loss: Any) -> bool:
    """Whether the first library loss node under the loss reads a reshaped tensor (``out.squeeze(1)``,
    ``out.view(-1)``): then the model output's shape is not what the loss compared."""
    found = _loss_input(loss)
    return found is not None and found[1].startswith(_RESHAPES)


def broadcast_into_loss(loss: Any) -> bool | None:
    """Whether an element-wise library loss (MSE, L1, Huber, BCE) reads a prediction it
    expanded to the target's shape - ``F.mse_loss(out, y)`` with ``out`` (N, 1) and ``y``
    (N,) compares every prediction with every target; None without such a loss."""
    found = _loss_input(loss)
    if found is None or not found[0].startswith(_ELEMENTWISE):
        return None
    return found[1].startswith("ExpandBackward")


_SHAPE_ONLY = ("View", "Reshape", "Squeeze", "Unsqueeze", "Clone", "To")


def loss_form(loss: Any) -> tuple[str | None, bool, bool] | None:
    """(reduction, weighted, scaled) of the first library loss node under the loss: its
    ``reduction`` ('none', 'mean', 'sum'; 'none' then ``.mean()`` is 'mean', then ``.sum()``
    'sum'), whether it holds a ``weight`` / ``pos_weight`` tensor, and whether the loss is
    that node's value times a factor (a ``Mul``, ``Div`` or ``Neg`` on the way up). None when
    no library loss node sits under the loss through scalar wrappers (a sum of terms)."""
    fn, n, ops = getattr(loss, "grad_fn", None), 0, []
    while fn is not None and n < 16:
        n += 1
        name, kids = _name(fn), _children(fn)
        if name in LOSS_NODES:
            red = {0: "none", 1: "mean", 2: "sum"}.get(getattr(fn, "_saved_reduction", None))
            if red == "none" and ops:
                red = "sum" if any(o.startswith("Sum") for o in ops) else "mean" if any(o.startswith("Mean") for o in ops) else red
            weighted = any(_saved_tensor(fn, a) for a in ("_saved_weight", "_saved_pos_weight"))
            return red, weighted, any(o.startswith(("Mul", "Div", "Neg")) for o in ops)
        if not (_is_wrapper(name) and len(kids) == 1):
            return None
        if not name.startswith(_SHAPE_ONLY):
            ops.append(name)
        fn = kids[0]
    return None


def _saved_tensor(fn: Any, attr: str) -> bool:
    """Whether an autograd node saved a tensor under ``attr``: after ``backward()`` the
    tensor is freed and reading it raises (an absent one still reads None)."""
    try:
        return getattr(fn, attr, None) is not None
    except RuntimeError:
        return True
