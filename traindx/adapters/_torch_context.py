"""The torch Monitor's static context: model, loss, optimizer, data, init scales and target facts, read once."""

from __future__ import annotations

import time
import weakref
from typing import Any

import numpy as np
import torch
from torch import nn

from traindx.adapters import _torch_hooks as _hooks
from traindx.adapters import _torch_init as _init
from traindx.adapters import _torch_loss_graph as lg
from traindx.adapters import _torch_sched as _sched
from traindx.adapters import _torch_stats as ts
from traindx.adapters._common import (
    LOSS_KINDS,
    TARGET_SAMPLE,
    GradReach,
    Moments,
    RowTargets,
    TargetFacts,
    TargetLevel,
    dropout_max,
    init_scale_flags,
)
from traindx.adapters._common.assoc import SAMPLE_ROWS, SMALL_ROW, FeatureTarget
from traindx.adapters._common.classweights import torch_loss_weights
from traindx.adapters._common.levels import LEVEL_ROWS
from traindx.adapters._common.optimizer import hyper_flags
from traindx.adapters._common.repeats import InputRepeats
from traindx.adapters._torch_linear import linear_stacks
from traindx.adapters._torch_record import FLUSH_STEPS
from traindx.schema import DataInfo, LossInfo, RunContext

#: the task a loss implies -> DataInfo.task (no classification: no class count from the output width)
_DATA_TASK = {"classification": "classification", "binary": "binary", "regression": "regression",
              "multilabel": "other", "reconstruction": "other", "contrastive": "other", "composite": "other"}  # fmt: skip


def params_not_in_optimizer(model: nn.Module, optimizer: Any, also: set[int] = frozenset()) -> float | None:  # type: ignore[assignment]
    """How many of the model's trainable parameters (``requires_grad``) the optimizer's
    parameter groups do not hold, now; None without an optimizer. A parameter created after
    the optimizer (a head replaced after ``Adam(model.parameters())``) or an optimizer built
    over another model's parameters leaves them out: their gradients are computed and never
    applied. Frozen parameters (``requires_grad=False``) are not counted, nor those held by
    the other optimizers seen stepping (``also``: their ids)."""
    groups = getattr(optimizer, "param_groups", None)
    if groups is None:
        return None
    held = {id(p) for g in groups for p in g.get("params", ())} | also
    return float(sum(1 for p in model.parameters() if p.requires_grad and id(p) not in held))


class ContextMixin:
    """Monitor's set-up of the run context (a mix-in: the state lives on the Monitor)."""

    # ------------------------------------------------------------------ setup

    def _setup(self, run_name: str | None, num_classes: int | None, n_train: int | None) -> None:
        model = self.model
        self._groups = g = ts.group_params(model)
        self._one_device = len({p.device for p in g.params}) <= 1
        self._all_f32 = all(p.dtype == torch.float32 for p in g.params)
        info, self._task = ts.loss_info(self.loss_fn)
        kind = LOSS_KINDS.get(info.name or "")
        self._elementwise = bool(kind and kind.elementwise)
        self.context = RunContext(
            framework="torch",
            framework_version=torch.__version__.split("+")[0],
            model=ts.model_info(model),
            loss=info,
            optimizer=ts.optimizer_info(self.optimizer),
            data=DataInfo(num_classes=num_classes, n_train=n_train, task=self._task),  # type: ignore[arg-type]
        )
        if run_name:
            self.context.hyperparameters["run_name"] = run_name
        self.context.flags.update(softmax_dim0=ts.softmax_dim0(model), **_init.dtype_flag(g.params), **hyper_flags(self.optimizer))
        try:  # the largest drop probability of the model's dropout modules (0.0: none)
            self.context.flags["dropout_max"] = dropout_max(model.modules())
            if (stacks := linear_stacks(model)) is not None:  # untraceable: unknown, not recorded
                self.context.flags["linear_stack"], self.context.flags["linear_stack_full_rank"] = stacks
            weights = [getattr(self.loss_fn, a, None) for a in ("weight", "pos_weight")]
            if isinstance(self.loss_fn, nn.Module):  # class weights given to the loss module
                self.context.flags["loss_class_weighted"] = any(isinstance(w, torch.Tensor) for w in weights)
                self._loss_class_w = torch_loss_weights(*weights)  # their direction: at each class count
            if (missing := params_not_in_optimizer(model, self.optimizer)) is not None:
                self.context.flags["params_not_in_optimizer"] = missing
            self.context.optimizer.schedule = _sched.scheduler_name(self.optimizer)
        except Exception:  # noqa: BLE001, S110 - a fact not known; the monitor goes on
            pass
        self._lr_prev: float | None = None  # group 0's LR at the last step (a change: a schedule)
        if kind is not None and not kind.elementwise:
            self.context.flags["broadcast_in_loss"] = False  # shapes cannot broadcast silently
        loss_mod = self.loss_fn if isinstance(self.loss_fn, nn.Module) else None
        self._hooked = ts.hooked_modules(model, {id(loss_mod)} if loss_mod is not None else set())
        self._act_tags = {
            name: [f"train/act_mean@{name}", f"train/act_std@{name}"]
            + (
                [f"train/act_frac_zero@{name}"]
                if k == 1
                else [f"train/act_frac_saturated@{name}"]
                if k
                else []
            )
            for name, _, k in self._hooked
        }
        self._grad_tags = [f"train/grad_norm@{n}" for n in g.names]
        self._grad_seen: set[int] = set()  # modules that have had a (not None) gradient
        self._weight_tags = [f"train/weight_norm@{n}" for n in g.names] + ["train/weight_norm"]
        self._update_tags = [f"train/update_ratio@{n}" for n in g.names] + ["train/update_ratio"]
        # Per-step buffers, moved to the host every FLUSH_STEPS steps or flush_secs.
        self._b_steps: list[tuple[int, float]] = []  # (step, wall time)
        self._b_loss: list[Any] = []  # floats (CPU losses) or 0-dim tensors
        # Per-parameter gradient norms, one row per step that took them, stacked into a buffer
        # allocated once (no tensor per step to keep or free); _b_gn: the row of each step.
        self._b_gn: list[int | None] = []
        self._gn_rows = 0
        self._gn_buf = torch.zeros(FLUSH_STEPS, max(len(g.params), 1), dtype=torch.float32,
                                   device=g.params[0].device if g.params else "cpu")  # fmt: skip
        self._gn_row_views, self._gn_np_rows = list(self._gn_buf.unbind(0)), (list(self._gn_buf.numpy()) if self._gn_buf.is_cpu else None)  # fmt: skip
        self._n_params = len(g.params)
        # Which parameters ever got a gradient (telemetry and coverage steps from step 2 on).
        self._reach = GradReach(g.module_of, [self._param_name(p) for p in g.params])
        self._reach_sum = torch.zeros(max(len(g.params), 1), dtype=torch.float32, device=self._gn_buf.device)
        self._reach_all = False  # a step on which every parameter had a gradient tensor
        self._reach_rows: list[int] = []  # rows of _gn_buf with every gradient, summed into _reach_sum at flush
        self._lr_prev: float | None = None
        self._reach_idx: dict[tuple[bool, ...], torch.Tensor] = {}  # None-pattern -> indices
        self._b_lr: list[list[Any]] = []
        # (step, tags, values, activation moments after them: (tags, size, kind, width) each)
        self._b_tel: list[tuple[int, list[str], torch.Tensor, list[tuple[list[str], int, int, int]]]] = []
        self._b_host: list[tuple[int, dict[str, float]]] = []
        self._b_tgt: list[torch.Tensor] = []
        self._wall0 = time.time() - time.perf_counter()
        self._training = model.training
        self._modal = ts.mode_modules(model)  # dropout / batch-norm submodules: their mode, every step
        self._modal_checked = self._modal_eval = 0
        # Forward-hook results for the step being recorded.
        self._last_leaf: nn.Module | None = None
        self._out_last_leaf: nn.Module | None = None
        self._last_leaf_ptr: tuple[int, int] | None = None  # (data_ptr, _version) of the last leaf's output
        self._out_is_leaf = False  # the model's output is that tensor (nothing ran after it)
        self._out_act: str | None = None  # decided from the first output seen
        self._probs: str | None = None
        self._loss_shapes: tuple[Any, Any] | None = None
        self._loss_calls0, self._loss_out0 = 0, None  # the loss module's calls and value at step 0
        self._snap_step = -1
        self._snap_w: torch.Tensor | None = None  # per-module weight norms and their total
        # Gradient accumulation: the size of the watched parameter's gradient just before the
        # first backward after an optimizer step adds to it (zero_grad resets it to None or 0).
        self._watch = min(g.params, key=lambda p: p.numel()) if g.params else None
        self._acc_pre: torch.Tensor | None = None
        self._tgt_most = 0  # the most target elements a batch has had (the usual batch)
        self._acc_after_opt = False  # an optimizer step came before that backward
        self._acc_after: dict[int, bool] = {}  # step -> the same, until folded
        # steps whose gradient was carried over / reset: [after an optimizer step, with none seen yet]
        self._acc_n = {True: [0, 0], False: [0, 0]}
        self._moments = Moments()
        self._repeats = InputRepeats()  # the same batch step after step (flag inputs_same_share)
        self._in_pair = -1  # the step whose inputs are summarised beside the telemetry step's before it
        self._input_nonfinite = 0.0
        self._class_counts = np.zeros(0, dtype=np.int64)
        self._count_targets = self._task in ("classification", "binary", None)
        self._label_rate = False  # multi-label targets: their 0/1 counts are the label rate
        self._loss_kind_tries = 3  # steps whose loss tensor may still tell the loss kind
        self._loss_reshaped = False  # the loss node reads a reshaped output (out.squeeze(1))
        self._in_cols: torch.Tensor | None = None  # input columns that are not integer codes
        self._in_width = 0  # the input width they index
        self._has_embedding = any(isinstance(m, (nn.Embedding, nn.EmbeddingBag)) for m in model.modules())
        self._tfacts = TargetFacts()
        self._trows = RowTargets()  # (N, C) targets: target_kind, target_row_sum
        self._tlevel = TargetLevel()  # the trivial predictor's loss (flags trivial_*)
        self._ftgt = FeatureTarget()  # one input column following the target (feature_target_*)
        self._tlevel_batches = 0
        self._user_classes = num_classes
        # Initialization scales of the weights as they are now (before any update).
        self._init_w: list[tuple[str, str, float]] = []
        self._init_layers: set[str] = set()  # modules owning them, watched in the first forward
        self._init_out: str | None = None  # the output layer's module (left out)
        self._fwd_last: str | None = None  # the last of them run in the first forward
        try:
            self._init_scale_setup()
        except Exception:  # noqa: BLE001, S110 - a fact not known; the monitor goes on
            self._init_w, self._init_layers = [], set()
        self._open_writer()
        self._disk_at = time.perf_counter() + self._flush_secs
        # Optimizer steps, through a global hook: the monitored optimizer's, or without one,
        # those of any optimizer holding the model's parameters (is a backward the first after a step?)
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self._param_ids = {id(p) for p in g.params}
        self._holds: dict[int, bool] = {}  # optimizer id -> it holds some of the model's parameters
        self._opt_hook = register_optimizer_step_post_hook(_hooks.optimizer_step_hook(weakref.ref(self)))
        self._arm()
        self._writer.write_context(self.context)

    def _loss_kind(self, loss: Any, inputs: Any, targets: Any) -> None:
        """The loss kind as a fact, once: the ``loss_fn`` given, else the loss tensor's autograd
        graph (a bounded walk of node names; _torch_loss_graph). Flags ``loss_kind`` (a
        canonical name, ``composite``, ``contrastive`` or ``custom``), ``loss_task``
        (classification / binary / multilabel / regression / reconstruction / contrastive /
        composite / unknown) and ``loss_source`` (``loss_fn`` or ``graph``); a library loss
        read from the graph fills the context's LossInfo as ``loss_fn=`` would."""
        self._loss_kind_tries -= 1
        self._loss_reshaped = lg.reshaped_into_loss(loss)
        known = self.context.loss.name
        if known in LOSS_KINDS:
            name, source = known, "loss_fn"
        else:
            name, source = lg.loss_kind_of(loss), "graph"
            if name is None:
                return
        self._loss_kind_tries = 0
        task = lg.loss_task(name, inputs, targets)
        flags = self.context.flags
        flags.update(loss_kind=name or "custom", loss_task=task or "unknown", loss_source=source)
        if source == "graph" and known is None:
            wide = lg.broadcast_into_loss(loss)
            if wide is not None and not flags.get("broadcast_in_loss"):
                flags["broadcast_in_loss"] = wide  # the loss expanded the prediction (no shapes seen)
            kind = LOSS_KINDS.get(name or "")
            if kind is not None:
                self.context.loss = LossInfo(name=name, expects=kind.expects, from_logits=kind.from_logits)  # type: ignore[arg-type]
            if self.context.data.task is None and task in _DATA_TASK:
                self.context.data.task = _DATA_TASK[task]  # type: ignore[assignment]
        self._loss_form(loss)
        if task == "multilabel":
            self._multilabel(targets)
        elif task == "reconstruction" and self._task == "binary":  # a BCE autoencoder: no classes
            self.context.data.task = "other"
            self.context.data.class_counts = None
            self._count_targets = False

    def _loss_form(self, loss: Any) -> None:
        """How the logged loss relates to its library loss node (the trivial level's premise):
        flags ``loss_weighted`` (a ``weight`` / ``pos_weight`` tensor on it) and ``loss_scaled``
        (the loss is the node's value times a factor), and the reduction when not known."""
        try:
            form = lg.loss_form(loss)
        except Exception:  # noqa: BLE001 - a fact not known; the other loss facts go on
            form = None
        if form is None:
            return
        red, weighted, scaled = form
        self.context.flags.update(loss_weighted=weighted, loss_scaled=scaled)
        if red is not None and self.context.loss.reduction is None:
            self.context.loss = self.context.loss.model_copy(update={"reduction": red})

    def _multilabel(self, targets: Any) -> None:
        """A binary loss on (N, k) targets: k independent 0/1 labels, no single-label task.
        ``num_classes`` is k (the user's when given; flag ``loss_task`` says multilabel), the
        0/1 target counts become the label rate (flag ``label_positive_share``, at flush)
        instead of the class counts of a two-class task."""
        d = self.context.data
        d.task = "other"
        if self._user_classes is None:
            d.num_classes = int(targets.shape[1])
        d.class_counts = None
        self._label_rate = self._count_targets = True

    def _input_codes(self, inputs: Any) -> None:
        """Integer codes among float input columns (category codes packed beside numeric
        features and cast with ``.long()`` into an embedding): with an embedding in the model
        and a 2-D float first input, the columns whose first-batch values are all whole
        numbers are counted (flag ``input_code_columns``) and left out of the input-scale
        statistics, which then describe the other columns (first step only; one sync)."""
        x = ts.first_tensor(inputs)
        if not self._has_embedding or x is None or x.dim() != 2 or not x.is_floating_point() or not x.shape[0]:
            return
        whole = ((x.detach() == x.detach().round()) & torch.isfinite(x.detach())).all(0)
        n_code = int(whole.sum())
        if n_code:
            self.context.flags["input_code_columns"] = float(n_code)
            self._in_cols = torch.nonzero(~whole).reshape(-1)
            self._in_width = int(x.shape[1])

    def _other_optimizer(self, opt: Any) -> None:
        """A second optimizer stepping (a body and a head trained with two): the model's
        parameters it holds are not missing from "the" optimizer (ids only, no reference
        kept)."""
        self._other_opts.add(id(opt))
        self._other_held |= {id(p) for g in opt.param_groups for p in g.get("params", ())}
        self._recheck_missing()

    def _recheck_missing(self) -> None:
        """``params_not_in_optimizer`` again, at each flush (every 400 steps, every few
        seconds, at close) and when a second optimizer is seen: a backbone unfrozen after the Monitor was built
        (``requires_grad=True`` at epoch N) but never added to the optimizer gets gradients
        that are never applied. The count is the latest one (a backbone added by
        ``add_param_group`` later counts no more). ``model.num_trainable`` is refreshed with it:
        the count taken when the Monitor was built is stale after an unfreeze, and rules that
        stand aside on a partly frozen model (UPD004) would go on reading it as frozen."""
        missing = params_not_in_optimizer(self.model, self.optimizer, self._other_held)
        if missing is not None:
            self.context.flags["params_not_in_optimizer"] = missing
        self.context.model.num_trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def _lr_facts(self, s: int) -> None:
        """The LR the optimizer really uses and the scheduler that moves it: a scheduler
        built after the Monitor is looked for at the first step, and the first change of
        group 0's LR between steps names the scheduler (``manual``: none attached)."""
        lr = _sched.first_lr(self.optimizer)
        opt_info = self.context.optimizer
        if s == 0:
            if lr is not None:  # what the first update used (a scheduler may have moved it)
                self.context.flags["lr_first_step"] = lr
            if opt_info.schedule is None:
                opt_info.schedule = _sched.scheduler_name(self.optimizer)
        elif opt_info.schedule is None and lr is not None and self._lr_prev is not None and lr != self._lr_prev:
            opt_info.schedule = _sched.scheduler_name(self.optimizer) or _sched.MANUAL
        self._lr_prev = lr

    def _param_name(self, p: torch.Tensor) -> str:
        if not hasattr(self, "_pnames"):
            self._pnames = {id(q): n for n, q in self.model.named_parameters()}
        return self._pnames.get(id(p), "?")

    def _init_scale_setup(self) -> None:
        """``std(w) * sqrt(fan_in)`` of every layer weight, now (one host transfer); not when
        the optimizer already holds state (the weights are not the initial ones)."""
        opt = self.optimizer
        if opt is not None and getattr(opt, "state", None):
            return
        ws = _init.weight_tensors(self.model)
        scales = _init.init_scales(ws)
        self._init_w = [(n, layer, v) for (n, layer, _), v in zip(ws, scales, strict=True)]
        self._init_layers = {layer for _, layer, _ in self._init_w}
        # The output layer: the last registered until the first forward says otherwise.
        self._init_out = self._init_w[-1][1] if self._init_w else None
        self._set_init_flags()

    def _set_init_flags(self) -> None:
        flags = self.context.flags
        for k in ("init_scale_min", "init_scale_max", "init_scale_layer"):
            flags.pop(k, None)
        flags.update(
            init_scale_flags([(n, v) for n, layer, v in self._init_w if layer != self._init_out])
        )

    def _target_facts(self, tgt: torch.Tensor) -> None:
        """Integer-valued targets and their distinct values (first batches only: syncs)."""
        tf = self._tfacts
        if TargetFacts.sample(tuple(tgt.shape)) and not tgt.is_complex():
            t = tgt.detach().reshape(-1)[:TARGET_SAMPLE]
            if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
                t = t.float()
            tf.add(t.cpu().numpy())
        else:
            tf.reject()
            if tgt.dim() == 2 and tgt.shape[1] > 1 and not tgt.is_complex():  # (N, C) rows: their kind
                t = tgt.detach()[: max(TARGET_SAMPLE // int(tgt.shape[1]), 1)]
                a = (t.float() if t.is_floating_point() else t).cpu().numpy()
                # integer rows are class ids per position when ids_per_position says so (torch's
                # losses take probability rows as floats only)
                out = self._out
                if t.is_floating_point():
                    self._trows.add(a)
                else:
                    self._trows.add(a, out_ndim=None if out is None else out.dim())
        flags = self.context.flags
        for k in ("target_integer", "target_distinct", "target_min", "target_max", "target_kind",
                  "target_row_sum", "target_onehot"):  # fmt: skip
            flags.pop(k, None)
        flags.update(tf.flags() or self._trows.flags())

    def _feature_target(self, inputs: Any, tgt: torch.Tensor) -> None:
        """The first batches' inputs beside their targets, at most SAMPLE_ROWS rows (_common.assoc)."""
        x = ts.first_tensor(inputs)
        flat = x is not None and x.dim() == 2  # else a small image / sequence's values (labelnn)
        x = x.flatten(1) if x is not None and x.dim() > 2 and 0 < x[:1].numel() <= SMALL_ROW else x
        if x is None or x.dim() != 2 or not x.is_floating_point() or tgt.shape[:1] != x.shape[:1] or tgt.is_complex():
            self._ftgt.done = True
            return
        n = SAMPLE_ROWS - self._ftgt.n
        got = self._ftgt.add(x.detach()[:n].float().cpu().numpy(), tgt.detach()[:n].cpu().numpy(), flat)
        if got:
            self.context.flags.update(got)

    def _level_facts(self, tgt: torch.Tensor) -> None:
        """The trivial predictor's loss levels from the targets the loss is given (the first
        ``LEVEL_BATCHES`` batches, at most ``LEVEL_ROWS`` rows: one host copy each)."""
        self._tlevel_batches += 1
        t = tgt.detach()
        if "classification" in (self._task, self.context.flags.get("loss_task")):
            self._tlevel.off = True  # class ids under a cross-entropy: the chance facts' job
            return
        if t.is_complex() or t.dim() == 0:
            return
        t = t[: max(LEVEL_ROWS - self._tlevel.n, 1)]
        if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
            t = t.float()
        self._tlevel.add(t.cpu().numpy())
        flags = self.context.flags
        for k in ("trivial_mse", "trivial_mae", "trivial_bce", "trivial_bce_floor", "target_width"):
            flags.pop(k, None)
        flags.update(self._tlevel.flags())
