"""The ``ctx`` fact group: what a run states about itself (optimizer, loss, model, data, plan),
as the adapters and readers recorded it in :class:`~traindx.schema.RunContext`."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from traindx.schema import Run, RunContext
from traindx.signals.widths import ATTENTION, RECURRENT, hidden_widths

#: Activations whose output stays within a fixed range (a recurrent cell's defaults among them).
BOUNDED = frozenset({"tanh", "sigmoid", "hard_sigmoid", "hardsigmoid", "softsign", "hard_tanh", "hardtanh", "softmax"})


def num_classes(run: Run) -> int | None:
    d, m = run.context.data, run.context.model
    if d.num_classes:
        return d.num_classes
    if d.class_counts:
        return len(d.class_counts)
    if m.output_units and m.output_units > 1 and width_counts_classes(run.context):
        return m.output_units
    return None


def width_counts_classes(c: RunContext) -> bool:
    """Whether the output's width is a class count: a classification stated, a probability
    output, a loss the adapter read as a classification (flag ``loss_task``), or - where no
    adapter read the loss - a named one. A loss the adapter could not read (``loss_task``
    unknown: a custom function, named or not) or none named, on an unnormalized output (a
    contrastive embedding), gives the width no meaning: no ln(C), no 1/C."""
    task = c.data.task
    if task not in (None, "classification"):
        return False
    if task == "classification" or (c.model.output_activation or "").lower() in ("softmax", "log_softmax", "sigmoid"):
        return True
    read = c.flags.get("loss_task")
    if read is not None:
        return read in ("classification", "binary", "multilabel")
    return bool(c.loss.name)


def context_facts(run: Run) -> dict[str, Any]:
    c = run.context
    out: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if value is not None:
            out[name] = value

    put("framework", c.framework)
    put("optimizer", (c.optimizer.name or "").lower() or None)
    put("lr", c.optimizer.lr)
    put("lr_schedule", (c.optimizer.schedule or "").lower() or None)  # the adapter's name for it
    put("momentum", c.optimizer.momentum)
    put("weight_decay", c.optimizer.weight_decay)
    put("eps", c.optimizer.eps)
    put("clipnorm", c.optimizer.clipnorm)
    put("loss_name", (c.loss.name or "").lower() or None)
    put("from_logits", c.loss.from_logits)
    put("loss_expects", c.loss.expects)
    put("output_activation", (c.model.output_activation or "").lower() or None)
    put("output_units", c.model.output_units)
    put("num_params", c.model.num_params)
    put("num_trainable", c.model.num_trainable)
    put("has_dropout", c.model.has_dropout)
    put("has_batchnorm", c.model.has_batchnorm)
    put("training_mode", c.model.training_mode)
    put("n_layers", len(c.model.layers) or None)
    if c.model.layers:
        # a normalization layer first (BatchNorm, LayerNorm, Keras Normalization) scales the
        # raw inputs inside the model
        out["input_norm_layer"] = bool(re.search(r"norm", c.model.layers[0].type or "", re.IGNORECASE))
        out["has_recurrent"] = any(RECURRENT.search(f"{layer.type or ''} {layer.name}") for layer in c.model.layers)
        # a recurrent layer whose activation the adapter recorded and that is not bounded
        # (LSTM(activation='relu'), nn.RNN(nonlinearity='relu')): the state it carries can grow
        # without bound through the time steps
        out["recurrent_unbounded"] = any(
            RECURRENT.search(f"{layer.type or ''} {layer.name}") and (layer.activation or "").lower() not in BOUNDED
            for layer in c.model.layers if layer.activation
        )
        out["has_attention"] = any(ATTENTION.search(f"{layer.type or ''} {layer.name}") for layer in c.model.layers)
        widths = hidden_widths(c.model.layers, c.model.output_units)
        if widths:  # the narrowest layer everything the output needs must pass through
            out["min_hidden_width"] = min(widths)
    put("n_train", c.data.n_train)
    put("batch_size", c.data.batch_size)
    put("task", c.data.task)
    put("input_max", c.data.input_max)
    put("input_min", c.data.input_min)
    put("input_std", c.data.input_std)
    put("input_mean", c.data.input_mean)
    put("input_dtype", (c.data.input_dtype or "").lower() or None)
    put("num_classes", num_classes(run))
    if c.data.class_counts:
        counts = np.asarray(c.data.class_counts, dtype=np.float64)
        out["majority_share"] = float(counts.max() / max(counts.sum(), 1.0))
    if c.data.n_train and c.model.num_params:
        out["params_per_example"] = c.model.num_params / c.data.n_train
    accum = c.flags.get("grad_accum_steps")  # stated accumulation: a loader batch is no step
    if c.data.n_train and c.data.batch_size and not (accum and c.steps_per_epoch):
        out["steps_per_epoch"] = max(round(-(-c.data.n_train // c.data.batch_size) / float(accum or 1.0)), 1)
    elif c.steps_per_epoch:  # what the adapter counted (Keras: the fit's steps per epoch)
        out["steps_per_epoch"] = int(c.steps_per_epoch)
    for k, v in c.flags.items():
        out[k] = v
    put("epochs", c.epochs)
    put("max_steps", c.max_steps)
    put("max_steps_epochs", max_steps_epochs(c))
    return out


def max_steps_epochs(c: RunContext) -> float | None:
    """The epochs a planned ``max_steps`` allows: max_steps over the optimizer steps of one
    epoch (the count the adapter or the trainer's state recorded, else the loader's batches
    over the accumulated micro-batches). HF's Trainer and Lightning stop at ``max_steps``
    whatever the epoch count says."""
    if not c.max_steps:
        return None
    per_epoch = float(c.steps_per_epoch or 0)
    if not per_epoch and c.data.n_train and c.data.batch_size:
        accum = c.flags.get("grad_accum_steps")
        if c.flags.get("grad_accumulating") is True and not accum:
            return None  # accumulating, by how much unknown
        per_epoch = -(-c.data.n_train // c.data.batch_size) / float(accum or 1.0)
    return round(c.max_steps / per_epoch, 4) if per_epoch > 0 else None
