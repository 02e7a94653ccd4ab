"""What a run's hyperparameters state, as the context fields the rules read (issue 10).

:mod:`traindx.readers.hparams` gathers a run's configuration into
``RunContext.hyperparameters`` (Lightning's ``hparams.yaml``, W&B config, MLflow params, HF
``training_args.json`` / ``trainer_state.json``, TensorBoard's hparams, Hydra overrides,
``key=value`` directory names). :func:`fill_context` maps the names users give the usual
settings (:data:`HABITS`) onto the fields an adapter would have recorded (``ctx.num_classes``,
``ctx.dropout_max``, ``ctx.weight_decay``, ``ctx.batch_size``, ``ctx.optimizer`` ...), so a
run whose logs come with its configuration gets the same evidence as one with an adapter.

Conservative by design:

- gradient accumulation stated (``gradient_accumulation_steps`` / ``accumulate_grad_batches``
  > 1) becomes ``ctx.grad_accum_steps`` (micro-batches per optimizer step); a planned
  ``max_steps`` > 0 becomes ``ctx.max_steps`` (HF's and Lightning's -1 leaves the epoch count
  in charge: nothing stated);
- a field the run already has (the adapter's, or a reader's) is never overwritten: the
  adapter measured the model, the config only says what was asked for;
- a name matches on its last dotted segment, and not under a validation/test scope
  (``data.val.batch_size``); several different values for one field (two optimizers'
  weight decays) fill nothing, except dropout, where the largest is the max;
- values are checked against the field's unit: a class count is an integer >= 2, a dropout
  or momentum a share in [0, 1), a Keras ``l2`` factor is ``ctx.l2_max`` (the penalty's
  coefficient), not a weight decay; a gradient clip of 0 (Lightning's default) means none;
  an optimizer is read only when its name is one traindx knows (``torch.optim.AdamW``,
  ``adamw_torch`` -> ``adamw``);
- a value of the wrong kind (a list, None, text that is not a number) is skipped and
  counted (one ``skipped`` ingest problem naming each); text holding a number (PyYAML reads
  ``1e-3`` as text) is read as the number.

The fields filled are listed in ``ctx.flags["from_config"]`` (comma-separated fact names),
so a rule, or the learned layer's step-aside (:func:`traindx.rerank.weighed_context`), can
tell what the config stated from what an adapter recorded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from traindx.readers.hparams import parse_value
from traindx.schema import RunContext

#: Optimizer names traindx knows, as the adapters record them (lowercased class names).
OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "lamb",
              "lars", "adafactor", "lion", "ftrl", "lbfgs")  # fmt: skip
_OPT_WORD = re.compile(r"[a-z]+")
#: Names of gradient accumulation (micro-batches per optimizer step).
_ACCUMULATION = frozenset({"gradient_accumulation_steps", "accumulate_grad_batches", "grad_accum_steps",
                           "accum_iter", "accumulation_steps", "grad_accum"})  # fmt: skip
#: Scopes under which a name is not the training run's setting.
_OTHER_SCOPE = re.compile(r"(^|[._/])(val|valid|validation|eval|test|dev|predict|inference)([._/]|$)")


class Habit(NamedTuple):
    """One context field and the names users give it (last dotted segment, lowercased,
    ``-`` read as ``_``), the first name a value of which is valid wins (unless ``largest``)."""

    fact: str  # the ctx fact it becomes
    names: tuple[str, ...]
    value: Callable[[Any], Any]  # the field's value from the hyperparameter's, or None (invalid)
    largest: bool = False  # several names or values: the largest (a dropout stated is a max)
    scope: str | None = None  # the dotted name must also hold this word (``optimizer.epsilon``)


def _number(v: Any) -> float | None:
    if isinstance(v, str):
        v = parse_value(v)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _count(lo: int, hi: int) -> Callable[[Any], int | None]:
    def f(v: Any) -> int | None:
        x = _number(v)
        return int(x) if x is not None and x == int(x) and lo <= x <= hi else None

    return f


def _share(v: Any) -> float | None:
    x = _number(v)
    return x if x is not None and 0.0 <= x < 1.0 else None


def _nonneg(v: Any) -> float | None:
    x = _number(v)
    return x if x is not None and x >= 0.0 else None


def _keep_prob(v: Any) -> float | None:  # TF1's keep_prob: the share kept
    x = _number(v)
    return 1.0 - x if x is not None and 0.0 < x <= 1.0 else None


def _clip(v: Any) -> float | None:  # 0 (Lightning's default) means no clipping
    x = _nonneg(v)
    return x if x else None


def optimizer_name(v: Any) -> str | None:
    """``torch.optim.AdamW`` / ``adamw_torch`` / ``paged_adamw_32bit`` / ``Adam`` -> the
    optimizer traindx knows (its first word that names one), else None."""
    if not isinstance(v, str):
        return None
    return next((w for w in _OPT_WORD.findall(v.lower()) if w in OPTIMIZERS), None)


def _classes(v: Any) -> int | None:
    """A class count, or the length of a list of class names (``classes: [cat, dog]``)."""
    if isinstance(v, list):
        names = [x for x in v if isinstance(x, str | int) and not isinstance(x, bool)]
        return len(v) if 2 <= len(v) <= 100_000 and len(names) == len(v) and len(set(names)) == len(v) else None
    return _count(2, 100_000)(v)


#: Name habits, gathered from Lightning modules, HF TrainingArguments, Hydra/W&B configs and
#: Keras scripts. Order inside a habit is preference (the HF per-device batch before the total).
HABITS: tuple[Habit, ...] = (
    Habit("num_classes", ("num_classes", "n_classes", "num_labels", "n_labels", "nclasses", "num_class", "n_class",
                          "number_of_classes", "classes", "n_categories", "num_categories"), _classes),
    Habit("dropout_max", ("dropout", "dropout_rate", "dropout_p", "dropout_prob", "p_drop", "drop_prob", "drop_rate",
                          "pdrop", "hidden_dropout_prob", "hidden_dropout", "dropout_ratio"), _share, largest=True),
    Habit("dropout_max", ("keep_prob", "keep_probability"), _keep_prob, largest=True),
    Habit("weight_decay", ("weight_decay", "wd", "weight_decay_rate"), _nonneg),
    Habit("l2_max", ("l2", "l2_reg", "l2_lambda", "lambda_l2", "l2_weight", "l2_penalty", "kernel_l2", "l2_coef"),
          _nonneg),
    Habit("batch_size", ("per_device_train_batch_size", "batch_size", "train_batch_size", "bs", "batchsize",
                         "train_bs", "mini_batch_size", "minibatch_size"), _count(1, 10_000_000)),
    Habit("optimizer", ("optimizer", "optim", "opt", "optimizer_name", "optimizer_type", "optimiser", "_target_",
                        "class_path", "type", "name"), optimizer_name, scope="optim"),
    Habit("optimizer", ("optimizer", "optim", "opt", "optimizer_name", "optimizer_type", "optimiser"), optimizer_name),
    Habit("momentum", ("momentum", "sgd_momentum"), _share),
    Habit("eps", ("adam_epsilon", "adam_eps", "eps", "optimizer_eps"), _nonneg),
    Habit("eps", ("epsilon",), _nonneg, scope="optim"),
    Habit("clipnorm", ("gradient_clip_val", "max_grad_norm", "clip_grad_norm", "grad_clip", "clip", "clipnorm",
                       "clip_norm", "grad_norm_clip", "gradient_clip"), _clip),
    Habit("epochs", ("num_train_epochs", "max_epochs", "epochs", "num_epochs", "n_epochs", "nb_epoch"),
          _count(1, 1_000_000)),
    Habit("n_train", ("n_train", "num_train", "train_size", "num_train_samples", "num_train_examples", "n_train_samples",
                      "train_samples"), _count(1, 10**10)),
    Habit("warmup_steps", ("warmup_steps", "warmup", "num_warmup_steps", "warmup_iters", "lr_warmup_steps"),
          lambda v: None if (n := _count(0, 10**9)(v)) is None else float(n)),
    Habit("warmup_ratio", ("warmup_ratio", "warmup_proportion", "warmup_frac"), _share),
    Habit("label_smoothing", ("label_smoothing", "label_smoothing_factor"), _share),
    # optimizer steps the run is planned to stop at; HF's -1 (Lightning's -1 / None) means "by
    # the epoch count", so a value <= 0 states nothing (as a clip of 0)
    Habit("max_steps", ("max_steps", "max_train_steps", "num_train_steps", "max_iters", "max_iter", "train_steps"),
          _count(1, 10**12)),
)  # fmt: skip


def _last(name: str) -> str:
    return re.split(r"[./]", name)[-1].lower().replace("-", "_")


def stated(hp: dict[str, Any]) -> tuple[dict[str, tuple[Any, str]], dict[str, str]]:
    """(fact -> (value, hyperparameter name), hyperparameter name -> why it was skipped) of
    what the hyperparameters ``hp`` state. A fact two names state differently is left out
    (and each counted), except a dropout (the largest)."""
    out: dict[str, tuple[Any, str]] = {}
    skipped: dict[str, str] = {}
    for habit in HABITS:
        if habit.fact in out and not habit.largest:
            continue
        found: list[tuple[int, Any, str]] = []
        for k, v in hp.items():
            last = _last(k)
            if last not in habit.names or _OTHER_SCOPE.search(k.lower()[: -len(last)]):
                continue
            if habit.scope and habit.scope not in k.lower().removesuffix(last):
                continue
            if habit.fact == "optimizer" and habit.scope and not isinstance(v, str):
                continue
            got = habit.value(v)
            if got is None and habit.fact == "clipnorm" and _nonneg(v) == 0.0:
                continue  # a clip of 0 states "no clipping": nothing to fill, nothing wrong
            if got is None and habit.fact == "max_steps" and (x := _number(v)) is not None and x <= 0.0:
                continue  # max_steps -1 / 0: the epoch count decides
            if got is None:
                if habit.fact != "optimizer" or last in ("optimizer", "optim", "optimiser", "optimizer_name"):
                    shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
                    skipped[k] = f"{shown} is not a {habit.fact.replace('_', ' ')}"
                continue
            found.append((habit.names.index(last), got, k))
        if not found:
            continue
        if habit.largest:
            best = max(found, key=lambda t: t[1])
            prev = out.get(habit.fact)
            if prev is None or best[1] > prev[0]:
                out[habit.fact] = (best[1], best[2])
            continue
        first = min(t[0] for t in found)
        values = {t[1] for t in found if t[0] == first}
        if len(values) == 1:
            out[habit.fact] = (values.pop(), next(t[2] for t in found if t[0] == first))
        else:
            for _, _, k in (t for t in found if t[0] == first):
                skipped[k] = f"{habit.fact.replace('_', ' ')} stated differently in several places"
    return out, skipped


def _setters(ctx: RunContext) -> dict[str, tuple[Callable[[], Any], Callable[[Any], None]]]:
    o, d = ctx.optimizer, ctx.data

    def flag(name: str) -> tuple[Callable[[], Any], Callable[[Any], None]]:
        return (lambda: ctx.flags.get(name)), (lambda v: ctx.flags.__setitem__(name, v))

    def attr(obj: Any, name: str) -> tuple[Callable[[], Any], Callable[[Any], None]]:
        return (lambda: getattr(obj, name)), (lambda v: setattr(obj, name, v))

    return {
        "num_classes": attr(d, "num_classes"), "dropout_max": flag("dropout_max"), "l2_max": flag("l2_max"),
        "weight_decay": attr(o, "weight_decay"), "batch_size": attr(d, "batch_size"), "optimizer": attr(o, "name"),
        "momentum": attr(o, "momentum"), "eps": attr(o, "eps"), "clipnorm": attr(o, "clipnorm"),
        "epochs": attr(ctx, "epochs"), "n_train": attr(d, "n_train"), "warmup_steps": flag("warmup_steps"),
        "warmup_ratio": flag("warmup_ratio"), "label_smoothing": flag("label_smoothing"),
        "max_steps": attr(ctx, "max_steps"), "grad_accum_steps": flag("grad_accum_steps"),
    }  # fmt: skip


def _adapter_knows(ctx: RunContext, fact: str) -> bool:
    """Whether the adapter measured what the config would state: the model's dropout layers,
    its output layer or the labels' classes."""
    if fact == "dropout_max":
        return ctx.model.has_dropout is not None
    if fact == "num_classes":  # an output width that counts no classes (an embedding) leaves it to the config
        from traindx.signals.context import width_counts_classes

        return bool(ctx.data.class_counts) or (ctx.model.output_units is not None and width_counts_classes(ctx))
    return False


def fill_context(ctx: RunContext) -> dict[str, str]:
    """Fill the context fields the run's hyperparameters state and the run lacks; returns
    the hyperparameters skipped (name -> why). ``ctx.flags["from_config"]`` lists the facts
    filled; a dropout or class count where the adapter saw the model or the labels is the
    adapter's to say (:func:`_adapter_knows`)."""
    facts, skipped = stated(ctx.hyperparameters)
    accum = [k for k, v in ctx.hyperparameters.items() if _last(k) in _ACCUMULATION and (_number(v) or 0) > 1]
    if "batch_size" in facts and accum:  # a step's batch is then several loader batches
        skipped[facts.pop("batch_size")[1]] = f"a loader's batch, not a step's: gradients accumulate ({accum[0]})"
    counts = {_count(2, 1_000_000)(ctx.hyperparameters[k]) for k in accum}
    if len(counts) == 1 and None not in counts:
        # micro-batches per optimizer step: the optimizer takes that many times fewer steps
        # than the loader yields batches (a logged step may count either)
        facts["grad_accum_steps"] = (float(counts.pop() or 2), accum[0])
    setters = _setters(ctx)
    filled: list[str] = []
    for fact, (value, _name) in facts.items():
        get, put = setters[fact]
        if get() is not None or _adapter_knows(ctx, fact):
            continue
        put(value)
        filled.append(fact)
        if fact == "optimizer":
            ctx.flags["optimizer_from_config"] = True
    if filled:
        prev = str(ctx.flags.get("from_config") or "")
        ctx.flags["from_config"] = ",".join(x for x in (prev, *filled) if x)
    return skipped
