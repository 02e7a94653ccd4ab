"""Validation rows that are also training rows, seen from the torch Monitor (``val_shared_frac``).

One global forward *pre*-hook (``register_module_forward_pre_hook``, nothing on the user's
objects: the model still pickles and deep-copies) looks at the first positional tensor
input of the monitored model's own forward calls. A forward in training mode with grad
enabled is a training batch; one under ``model.eval()`` or ``torch.no_grad()`` an
evaluation batch. Each row gets the 64-bit id of :mod:`traindx.rowid` (its bytes viewed as
integers, position-weighted, summed with wrap-around - exact integer arithmetic, so a row
gets the same id in any batch): one multiply and one sum over the batch, ~10-30 us a step,
where hashing each row with blake2b costs ~2.7 us a row of 784 floats.

Bounded in memory: the fingerprints of at most :data:`MAX_TRAIN_ROWS` distinct training
rows (a set of ints), of :data:`MAX_EVAL_ROWS` evaluation rows per forward and
:data:`MAX_EVAL_KEPT` in all (when full, the forwards already made of training rows - a
train-accuracy pass - are dropped, so a large one cannot crowd out the validation pass); CPU
tensors only (a device tensor would need a copy and a sync), nothing of the user's tensors
kept, no RNG drawn. Bounded in time: any global module hook sends every module call of the
process through torch's slow path (~1.5 us a module call: +5 % a step on a small MLP), so
the hook lives only until the training set was seen whole (:data:`STALE_FORWARDS` training
forwards in a row brought no new row) and an evaluation phase was seen after it started
(asked at the next training forward, so the whole phase is read) - about one epoch - or
until :data:`GIVE_UP` stale training forwards without one. Past the training cap the fact
is not recorded (a training row missed could make a re-evaluated training subset look like
validation rows partly shared) and the hook is removed.

:meth:`Overlap.frac` reads the evaluation forwards against all training rows seen: a
forward whose rows are all training rows (>= 99 %) evaluates the training set (train
accuracy on a training subset) and is left out, unless every evaluation forward is - then
the validation data *is* training data. The rest give the share of evaluation rows that
are training rows. A row held by more than :data:`traindx.rowid.COMMON_COPIES` training
rows of the first pass (forwards that brought a new row; later epochs repeat every row) is a
common row - every constant window standardised to the all-zero row - and is left out of the
evaluation rows, as is an evaluation row of at most two distinct values
(:func:`traindx.rowid.two_valued`): a benign duplicate, not a leaked sample.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import nn

from traindx.rowid import COMMON_COPIES, int_keys, two_valued

MAX_TRAIN_ROWS = 100_000  # training-row fingerprints kept (a set of ints, ~6 MB at most)
MAX_EVAL_ROWS = 4_096  # evaluation rows kept per forward
MAX_EVAL_KEPT = 4 * MAX_EVAL_ROWS  # evaluation rows kept in all (training-set passes dropped)
MIN_EVAL_ROWS = 8  # fewer evaluation rows than this: no fact
STALE_FORWARDS = 64  # training forwards in a row with no new row: the training set is seen
GIVE_UP = 4 * STALE_FORWARDS  # stale training forwards without an evaluation: the hook goes
TRAIN_EVAL = (
    0.99  # an evaluation forward this much made of training rows evaluates the training set
)

MAX_STEPS = 4_096  # intervals between Monitor.step calls counted (while the hook lives)
MIN_STEPS = 8  # fewer intervals: no usual count of forwards per step to compare with
SAMPLE_ROWS, SAMPLE_FEATURES = 1_024, 512  # rows kept per side for the input statistics

_INT_OF = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


class Overlap:
    """Fingerprints of training and evaluation rows of one model's forwards."""

    def __init__(self) -> None:
        self.train: set[int] = set()
        self.train_rows = 0
        self.evals: list[list[int]] = []
        self.eval_rows = 0  # evaluation rows read in all
        self.kept = 0  # evaluation rows kept (in self.evals)
        self.capped = False
        self.stale = 0  # training forwards in a row that brought no new row
        self.copies: dict[int, int] = {}  # rows repeated within the first pass: copies seen
        self.nograd = [0, 0]  # forwards under no_grad with the model in eval / in training mode
        self.since_step = 0  # grad-enabled training-mode forwards since the last Monitor.step
        self.per_step: list[int] = []  # those counts, one per interval between two steps
        self.tsample: list[Any] = []  # training rows' first values (numpy), first pass
        self.esample: list[Any] = []  # per evaluation forward (parallel to self.evals)
        self._shift: tuple[tuple[int, int, int], dict[str, float]] | None = None

    def see(self, x: Any, training: bool) -> None:
        if (
            type(x) is not torch.Tensor
            or not x.is_cpu
            or x.dim() < 2
            or x.is_complex()
            or not x.numel()
        ):
            return
        if training:
            if self.capped or self.stale >= STALE_FORWARDS:
                self.stale += 1
                return
            keys = self._keys(x)
            fresh: set[int] = set()
            again: list[int] = []
            for k in keys:
                (again.append if k in self.train or k in fresh else fresh.add)(k)
            self.train_rows += len(keys)
            self.train |= fresh
            self.stale = 0 if fresh else self.stale + 1
            room = SAMPLE_ROWS - sum(len(a) for a in self.tsample)
            if fresh and room > 0:
                self.tsample.append(self._sample(x, room))
            if fresh:  # a forward of the first pass: its repeats are copies within the training set
                for k in again:
                    self.copies[k] = self.copies.get(k, 1) + 1
            if len(self.train) > MAX_TRAIN_ROWS:
                self.capped = True
                self.train = set()
                self.evals = []
                self.esample = []
                self.kept = 0
        else:
            if self.kept >= MAX_EVAL_KEPT:
                self._drop_train_evals()
                if self.kept >= MAX_EVAL_KEPT:
                    return
            x = x[: min(MAX_EVAL_ROWS, MAX_EVAL_KEPT - self.kept)]
            keys = self._keys(x)
            self.eval_rows += len(keys)
            self.kept += len(keys)
            flat = self._two_valued(x)  # degenerate rows: no evidence of a leaked sample
            self.evals.append([k for k, f in zip(keys, flat, strict=True) if not f])
            room = 2 * SAMPLE_ROWS - sum(len(a) for a in self.esample)  # ~4 MB at most
            self.esample.append(self._sample(x, max(room, 0)))

    def _drop_train_evals(self) -> None:
        """Forget the evaluation forwards already made of training rows (training-set passes:
        more training rows only make them more so), freeing room for a later validation pass.
        A training-set pass ahead of the validation pass once took the whole budget, and the
        validation rows were never read: val_shared_frac 1.0 on disjoint sets (qa_fresh37)."""
        keep = [i for i, k in enumerate(self.evals) if not self._train_pass(k)]
        if len(keep) < len(self.evals):
            self.evals = [self.evals[i] for i in keep]
            self.esample = [self.esample[i] for i in keep]
            self.kept = sum(len(k) for k in self.evals)

    def _train_pass(self, keys: list[int]) -> bool:
        """An evaluation forward made of training rows (>= TRAIN_EVAL): a training-set pass."""
        return sum(r in self.train for r in keys) >= TRAIN_EVAL * len(keys)

    @staticmethod
    def _sample(x: torch.Tensor, n: int) -> Any:
        """The first ``n`` rows' first :data:`SAMPLE_FEATURES` values, a float32 numpy copy
        (an empty one for a dtype with no numpy twin)."""
        if n <= 0 or not len(x):  # no room left: an empty sample keeps the lists parallel
            import numpy as np

            return np.zeros((0, 0), dtype=np.float32)
        with torch.no_grad():
            flat = x.detach()[:n].reshape(min(n, len(x)), -1)[:, :SAMPLE_FEATURES]
            if flat.is_complex() or flat.dtype == torch.bool:
                return flat.new_zeros((0, flat.shape[1]), dtype=torch.float32).numpy()
            return flat.float().numpy().copy()

    def shift(self) -> dict[str, float]:
        """``val_input_shift`` / ``val_input_std_ratio`` between the training rows sampled and
        the evaluation forwards that are not training-set passes (all of them when every one
        is); empty before both were seen or past the training cap."""
        import numpy as np

        from traindx.adapters._common.splits import input_shift

        if self.capped or not self.tsample or not self.esample:
            return {}
        key = (len(self.tsample), len(self.esample), self.kept)
        if self._shift is not None and self._shift[0] == key:  # each flush asks: once per change
            return self._shift[1]
        val = [i for i, k in enumerate(self.evals) if k and not self._train_pass(k)]
        rows = [a for a in (self.esample[i] for i in (val or range(len(self.esample)))) if len(a)]
        if not rows:
            return {}
        widths = {a.shape[1] for a in rows + self.tsample}
        if len(widths) != 1:
            return {}
        got = input_shift(np.concatenate(self.tsample), np.concatenate(rows)[:SAMPLE_ROWS])
        self._shift = (key, got)
        return got

    def _keys(self, x: torch.Tensor) -> list[int]:
        with torch.no_grad():
            flat = x.detach().reshape(len(x), -1)
            if flat.dtype == torch.bool:
                flat = flat.to(torch.uint8)
            ints = flat.contiguous().view(_INT_OF[flat.element_size()])
            return int_keys(ints.numpy())

    @staticmethod
    def _two_valued(x: torch.Tensor) -> list[bool]:
        with torch.no_grad():
            flat = x.detach().reshape(len(x), -1)
            if flat.dtype == torch.bool or flat.is_complex():
                return [False] * len(flat)
            if flat.dtype == torch.bfloat16:  # numpy has no bfloat16
                flat = flat.float()
            return two_valued(flat.numpy()).tolist()

    def stepped(self) -> None:
        """A Monitor.step: close the interval of training-mode forwards since the last one."""
        if len(self.per_step) < MAX_STEPS:
            self.per_step.append(self.since_step)
        self.since_step = 0

    def unstepped(self) -> dict[str, float]:
        """``unstepped_forwards``: grad-enabled training-mode forwards beyond the usual count
        between two optimizer steps (the median, ``train_forwards_per_step``) - an evaluation
        pass run without model.eval() nor no_grad shows as a burst once per evaluation -
        over ``unstepped_intervals`` of ``stepped_intervals`` intervals; empty before
        :data:`MIN_STEPS` intervals or where the hook saw no forward (a usual count of 0)."""
        c = self.per_step
        if len(c) < MIN_STEPS:
            return {}
        base = sorted(c)[len(c) // 2]
        if base < 1:
            return {}
        extra = [n - base for n in c if n > base]
        return {"train_forwards_per_step": float(base), "unstepped_forwards": float(sum(extra)),
                "unstepped_intervals": float(len(extra)), "stepped_intervals": float(len(c))}  # fmt: skip

    @property
    def done(self) -> bool:
        """Nothing more to see (the hook goes): the training rows capped; or the training set
        seen whole and an evaluation seen (the forwards of a whole evaluation phase: asked
        at a training forward); or no evaluation in :data:`GIVE_UP` stale training forwards."""
        return self.capped or (
            self.stale >= STALE_FORWARDS
            and (self.eval_rows >= MIN_EVAL_ROWS or self.stale >= GIVE_UP)
        )

    def frac(self) -> float | None:
        """The share of evaluation rows that are training rows (see the module's doc); None
        before both were seen, past the training cap, or with too few evaluation rows."""
        if self.capped or not self.train or self.eval_rows < MIN_EVAL_ROWS:
            return None
        common = {k for k, c in self.copies.items() if c > COMMON_COPIES}  # degenerate rows
        evals = [[k for k in keys if k not in common] for keys in self.evals] if common else self.evals
        parts = [(sum(k in self.train for k in keys), len(keys)) for keys in evals if keys]
        val = [p for p in parts if p[0] < TRAIN_EVAL * p[1]] or parts
        n = sum(p[1] for p in val)
        return sum(p[0] for p in val) / n if n >= MIN_EVAL_ROWS else None


def install(mon: Any) -> Any:
    """A global forward pre-hook feeding ``mon._overlap`` from ``mon.model``'s own forwards
    called with one positional argument (with several - categorical codes and numeric
    columns - the first is only part of a row: two samples sharing their codes are not the
    same row; qa_fresh torch_tabular_codes_fit_separately read 0.23 on its fixed version);
    returns its handle. The hook holds a weak reference to the monitor and the model's id:
    any other module returns at once; an internal error removes the overlap (a fact less)."""
    ref = weakref.ref(mon)
    root = id(mon.model)

    def hook(module: nn.Module, args: Any) -> None:
        if id(module) != root:
            return
        m = ref()
        if m is None or m._off or m._overlap is None or module is not m.model or len(args) != 1:
            return
        try:
            ov = m._overlap
            grad = torch.is_grad_enabled()
            if not grad:  # an evaluation forward: in which mode (eval_train_mode_share)
                ov.nograd[bool(module.training)] += 1
            training = module.training and grad
            if training:  # a training forward, or an evaluation in training mode with grad on
                ov.since_step += 1
            ov.see(args[0], training)
            if training and ov.done and m._overlap_handle is not None:
                m._overlap_handle.remove()
                m._overlap_handle = None
        except Exception:  # noqa: BLE001 - a fact less, never a failure
            m._overlap = None

    def run(module: nn.Module, args: Any) -> None:
        if torch.compiler.is_compiling():
            return None
        return hook(module, args)

    return nn.modules.module.register_module_forward_pre_hook(run)


def record(mon: Any) -> None:
    """``ctx.val_shared_frac`` from the rows seen so far (at a flush that writes the context),
    and ``eval_forwards`` / ``eval_train_mode_share``: the model's forwards under ``no_grad``
    while the hook lived, and the share of them run with the model in training mode (a
    validation under ``torch.no_grad()`` without ``model.eval()``: dropout and batch-norm
    batch statistics stay on); ``val_input_shift`` / ``val_input_std_ratio`` (Overlap.shift)."""
    ov = mon._overlap
    frac = ov.frac() if ov is not None else None
    if frac is not None:
        mon.context.flags["val_shared_frac"] = float(frac)
    if ov is not None and sum(ov.nograd):  # the first evaluation passes' mode (the hook's life)
        mon.context.flags["eval_forwards"] = float(sum(ov.nograd))
        mon.context.flags["eval_train_mode_share"] = round(ov.nograd[1] / sum(ov.nograd), 4)
    if ov is not None:
        mon.context.flags.update(ov.shift())
        mon.context.flags.update(ov.unstepped())
