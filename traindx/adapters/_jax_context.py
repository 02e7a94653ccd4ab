"""The JAX Recorder's context: model, loss, optimizer and data read at set-up, and facts folded from telemetry."""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.adapters import _jax_models
from traindx.adapters import _jax_stats as js
from traindx.adapters._common import (
    GradReach,
    RowTargets,
    TargetFacts,
    TargetLevel,
    add_counts,
    init_scale_flags,
    levels_of_batches,
    note_broadcast,
)
from traindx.adapters._common.assoc import corr_flags
from traindx.adapters._common.labelnn import split_flags_of, val_nn_flags_of
from traindx.adapters._common.levels import LEVEL_ROWS
from traindx.adapters._common.losses import penalty_share
from traindx.adapters._common.splits import input_shift, target_shift_of, val_shared_frac
from traindx.adapters._jax_pipeline import _Layout
from traindx.adapters._jax_recheck import RecheckMixin
from traindx.adapters._jax_stats import (
    data_info,
    freezes_params,
    loss_info,
    model_info,
    optimizer_info,
    schedule_name,
    schedule_nominal,
)
from traindx.adapters._jax_stats.accum import accumulation_steps
from traindx.adapters._jax_stats.precision import precision_flags
from traindx.adapters._jax_stats.tree import mark_output
from traindx.arrays import median
from traindx.context_json import construct
from traindx.schema import OptimizerInfo

#: a loss of no single-label task -> DataInfo.task "other", no class count (torch's _DATA_TASK)
_DATA_TASK = {"composite": "other", "reconstruction": "other", "contrastive": "other"}
TARGET_ROWS = 4  # telemetry rows whose label counts give target_distinct (their largest)


class ContextMixin(RecheckMixin):
    """Recorder's run context (a mix-in: the state lives on the Recorder)."""

    def _setup(self, params: Any, optimizer: Any, loss: Any, num_classes: int | None, n_train: int | None,
               batch_size: int | None, data: Any, optimizer_name: str | None, learning_rate: Any,
               run_name: str | None, val_data: Any = None) -> None:  # fmt: skip
        ctx = self.context
        params, self._modal = _jax_models.module_params(params)  # an nnx Module: its Params and mode layers
        if params is not None:
            ctx.model = model_info(params)
            _jax_models.note_modes(ctx.model, self._modal)
            try:  # the weights as given: the initial ones when the Recorder is made first
                scales = js.init_scales(params)
                out_layer = scales[-1][1] if scales else None
                ctx.flags.update(init_scale_flags([(n, v) for n, layer, v in scales if layer != out_layer]))
            except Exception:  # noqa: BLE001, S110 - a fact not known; the recorder goes on
                pass
        try:
            if optimizer is not None:
                ctx.flags["frozen_by_optimizer"] = freezes_params(optimizer)
        except Exception:  # noqa: BLE001, S110 - a fact not known; the recorder goes on
            pass
        try:
            info, lr = optimizer_info(optimizer, optimizer_name, params)
        except Exception as e:  # noqa: BLE001 - an optimizer we cannot read: no facts, go on
            info, lr = construct(OptimizerInfo, name=optimizer_name), None
            ctx.notes.append(f"optimizer not read ({type(e).__name__}: {e})")
        if learning_rate is not None:
            lr = learning_rate
            if callable(lr):
                info.schedule, info.lr = schedule_name(lr), schedule_nominal(lr)
            else:
                info.lr = js.num(lr)
        ctx.optimizer = info
        self._lr, self._lr_every = lr, max(1, accumulation_steps(optimizer, outer_only=True) or 1) if callable(lr) else 1
        k = accumulation_steps(optimizer) if optimizer is not None else None
        if k is not None and k > 1:  # optax.MultiSteps / apply_every: k micro-batches per update
            ctx.hyperparameters["gradient_accumulation_steps"] = k
            ctx.flags["grad_accum_steps"] = float(k)
        ctx.loss, self._task, self._elementwise = loss_info(loss)
        self._loss_known = loss is not None
        if ctx.loss.name:  # the loss the user named (a jitted step's loss is not visible otherwise)
            ctx.flags.update(loss_kind=ctx.loss.name, loss_task=self._task or "unknown", loss_source="loss_fn")
        if data is not None:
            ctx.data, nf = data_info(data)
            if nf:
                self._input_nonfinite += nf
                ctx.flags["input_nonfinite"] = float(self._input_nonfinite)
            if isinstance(data, (tuple, list)) and len(data) > 1 and data[1] is not None:
                tf, rows = TargetFacts(), RowTargets()
                tf.add(np.asarray(data[1]), limit=1 << 20)
                rows.add(np.asarray(data[1]))  # (N, C) targets: their kind (issue 10)
                ctx.flags.update(tf.flags() or rows.flags())
                ctx.flags.update(corr_flags(data[0], data[1]))  # one column follows the target (_common.assoc)
                if self._task != "classification":  # the trivial predictor's loss (flags trivial_*)
                    lv = TargetLevel()
                    lv.add(np.asarray(data[1]))
                    ctx.flags.update(lv.flags())
                self._tgt_binary = tf.binary if tf.values else None
        d = ctx.data
        d.num_classes = num_classes if num_classes is not None else d.num_classes
        d.n_train = n_train if n_train is not None else d.n_train
        d.batch_size = batch_size if batch_size is not None else d.batch_size
        d.task = _DATA_TASK.get(self._task, self._task)  # type: ignore[arg-type]
        y = data[1] if isinstance(data, (tuple, list)) and len(data) > 1 else None
        if self._task == "binary" and y is not None and np.ndim(y) >= 2 and np.shape(y)[-1] > 1:
            counts = d.class_counts
            self._multilabel(int(np.shape(y)[-1]))
            if counts and len(counts) == 2:
                ctx.flags["label_positive_share"] = counts[1] / max(sum(counts), 1)
        if d.num_classes is None and d.class_counts and self._task in ("classification", "binary"):
            d.num_classes = len(d.class_counts)
        if self._loss_known and not self._elementwise:
            ctx.flags["broadcast_in_loss"] = False
        if data is not None and val_data is not None:
            try:  # a fact less, never a failure
                frac = val_shared_frac(data, val_data)
                ctx.flags.update({} if frac is None else {"val_shared_frac": frac})
                ctx.flags.update(input_shift(data, val_data))  # the splits' input statistics apart
                ctx.flags.update(target_shift_of(data, val_data))  # and their continuous targets'
                ctx.flags.update(split_flags_of(data, val_data))  # the splits' classes (_common.labelnn)
                ctx.flags.update(val_nn_flags_of(data, val_data))  # validation rows' training neighbours
            except Exception:  # noqa: BLE001, S110
                pass
        if run_name:
            ctx.hyperparameters["run_name"] = run_name
        self._open_writer().write_context(ctx)

    def _multilabel(self, k: int) -> None:
        """A binary loss on (N, k) targets: k independent 0/1 labels (the torch Monitor's
        facts): ``num_classes`` k (the user's when given) with flag ``loss_task`` multilabel,
        no single-label task nor class counts; the label rate as ``label_positive_share``."""
        ctx = self.context
        d = ctx.data
        self._task_multilabel = True
        if ctx.flags.get("loss_task") == "binary":
            ctx.flags["loss_task"] = "multilabel"
        d.task = "other"  # type: ignore[assignment]
        if self._user_classes is None:
            d.num_classes = k
        d.class_counts = None

    def _decide_output(self, lay: _Layout, row: np.ndarray) -> None:
        if self._out_act is not None:
            return
        c = lay.col
        width = int(lay.meta.get("out_width", 1))
        lo, hi, zero = row[c["_out_min"]], row[c["_out_max"]], row[c["_out_frac_zero"]]
        # values in (0, 1) say nothing of a sigmoid for a regression (one output with targets
        # other than 0/1 counts as one when the loss is not known)
        regression = self._task == "regression" or (
            self._task is None and width == 1
            and (("_label_binary" in c and row[c["_label_binary"]] <= 0.5) or self._tgt_binary is False))  # fmt: skip
        # ReLU: a real share of exact zeros and some positive values (not an all-zero output)
        relu = lo == 0.0 and hi > 0.0 and zero > 0.05
        act = "linear"
        if width >= 2:
            if lo >= 0.0 and hi <= 1.0 and (row[c["_out_rowdev_max"]] < 1e-3 or row[c["_out_coldev_max"]] < 1e-3):
                act = "softmax"
            elif lo > 0.0 and hi < 1.0 and not regression:
                act = "sigmoid"
            elif hi <= 0.0 and row[c["_out_lse_max"]] < 1e-3:
                act = "log_softmax"
            elif relu:
                act = "relu"
        elif 0.0 < lo and hi < 1.0 and not regression:
            act = "sigmoid"
        elif relu:
            act = "relu"
        graph = lay.meta.get("step_graph")  # telemetry_jit: the output's last op in the step's graph
        seen = "the output values"
        if graph is not None and graph.output is not None:
            act, seen = graph.output, "the step's graph"  # logits are logits whatever range their first values had
        ctx = self.context
        m = ctx.model
        m.output_units = width
        mark_output(m.layers, width)  # the parameter tree's sorted keys are not model order
        self._out_act = m.output_activation = act
        if act != "linear":
            ctx.notes.append(f"output activation '{act}' inferred from {seen}")
        if self._task is None:
            integer = "int" in str(lay.meta.get("label_dtype", ""))
            if width >= 2 and integer:
                self._task = "classification"
            elif width == 1 and "_label_binary" in c and row[c["_label_binary"]] > 0.5:
                self._task = "binary"
            ctx.data.task = self._task  # type: ignore[assignment]
        if act in ("softmax", "log_softmax") or (act == "sigmoid" and self._task == "classification"):
            self._probs = act
        d = ctx.data
        if self._task == "binary" and width >= 2 and lay.meta.get("label_shape") == lay.meta.get("out_shape"):
            if not self._task_multilabel:
                self._multilabel(width)
        if d.num_classes is None and width >= 2 and self._task == "classification":
            d.num_classes = width
        if d.num_classes is None and self._task == "binary" and width == 1:
            d.num_classes = 2

    def _check_broadcast(self, lay: _Layout) -> None:
        a, b = lay.meta.get("out_shape"), lay.meta.get("label_shape")
        if not self._elementwise or a is None or b is None:
            return
        if "_bc_mse_sq" in lay.col:  # (N, 1) against (N,): the loss values tell (_squeezed_or_broadcast)
            return
        try:
            np.broadcast_shapes(tuple(a), tuple(b))
        except ValueError:
            note_broadcast(self.context, a, b, False)
        else:
            note_broadcast(self.context, a, b, True)

    def _update_applied(self, lay: _Layout, t: np.ndarray) -> np.ndarray:
        """Zero the update ratio of layers whose weights did not change since the previous
        telemetry row (updates computed but never applied to the parameters)."""
        c = lay.col
        names = lay.wnames
        if not names or f"train/update_ratio@{names[0]}" not in c:
            return t
        wc = [c[f"train/weight_norm@{n}"] for n in names] + [c[f"_wsum@{n}"] for n in names]
        uc = np.asarray([c[f"train/update_ratio@{n}"] for n in names])
        w = t[:, wc]
        prev = np.concatenate([lay.prev_w[None], w[:-1]]) if lay.prev_w is not None else np.concatenate([np.full((1, w.shape[1]), np.nan), w[:-1]])
        same = (w == prev)
        k = len(names)
        same_layer = same[:, :k] & same[:, k:]
        lay.prev_w = w[-1].copy()
        if same_layer.any():
            t = t.copy()
            sub = t[:, uc]
            sub[same_layer] = 0.0
            t[:, uc] = sub
            if same_layer.all(axis=1).any() and "train/update_ratio" in c:
                t[same_layer.all(axis=1), c["train/update_ratio"]] = 0.0
                note = "parameters did not change between telemetry steps although updates were computed"
                if note not in self.context.notes:
                    self.context.notes.append(note)
        return t

    def _squeezed_or_broadcast(self, lay: _Layout, t: np.ndarray) -> None:
        """(N, 1) outputs and (N,) targets: whether the element-wise loss compared them row by
        row (squeezed) or broadcast to (N, N), from the step's loss against the two means the
        telemetry computed (MSE, sigmoid BCE or L1: the loss given to the Recorder, or each of
        the three when none was given), on rows where the two differ; a loss matching neither
        (a penalty added, another reduction) decides nothing and no flag is set."""
        c, ctx = lay.col, self.context
        fam = {"mseloss": "mse", "bcewithlogitsloss": "bce", "l1loss": "l1"}.get(ctx.loss.name or "")
        fams = [fam] if fam is not None else [] if self._loss_known else ["mse", "bce", "l1"]
        if not fams or "train/loss" not in c or "broadcast_in_loss" in ctx.flags:
            return
        loss, any_sq, any_bc = t[:, c["train/loss"]], False, False
        tol = 1e-4 * (np.abs(loss) + 1e-3)
        for sq, bc in ((t[:, c[f"_bc_{f}_sq"]], t[:, c[f"_bc_{f}_bc"]]) for f in fams):
            apart = np.abs(sq - bc) > 20 * tol
            any_sq |= bool((apart & (np.abs(loss - sq) <= tol)).any())
            any_bc |= bool((apart & (np.abs(loss - bc) <= tol)).any())
        if any_bc and not any_sq:
            note_broadcast(ctx, lay.meta["out_shape"], lay.meta["label_shape"], True)
        elif any_sq and not any_bc:
            ctx.flags["broadcast_in_loss"] = False

    def _fold(self, lay: _Layout, t: np.ndarray, steps: np.ndarray) -> None:
        """Fold telemetry rows into the context (moments, class counts, flags)."""
        self._recheck_output(lay, t)
        c, ctx = lay.col, self.context
        flags, d = ctx.flags, ctx.data
        if "_bc_mse_sq" in c and (self._elementwise or not self._loss_known):
            self._squeezed_or_broadcast(lay, t)
        if "_ce_int" in c and "train/loss" in c and "reg_loss_share" not in flags:
            self._penalty_share(lay, t)
        if "_in_n" in c:
            if not self._data_given:
                for r in t:
                    self._moments.merge(r[c["_in_n"]], r[c["train/input_mean"]], r[c["train/input_std"]],
                                        r[c["train/input_min"]], r[c["train/input_max"]])  # fmt: skip
                mo = self._moments
                if mo.n:
                    d.input_mean, d.input_std, d.input_min, d.input_max = mo.mean, mo.std, mo.min, mo.max
        meta = lay.meta
        path = meta.get("step_graph")  # telemetry_jit: what the step's graph shows (StepGraph.flags)
        if path is not None:  # the targets' range from it where neither labels= nor data= gave it
            flags.update(path.flags(targets="_lbl_int" not in c and not self._data_given))
        if not self._data_given:
            if "input_dtype" in meta:
                d.input_dtype = str(meta["input_dtype"])
            if d.batch_size is None and "batch_size" in meta:
                d.batch_size = int(meta["batch_size"])
        flags.update(precision_flags(c, t, steps, meta, flags))  # param_dtype, an update overflowed
        cls = lay.cls
        if cls and self._task_multilabel:  # per-label positive counts: the label rate
            if not self._data_given and lay.meta.get("label_shape"):
                self._label_pos[0] += float(np.nansum(t[:, cls]))
                self._label_pos[1] += len(t) * float(np.prod(lay.meta["label_shape"]))
                flags["label_positive_share"] = self._label_pos[0] / max(self._label_pos[1], 1.0)
            cls = []
        if cls and not self._data_given and (self._task in ("classification", "binary") or (self._task is None and len(cls) > 1)):
            counts = np.nansum(t[:, cls], axis=0)
            if "_label_binary" in c and not np.all(t[:, c["_label_binary"]] > 0.5):
                counts = None
            if counts is not None:
                self._class_counts = add_counts(self._class_counts, counts)
                d.class_counts = [int(round(v)) for v in self._class_counts]
        if "_lbl_int" in c and not self._data_given:
            self._tgt_integer = self._tgt_integer and bool(np.all(t[:, c["_lbl_int"]] > 0.5))
            first = t[: max(TARGET_ROWS - self._tgt_rows, 0), c["_lbl_distinct"]]
            if first.size:
                self._tgt_rows += first.size
                self._tgt_distinct = max(self._tgt_distinct, float(np.max(first)))
            flags["target_integer"] = self._tgt_integer
            flags["target_kind"] = "integer" if self._tgt_integer else "continuous"
            flags["target_distinct"] = self._tgt_distinct
            if "_lbl_min" in c:  # the label range over every telemetry row (first TARGET_SAMPLE of each)
                lo, hi = t[:, c["_lbl_min"]], t[:, c["_lbl_max"]]
                lo, hi = lo[np.isfinite(lo)], hi[np.isfinite(hi)]
                if lo.size and hi.size:
                    r = self._tgt_range
                    r[0], r[1] = min(r[0], float(lo.min())), max(r[1], float(hi.max()))
                    flags["target_min"], flags["target_max"] = r[0], r[1]
        if "_lvl_var" in c and not self._data_given and self._task != "classification" and len(self._lvl_rows) < LEVEL_ROWS:
            self._lvl_rows.append(
                t[:, [c[k] for k in ("_lvl_var", "_lvl_mean", "_lvl_bce", "_lvl_own", "_lvl_lo", "_lvl_hi")]]
            )
            flags.update(levels_of_batches(np.concatenate(self._lvl_rows)))
        if "_pwg" in c:
            # the first steps may legitimately lack gradients, and once gradients overflow
            # they under- or overflow to exactly 0: take the median over the healthy rows
            late = steps >= 2
            if "train/nonfinite@grads" in c:
                late &= t[:, c["train/nonfinite@grads"]] == 0
            gz = [c[f"_gz{i}"] for i in range(len(lay.meta.get("g_seg", ())))]
            if late.any() and gz and all(f"_gz{i}" in c for i in range(len(gz))):
                if self._reach is None or len(self._reach.module_of) != len(gz):
                    seg = list(lay.meta["g_seg"])
                    groups = [k[16:] for k in c if k.startswith("train/grad_norm@")]
                    self._reach = GradReach(seg, [f"{groups[k] if k < len(groups) else k}[{i}]"
                                                  for i, k in enumerate(seg)])  # fmt: skip
                self._reach.add((t[late][:, gz] == 0.0).any(axis=0), True)
                self._reach.fold(ctx)
            elif late.any():
                flags["params_without_grad"] = float(median(t[late][:, c["_pwg"]]))
        self._accum_steps_per_epoch()

    def _penalty_share(self, lay: _Layout, t: np.ndarray) -> None:
        """``reg_loss_share`` (as the Keras callback's): the part of the first logged training
        loss above the softmax cross-entropy of the step's own logits and labels - a penalty
        added to the objective (L2 on the weights, an auxiliary term) - for a softmax
        cross-entropy on class ids only. A loss that is the batch's sum (batch-size times the
        mean) is a reduction, not a penalty: no share."""
        loss_cfg = self.context.loss
        if self.context.flags.get("loss_task") != "classification" or loss_cfg is None or loss_cfg.expects != "logits":
            return
        rows = t[:, [lay.col["train/loss"], lay.col["_ce_int"]]]
        rows = rows[np.isfinite(rows).all(axis=1) & (rows[:, 0] > 0.0) & (rows[:, 1] > 0.0)]
        if not len(rows):
            return
        loss, ce = float(rows[0, 0]), float(rows[0, 1])
        n = float(lay.meta.get("ce_rows", 0))
        if n >= 2.0 and abs(loss / ce - n) <= 0.02 * n:
            return
        share = penalty_share(loss, ce)
        if share is not None:
            self.context.flags["reg_loss_share"] = share

    def _accum_steps_per_epoch(self) -> None:
        """With gradient accumulation (``grad_accum_steps``) the logged steps are the
        micro-batches the loop feeds the optimizer: without a stated ``steps_per_epoch``, it is
        counted in that unit (``n_train / batch_size`` batches), not in optimizer updates."""
        ctx, d = self.context, self.context.data
        if ctx.flags.get("grad_accum_steps") and not self._spe_given and d.n_train and d.batch_size:
            ctx.steps_per_epoch = -(-int(d.n_train) // int(d.batch_size))

    def _final_note(self) -> None:
        self._set_final_note(self.context, "traindx recorder: ", f"{self._steps} steps logged")
