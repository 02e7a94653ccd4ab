"""The Keras callback's static context: model, loss, optimizer, weights, output activation, task."""

from __future__ import annotations

import math
import os
from typing import Any

import keras
import numpy as np

from traindx.adapters import _keras_stats as ks
from traindx.adapters._common import dropout_max, init_scale_flags
from traindx.adapters._common.facts import row_target_facts
from traindx.adapters._keras_data import _first_leaf, _head_target
from traindx.adapters._keras_linear import linear_stacks
from traindx.adapters._keras_write import compiled_metrics, metric_aliases, stock_train_step
from traindx.schema import DataInfo, RunContext

_LEGACY_ON = ("1", "true", "yes")


def _refuse_keras2() -> None:
    """Fail at construction, with a clear message, where the model is likely a Keras 2 one
    (tf_keras loaded, or TF_USE_LEGACY_KERAS making ``tf.keras`` tf_keras): tf_keras' ``fit``
    would otherwise break on this Keras 3 callback inside the user's training."""
    import sys

    legacy = os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in _LEGACY_ON
    if legacy or "tf_keras" in sys.modules:
        why = "TF_USE_LEGACY_KERAS is set (tf.keras is Keras 2)" if legacy else "tf_keras (Keras 2) is loaded"
        raise RuntimeError(
            f"traindx: DiagnosisCallback supports Keras 3 only and {why}; a tf_keras model.fit cannot run it. "
            "Build and fit the model with Keras 3 (import keras; unset TF_USE_LEGACY_KERAS), or record the "
            "run's logs (TensorBoard callback) and run `traindx diagnose` on them."
        )


class _StaticContext:
    """DiagnosisCallback's static context (a mix-in: the state lives on the callback)."""

    # ------------------------------------------------------------------ setup

    def _plan(self) -> None:
        """The run's planned length (the per-layer sample floor's gap): its steps so far plus
        this fit's epochs x steps per epoch (a later fit() on the same callback extends it).
        Not on JAX: a sample there waits for the device twice (the steps run ahead of it; the
        update ratio needs the next step's weights, which the trainer then donates), and the
        floor took overhead_keras.py --rounds 8 --epochs 2's default from 5-8 % to 22-24 % CPU
        even with the weights' statistics on the host."""
        p = self.params or {}
        if p.get("epochs") and p.get("steps") and ks.BACKEND != "jax":
            self._cad.planned = self._step + int(p["epochs"]) * int(p["steps"])

    def _setup(self) -> None:
        model = self._model
        self._epoch, self._epoch_base, self._epoch_first = 0, 0, True
        self._prev_mean = None
        self._acc_key: str | None = None
        self._acc_decided = False
        self._aliases: dict[str, str] = {}  # compiled metrics named by their class (metric_aliases)
        #: whether the batch logs are Keras' running means (per metric: "loss", "acc"); None
        #: until a first epoch with enough batches told (running_means), else assumed
        self._running: dict[str, bool] = {}
        self._excl = 0.0  # time of this hook call that is a one-off cost (compiling)
        self._warm: set[str] = set()
        self._snap: list[Any] | None = None
        self._snap_step = -1
        self._snap_wsq: np.ndarray | None = None
        self._delta_pending: tuple[list[Any], list[Any], int, np.ndarray] | None = None  # JAX: (weights copied behind, snapshot, step, wsq)
        self._engine: ks.Engine | None = None
        self._probe: tuple[Any, Any] | None = None
        self._head: ks.model.Head | None = None  # the output a per-output loss describes
        self._probe_t: tuple[Any, Any] | None = None
        self._lr_value: float | None = None
        self._lr_first: float | None = None  # the rate variable at the first epoch's start
        self._lr_points: dict[int, float] = {}
        self._batch_size: int | None = self._user["batch_size"]
        self._pending_rows: list[tuple[int, float, dict[str, float]]] = []
        self._n_checked = False
        self._reg_penalty: float | None = None  # at the initial weights, until step 0's loss
        import traindx

        self.context = ctx = RunContext(
            framework="keras",
            framework_version=keras.__version__,
            data=DataInfo(
                num_classes=self._user["num_classes"],
                n_train=self._user["n_train"],
                batch_size=self._user["batch_size"],
            ),  # fmt: skip
        )
        ctx.flags["keras_backend"] = ks.BACKEND
        ctx.flags.update({"grad_accumulating": False} if stock_train_step(model) else {"custom_train_step": True})  # a user's train_step may accumulate
        ctx.hyperparameters["traindx_version"] = getattr(traindx, "__version__", None)
        if self._run_name:
            ctx.hyperparameters["run_name"] = self._run_name
        params = self.params or {}
        ctx.epochs = params.get("epochs")
        ctx.steps_per_epoch = params.get("steps")
        if ctx.steps_per_epoch:
            self._cad.cap = 2 * int(ctx.steps_per_epoch)
        # loss, optimizer, metrics
        self._head = ks.loss_head(model)
        if self._head is not None:  # one loss per output: the head's own loss
            pos, name, loss = self._head
            info, self._loss_task, _ = ks.loss_info(loss)
            notes = [f"{len(model.outputs)} outputs, each with its own loss; the context describes "
                     f"output '{name}' ({info.name or 'custom loss'})"]
        else:
            info, self._loss_task, notes = ks.loss_info(getattr(model, "loss", None))
        ctx.loss = info
        ctx.notes.extend(notes)
        opt = getattr(model, "optimizer", None)
        ctx.optimizer, self._schedule = ks.optimizer_info(opt)
        self._opt = ks.inner_optimizer(opt) if opt is not None else None
        grad_acc = getattr(self._opt, "gradient_accumulation_steps", None)
        if grad_acc:
            ctx.hyperparameters["gradient_accumulation_steps"] = int(grad_acc)
        self._read_optimizer_state()
        try:
            self._read_metrics()
        except Exception:  # noqa: BLE001
            pass
        self._open_writer()
        self._started = True
        self._data_setup()
        self._writer.write_context(ctx)

    def _read_metrics(self) -> None:
        """The compiled metrics' names, and those named by their class (``metric_aliases``);
        again at the first batch (the TensorFlow backend builds them in the first step)."""
        metrics = compiled_metrics(self._model)
        if self.context is not None:
            self.context.hyperparameters["metrics"] = [name for _, name in metrics] or None
        self._aliases = metric_aliases(metrics)

    def _read_optimizer_state(self) -> None:
        opt = self._opt
        self._iter0 = 0
        if opt is None:
            return
        try:
            self._iter0 = int(ks.host_float(opt.iterations.value)) - self._step
        except Exception:  # noqa: BLE001
            self._iter0 = 0

    def _refit(self) -> None:
        """A later fit() after ``model.compile`` again (transfer learning's fine-tuning phase:
        the base unfrozen, a new optimizer at a lower rate). The steps now use the new
        optimizer (its learning rate, schedule and iteration count), and the probe's gradients
        and the weights the engine reads are indexed by position in ``model.trainable_variables``,
        whose membership changes when a layer's ``trainable`` flag does: both are read again."""
        model = self._model
        opt = getattr(model, "optimizer", None)
        inner = ks.inner_optimizer(opt) if opt is not None else None
        ctx = self.context
        if inner is not None and inner is not self._opt:
            info, self._schedule = ks.optimizer_info(opt)
            self._opt, self._lr_value, self._lr_first = inner, None, None
            if ctx is not None:
                lr = getattr(info, "lr", None) if info is not None else None
                ctx.notes.append(f"re-compiled before the fit at step {self._step}: a new optimizer"
                                 + (f" (learning rate {lr:g})" if isinstance(lr, float) else ""))
        if not self._model_ready or self._engine is None:
            return
        ids = tuple(id(v) for v in model.trainable_variables)
        if ids != self._tv_ids:
            self._tags()
            self._build_engine()
            self._tv_ids = ids
            if ctx is not None:
                ctx.notes.append(f"the trainable weights changed before the fit at step {self._step}")

    def _ensure_model(self) -> bool:
        """Model-dependent setup, once the model is built (a Sequential without an Input is
        built by its first training step)."""
        if self._model_ready:
            return True
        model = self._model
        if not getattr(model, "built", False) or not model.weights:
            return False
        ctx = self.context
        assert ctx is not None
        self._groups = g = ks.group_weights(model)
        info = ks.model_info(model, g)
        ctx.model = info
        l2 = ks.l2_coefficient(model)
        if l2 is not None:
            # an L2 kernel regularizer is a loss term, not the optimizer's weight decay: it is
            # recorded as itself (flags.l2_max, hyperparameters.l2), never as weight_decay
            ctx.hyperparameters["l2"] = l2
        pos = self._out_pos
        out_layer = ks.output_layer(model, pos)
        self._weight_facts(out_layer)
        act = ks.layer_activation(out_layer) if out_layer is not None else None
        info.output_activation = act
        try:
            out_shape = model.outputs[pos].shape
            info.output_units = int(out_shape[-1]) if out_shape[-1] is not None else None
        except Exception:  # noqa: BLE001 - subclassed model: from the probe output below
            pass
        if out_layer is None and self._probe is not None:
            self._infer_output(info)
        self._decide_task()
        self._static_facts()
        self._tags()
        self._build_engine()
        self._tv_ids = tuple(id(v) for v in model.trainable_variables)  # what the engine indexes
        self._model_ready = True
        if self._writer is not None:
            self._writer.write_context(ctx)
        return True

    def _weight_facts(self, out_layer: Any) -> None:
        """Regularization and initialization facts: ``l2_max`` (static), and - at the initial
        weights, before the first optimizer step - the kernels' ``init_scale_*`` and the
        regularization penalty (``reg_loss_share`` once the first training loss is logged).
        "Initial" is the weights at the start of the first fit this callback sees, with an
        optimizer that has taken no step: weights trained before a re-compile count too."""
        ctx = self.context
        assert ctx is not None
        model = self._model
        try:
            ctx.flags["l2_max"] = ks.l2_max(model)
        except Exception:  # noqa: BLE001 - a fact less, never a failure
            pass
        try:  # Dropout / SpatialDropout rates, RNN dropout and recurrent_dropout (0.0: none)
            ctx.flags["dropout_max"] = dropout_max(ks.leaf_layers(model))
            if (stacks := linear_stacks(model)) is not None:  # Dense layers composed linearly
                ctx.flags["linear_stack"], ctx.flags["linear_stack_full_rank"] = stacks
        except Exception:  # noqa: BLE001, S110 - a fact less, never a failure
            pass
        if self._step > 1 or self._iter0 != 0:  # not the initial weights any more
            ctx.notes.append("init_scale not recorded: the weights were trained before this fit")
            return
        try:
            ctx.flags.update(init_scale_flags(ks.init_scales(model, out_layer)))
        except Exception:  # noqa: BLE001
            pass
        try:
            self._reg_penalty = ks.regularization_penalty(model)
        except Exception:  # noqa: BLE001
            self._reg_penalty = None

    def _reg_share(self, first_loss: float) -> None:
        """``reg_loss_share``: the regularization penalty at the initial weights over the first
        logged training loss (Keras logs the loss with the penalty included)."""
        pen, self._reg_penalty = self._reg_penalty, None
        ctx = self.context
        if pen is None or ctx is None or not math.isfinite(first_loss) or first_loss <= 0:
            return
        ctx.flags["reg_loss_share"] = float(pen / first_loss)

    def _infer_output(self, info: Any) -> None:
        """Output width and activation of a model without a layer graph (subclassed), from
        one forward pass on the probe at the current weights (stateless: nothing changes)."""
        model = self._model
        x = keras.tree.map_structure(keras.ops.convert_to_tensor, self._probe[0])  # type: ignore[index]
        tv, ntv, _ = ks.Engine(model, [], None, None, False).state()
        mapping = [*zip(model.trainable_variables, tv, strict=True),
                   *zip(model.non_trainable_variables, ntv, strict=True)]  # fmt: skip
        with keras.StatelessScope(state_mapping=mapping):
            out = _first_leaf(model(x, training=False))
        out = np.asarray(keras.ops.convert_to_numpy(out))
        if out.ndim >= 1:
            info.output_units = int(out.shape[-1]) if out.ndim >= 2 else 1
        act = ks.infer_activation(out)
        info.output_activation = act
        if act != "linear":
            self.context.notes.append(  # type: ignore[union-attr]
                f"output activation '{act}' inferred from the probe output values (no layer graph)"
            )

    def _decide_task(self) -> None:
        ctx = self.context
        assert ctx is not None
        m, d = ctx.model, ctx.data
        act, units = m.output_activation, m.output_units
        y = self._probe[1] if self._probe is not None else None
        yh = _head_target(y, self._head) if y is not None else None
        yl = np.asarray(yh) if yh is not None else None
        task = self._loss_task
        if act in ("softmax", "log_softmax") and (units or 0) >= 2:
            task = "classification"
        elif task in ("regression", None) and yl is not None:
            if ks.looks_one_hot(yl):
                task = "classification"
            elif yl.dtype.kind in "iub" and (units or 0) >= 2:
                task = "classification"
            elif task is None and (units or 0) == 1 and yl.size and np.all((yl == 0) | (yl == 1)):
                task = "binary"
        # a binary loss over several units is multi-label (k independent 0/1 labels), over
        # its own inputs a reconstruction: no single-label task, no class counts (a softmax
        # output stays a single-label classification scored by a binary loss; an MSE
        # reconstruction a regression)
        loss_task = self._loss_flags(yl, units)
        if act not in ("softmax", "log_softmax") and (
            loss_task == "multilabel" or (loss_task == "reconstruction" and task == "binary")
        ):
            task = loss_task
        d.task = (
            task
            if task in ("classification", "binary", "regression")
            # type: ignore[assignment]
            else ("other" if task else None)
        )
        if d.num_classes is None and units:
            if task == "classification" and units >= 2:
                d.num_classes = units
            elif task == "binary" and units == 1:
                d.num_classes = 2
            elif task == "multilabel":
                d.num_classes = units  # the number of labels; flag loss_task says multilabel
        if task == "multilabel":  # the label rate: a constant predictor's loss per output is its entropy
            ys = self._y_for_counts[0] if self._y_for_counts is not None else None
            ys = ys if ys is not None and np.shape(ys)[-1:] == (units,) else yl
            if ys is not None and np.size(ys) and np.asarray(ys).dtype.kind in "fiub":
                ctx.flags["label_positive_share"] = float(np.mean(np.asarray(ys) > 0.5))
        if self._y_for_counts is not None and task in ("classification", "binary"):
            yc, where = self._y_for_counts
            counts = ks.class_counts(yc, task) if yc is not None else None
            if counts:
                d.class_counts = counts
                self._weight_direction()
                if where != "train_data":
                    ctx.notes.append(f"class counts from {where} ({sum(counts)} rows)")

    def _loss_flags(self, yl: np.ndarray | None, units: int | None) -> str | None:
        """The compiled loss's kind and task as facts (``loss_kind``, ``loss_task``,
        ``loss_source``; the torch Monitor's vocabulary): a binary loss over several output
        units is multi-label, a regression or binary loss whose probe targets are its inputs a
        reconstruction."""
        ctx = self.context
        assert ctx is not None
        name, task = ctx.loss.name, self._loss_task
        if name is None:
            return None
        x = _first_leaf(self._probe[0]) if self._probe is not None else None
        if task in ("regression", "binary") and yl is not None and x is not None:
            xl = np.asarray(x)
            if xl.shape == yl.shape and np.array_equal(xl, yl):
                task = "reconstruction"
        if task == "binary" and (units or 0) > 1:
            task = "multilabel"
        # one loss per output: the logged loss is their weighted sum, on no one head's scale
        # (ln C, the target variance) - the torch Monitor's "composite"; the head's own loss
        # stays in ctx.loss and loss_kind
        flag_task = "composite" if self._head is not None else (task or "unknown")
        ctx.flags.update(loss_kind=name, loss_task=flag_task, loss_source="compile")
        return task if task in ("multilabel", "reconstruction") else None

    @property
    def _out_pos(self) -> int:
        """The position in ``model.outputs`` of the output the context describes."""
        return self._head[0] if self._head is not None else 0

    def _static_facts(self) -> None:
        """Facts about how the output meets the loss; the rulebook judges them (CTX001,
        CTX002, CTX006, CTX011, CTX013)."""
        ctx = self.context
        assert ctx is not None
        if ctx.model.output_activation == "softmax" and ctx.loss.from_logits:
            # Keras on TensorFlow takes the logits from before a softmax for a from_logits
            # loss; the other backends apply softmax a second time
            ctx.flags["softmax_logits_recovered"] = ks.BACKEND == "tensorflow"
        self._broadcast_check()

    def _broadcast_check(self) -> None:
        """Keras aligns the ranks of target and prediction (one trailing axis) before a loss;
        an element-wise loss then broadcasts (N, 1) targets against an (N, C) output; a
        hand-written one, one-hot rows against one unit (``to_categorical`` labels)."""
        ctx = self.context
        assert ctx is not None
        name = ctx.loss.name
        custom = name is not None and name not in ks.KERAS_LOSSES
        if (name not in ks.ELEMENTWISE_LOSSES and not custom) or self._probe is None or self._probe[1] is None:
            return
        yl = _head_target(self._probe[1], self._head)
        try:
            out, ys = list(self._model.outputs[self._out_pos].shape), list(np.shape(yl))
        except Exception:  # noqa: BLE001
            return
        if len(ys) == len(out) - 1:
            ys = ys + [1]
        elif len(ys) == len(out) + 1 and ys[-1] == 1:
            ys = ys[:-1]
        if len(ys) != len(out):
            return
        a, b = ys[1:], [d if d is not None else a_ for d, a_ in zip(out[1:], ys[1:], strict=True)]
        flags = ctx.flags
        wide = a != b and all(x == y or x == 1 or y == 1 for x, y in zip(a, b, strict=True))
        if custom and not (wide and b[-1:] == [1] and row_target_facts(np.reshape(yl, (len(yl), -1))).get("target_onehot")):
            return  # a hand-written loss may unpack its targets: no fact either way
        if wide:
            flags["broadcast_in_loss"] = True
            ctx.notes.append(f"{name} compares targets of shape {[None, *a]} with outputs of shape {[None, *b]} (broadcast)")
        else:
            flags["broadcast_in_loss"] = False
