"""A quality metric named without a split beside a validation loss (:func:`traindx.names.paired_names`).

A hand loop computes its accuracy (R2, F1) in the evaluation pass, the one place it has the
predictions and the labels together, and stores it as ``acc`` beside ``loss`` and ``val``
(``{'loss': [...], 'val': [...], 'acc': [...]}``, ``add_scalar("metrics/acc", ...)`` beside
``Loss/val``, ``cost, valid_cost, score``). Where one file names a validation loss and its
quality metrics all without a split (no ``train_acc``, no ``val_acc`` beside them), they are read
as the validation metrics; in the Q&A sets up to qa_begin45 all 18 such pairs (36 runs) computed
them on the validation rows. A file naming any quality metric with its split keeps the default
(an unsplit name is the training one, as Keras' ``accuracy`` beside ``val_accuracy``).
"""

from __future__ import annotations

from traindx.metric_direction import direction


def lone_quality_names(names: list[str], overrides: dict[str, str]) -> dict[str, str]:
    """``acc`` -> ``val/accuracy`` for the names of one file (overrides, as
    :func:`traindx.names.paired_names` gives them), ``overrides`` those already found."""
    from traindx.names import _decompose, _Parts, _target, map_name

    keys = {n: map_name(n) for n in names if n not in overrides}
    val_loss = any(k is not None and k.split == "val" and k.metric == "loss" and k.scope == "global" for k in keys.values())
    if not (val_loss or any(str(v).startswith("val/loss") for v in overrides.values())):
        return {}
    quality = {n: k for n, k in keys.items() if k is not None and k.scope == "global" and k.statistic == "value"
               and k.metric != "loss" and (direction(k.metric) == "higher" or k.metric == "score")}  # fmt: skip
    unsplit = {n: k for n, k in quality.items() if isinstance(p := _decompose(n), _Parts) and p.split is None and k.split == "train"}
    if not unsplit or len(unsplit) != len(quality):
        return {}
    why = "a quality metric named without a split beside a validation loss: the evaluation's (traindx/name_lone.py)"
    return {n: _target(f"val/{k.metric}", why) for n, k in unsplit.items()}
