"""The fact catalogue: every ``group.fact`` a rule condition can read, with its CEL type.

Rule files are checked against it at load, so ``loss.firts`` is an error naming the file,
the line and the closest real fact, not a rule that is silently never evaluated.

The catalogue is not a second list to keep in step with :mod:`traindx.signals`: it is what
:func:`traindx.signals.compute_facts` returns on a synthetic run that logs every series a
fact group reads (every curve metric on every split, the learning rate, per-layer
telemetry) and fills
every field of the run context, plus :data:`ADAPTER_FLAGS`, the ``ctx`` facts the adapters
record in ``context.json`` (``flags``). A new fact in the signals appears here by itself;
a new adapter flag must be added to :data:`ADAPTER_FLAGS`, a flag only a configuration
states to :data:`CONFIG_FLAGS`.
"""

from __future__ import annotations

import difflib
import types
import typing
from functools import lru_cache
from typing import Any, Literal, get_args, get_origin

import numpy as np

from traindx.adapters._common.optimizer import HYPER_FLAGS
from traindx.lazymodel import LazyModel

#: ``ctx`` facts recorded by the adapters (torch Monitor, Keras callback, JAX Recorder) in
#: the context's ``flags``, with their type.
ADAPTER_FLAGS: dict[str, type] = {
    "accuracy_logs_running_mean": bool,  # Keras: the per-batch accuracy logged is the running mean
    "bn_layers": float,  # Keras: BatchNormalization layers with moving statistics (default 0/1 init); JAX: rec.log_state's BatchNorm stats
    "bn_stats_at_init": float,  # of those, layers whose moving mean/variance are still exactly 0/1 at the end
    "bn_stats_steps": float,  # the training steps taken when bn_stats_at_init was read
    "broadcast_in_loss": bool,
    "custom_train_step": bool,  # Keras: a class of the user overrides train_step (its own gradients, possibly accumulated)
    "dropout_max": float,
    "fatal_step": float,  # the step an adapter saw a non-finite loss, weights or gradients
    "forwards_per_step": float,
    "frozen_by_optimizer": bool,
    "grad_accumulating": bool,
    "graph_relu": bool,  # JAX (telemetry_jit): the step's forward pass holds a ReLU-family activation (False: only other nonlinearities)
    "grads_carried_over": float,
    "init_scale_layer": str,
    "inputs_checked": float,  # adapters: input summaries compared with the one recorded before
    "inputs_same_share": float,  # adapters: the share of them equal to it (the same batch every step)
    "init_scale_max": float,
    "init_scale_min": float,
    "init_zero_frac": float,
    "input_code_columns": float,
    "input_nonfinite": float,
    "keras_backend": str,
    "l2_max": float,
    "loss_class_weighted": bool,
    "loss_minority_weight_ratio": float,  # torch loss weight/pos_weight, Keras class_weight: rarest class's weight / commonest's
    "linear_stack": float,  # torch (fx trace) / Keras (Sequential): the most Linear/Dense layers composed with nothing non-linear between them
    "linear_stack_full_rank": float,  # the same count leaving out stacks that narrow below both ends (a linear bottleneck)
    # torch: param_groups[0]'s hyper-parameters beyond OptimizerInfo (opt_dampening, opt_nesterov, opt_maximize ...)
    **{f"opt_{name}": kind for name, kind in HYPER_FLAGS.items()},
    "step_grad_cos": float,  # JAX: median cosine of the applied parameter change (adjacent telemetry steps) with the gradient
    "step_grad_pairs": float,  # JAX: the adjacent telemetry-step pairs it was taken over
    "mode_layers": float,  # torch: dropout / batch-norm submodules (their train/eval mode matters)
    "mode_layers_checked": float,  # torch: the training steps their modes were read on (every step)
    "mode_layers_eval_share": float,  # torch: the share of those steps with every one of them in eval mode
    "loss_kind": str,
    "loss_logs_running_mean": bool,  # Keras: the per-batch loss logged is the running mean
    "loss_scaled": bool,  # torch: the logged loss is its library loss node times a factor
    "loss_source": str,
    "loss_task": str,
    "loss_weighted": bool,  # torch: the loss node holds a weight / pos_weight tensor
    "param_dtype": str,  # JAX: the floating dtype of most parameter entries (float16, bfloat16, float32)
    "params_not_in_optimizer": float,
    "params_without_grad": float,
    "reg_loss_share": float,
    "softmax_dim0": bool,
    "softmax_logits_recovered": bool,
    "stopped_by": str,  # what ended the run before its plan: traindx | callback | interrupted
    "target_distinct": float,
    "target_integer": bool,
    "target_kind": str,  # integer | continuous (one value a row); onehot | onehot_empty_rows | multihot | distribution | continuous (rows)
    "target_max": float,
    "target_min": float,
    "target_onehot": bool,
    "target_row_sum": float,  # (N, C) targets: the mean row sum (1 for one-hot rows and distributions)
    # the trivial predictor's loss (adapters/_common/levels.py), from the targets the loss is
    # given (not for class ids under a cross-entropy): the outputs per target row, the mean
    # over outputs of the variance (MSE of predicting the mean), of the mean absolute
    # deviation from the median (MAE), of the base rate's entropy (BCE; targets in [0, 1]),
    # of the targets' own entropy (the least a BCE can reach: above 0 for soft targets)
    "target_width": float,
    "trivial_bce": float,
    "trivial_bce_floor": float,
    "trivial_mae": float,
    "trivial_mse": float,
    "update_nonfinite_finite_grads": float,  # JAX: first step whose update was inf/NaN from finite gradients and weights
    # data= and val_data= given (adapters/_common/splits.py): median over features of
    # |mean_val - mean_train| / std_train and of std_val / std_train
    "val_input_shift": float,
    "val_input_std_ratio": float,
    # continuous targets of both splits (adapters/_common/splits.target_shift): |mean_val -
    # mean_train| / std_train, std_val / std_train, and the validation rows
    "val_target_shift": float,
    "val_target_std_ratio": float,
    "val_target_rows": float,
    "val_shared_frac": float,
    # adapters/_common/assoc.py: the largest |correlation| of one flat input column with the
    # target (eta for class ids), its column and the number of columns
    "feature_target_corr": float,
    "feature_target_col": float,
    "feature_target_cols": float,
    # and the best one-column decision stump on class ids: its accuracy, column, the majority
    # share, the best other column's accuracy, distinct values on the split's sparser side
    "feature_stump_acc": float,
    "feature_stump_col": float,
    "feature_stump_base": float,
    "feature_stump_next": float,
    "feature_stump_levels": float,
    # adapters/_keras_stats/model.py: outputs scored by a (sparse) categorical cross-entropy
    # while one unit wide (their loss is 0 whatever the weights)
    "loss_one_unit_categorical": float,
    # adapters/_common/labelnn.py: how often a training row's nearest neighbour (standardized
    # inputs) shares its class, against chance (sum of squared class shares); the lift
    # (agree - chance) / (1 - chance), its binomial z and the rows; the class histograms of
    # the training and validation targets: total variation, chi-square log10 p, classes in
    # validation only, validation rows
    "label_nn_agree": float,
    "label_nn_chance": float,
    "label_nn_lift": float,
    "label_nn_z": float,
    "label_nn_rows": float,
    "split_label_tv": float,
    "split_label_log10p": float,
    "split_classes_val_only": float,
    "split_val_rows": float,
    # labelnn.val_nn_flags: a validation row's distance to its nearest training row over a
    # training row's to its nearest other one (medians), and the share of validation rows whose
    # nearest training row carries their class
    "val_nn_dist_ratio": float,
    "val_nn_agree": float,
    "val_nn_rows": float,
    # labelnn.drop_on_token_ids: the model holds an embedding, a lookup table (the inputs
    # are token or category ids; the label_nn_* / val_nn_* facts are then not recorded)
    "inputs_token_ids": bool,
    # torch: the model's forwards under no_grad (the overlap hook's life, about an epoch and
    # the evaluation after it) and the share of them with model.training True
    "eval_forwards": float,
    "eval_train_mode_share": float,
    "train_forwards_per_step": float,  # torch: the usual training-mode forwards between two steps
    "unstepped_forwards": float,  # torch: training-mode forwards beyond that usual count
    "unstepped_intervals": float,  # torch: the intervals between steps that held them
    "stepped_intervals": float,  # torch: the intervals counted
}

#: ``ctx`` facts a run's configuration states that no adapter records, in the context's
#: ``flags`` (:mod:`traindx.readers.hparams_facts`), with their type.
CONFIG_FLAGS: dict[str, type] = {
    "from_config": str,
    "grad_accum_steps": float,
    "label_smoothing": float,
    "optimizer_from_config": bool,
    "epochs_done": float,  # readers: the last value of a fractional epoch counter (HF's 'epoch': 0.8)
    "steps_counted": bool,  # readers: a step column beside an epoch column repeats a step (a trainer's counter)
    "warmup_ratio": float,
    "warmup_steps": float,
}

_PLACEHOLDER: dict[type, float | bool | str] = {bool: True, float: 0.5, int: 3, str: "x"}
_LAYER_METRICS = ("act_frac_zero", "act_frac_saturated", "grad_norm", "update_ratio", "act_mean", "act_std")


def cel_type(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "double"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _sample(tp: Any) -> Any:
    """A value of a pydantic field's type (the first option of a Literal)."""
    origin = get_origin(tp)
    if origin is Literal:
        return get_args(tp)[0]
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _sample(inner[0]) if inner else None
    if origin is list:
        (item,) = get_args(tp)
        return [_sample(item) for _ in range(3)]
    if isinstance(tp, type) and issubclass(tp, LazyModel):
        return _filled(tp)
    return _PLACEHOLDER.get(tp)


def _filled(model: type[LazyModel]) -> dict[str, Any]:
    out = {}
    for name, field in model.model_fields.items():
        value = _sample(field.annotation)
        if value is not None:
            out[name] = value
    return out


def _full_run() -> Any:
    from traindx.schema import Run, RunContext, Series, SeriesKey, Split
    from traindx.signals import CURVE_GROUPS

    ctx = _filled(RunContext)
    ctx["model"]["layers"] = [
        {"name": "fc1", "type": "Linear", "params": 72, "output_shape": [None, 8]},
        {"name": "rnn", "type": "LSTM"},
    ]
    ctx["data"]["task"] = "classification"
    ctx["flags"] = {k: _PLACEHOLDER[t] for k, t in (ADAPTER_FLAGS | CONFIG_FLAGS).items()}
    ctx["flags"]["loss_kind"] = "mseloss"  # a loss with a trivial level (the trivial group)
    ctx["flags"].update(reg_loss_share=0.0, loss_weighted=False, loss_scaled=False, loss_class_weighted=False)
    run = Run(id="catalogue", context=RunContext.model_validate(ctx))
    steps = np.arange(200)
    values = 2.0 * 0.98**steps + 0.05 * np.sin(steps) + 0.1
    metrics = sorted({m for m, _ in CURVE_GROUPS.values()})
    splits: tuple[Split, ...] = ("train", "val", "test")
    keys = [SeriesKey(metric=m, split=sp) for m in metrics for sp in splits]
    keys += [SeriesKey(metric=m, split="val") for m in ("recall", "f1_macro")]  # the degen group
    keys += [SeriesKey(metric=m, split=sp) for m in ("r2", "auc", "f1", "mae", "dice", "perplexity") for sp in splits[:2]]  # aux
    keys += [SeriesKey(metric="lr"), SeriesKey(metric="output_row_sum"), SeriesKey(metric="pred_class_frac", statistic="max")]
    keys += [SeriesKey(metric=m, scope=layer) for m in _LAYER_METRICS for layer in ("fc1", "rnn")]
    for key in keys:
        if str(key) not in run.series:
            run.add(Series(key=key, steps=steps, values=values))
    # a validation accuracy that is a share of 200 examples (infer.n_val reads its quantum)
    shares = np.round(np.clip(1.0 - values / 2.2, 0.0, 1.0) * 200) / 200
    run.add(Series(key=SeriesKey(metric="accuracy", split="val"), steps=steps, values=shares))
    # a second rank of a data-parallel job (the ranks group), its loss non-finite at the end
    run.add(Series(key=SeriesKey(metric="step_time"), steps=steps, values=np.full(steps.size, 0.1)))
    for metric in ("loss", "grad_norm", "weight_norm", "step_time"):
        rank1 = values * 1.01 if metric != "loss" else np.r_[values[:-1] * 1.01, np.nan]
        run.add(Series(key=SeriesKey(metric=metric, scope="rank1"), steps=steps, values=rank1))
    from traindx.checks import CHECK_FACTS
    from traindx.schema import CheckResult

    run.checks = [
        CheckResult(name=n, status="passed", facts={k: _PLACEHOLDER[t] for k, t in fs.items()})
        for n, fs in CHECK_FACTS.items()
    ]
    return run


@lru_cache(maxsize=1)
def sample_facts() -> dict[str, dict[str, Any]]:
    """The facts of the synthetic run behind the catalogue (a value of every fact)."""
    from traindx.signals import compute_facts

    return compute_facts(_full_run())


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """group -> fact -> CEL type (``int``, ``double``, ``bool``, ``string``)."""
    return {g: {k: cel_type(v) for k, v in facts.items()} for g, facts in sample_facts().items()}


def unknown(group: str, fact: str | None) -> str | None:
    """Why ``group.fact`` (or the group alone) is not in the catalogue; None when it is."""
    cat = catalogue()
    if group not in cat:
        close = difflib.get_close_matches(group, cat, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown fact group {group!r}; {hint}groups are {', '.join(sorted(cat))}"
    if fact is not None and fact not in cat[group]:
        close = difflib.get_close_matches(fact, cat[group], n=3)
        hint = f"; did you mean {' or '.join(f'{group}.{c}' for c in close)}?" if close else ""
        where = " (the run context's fields and the adapters' flags)" if group == "ctx" else ""
        return f"unknown fact {group}.{fact}{hint} (`traindx facts` lists the {group} facts{where})"
    return None
