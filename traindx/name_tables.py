"""The tables :func:`traindx.names.map_name` reads: split words, axes and bookkeeping names,
namespaces, framework prefixes and suffixes (:data:`SHAPE_RULES`) and the ordered metric
patterns (:data:`METRIC_RULES`). Data only: a new spelling is a row here, with a row in
tests/data/wild_metric_names.tsv."""

from __future__ import annotations

import re

from traindx.schema import CANONICAL_METRICS

#: Words naming a split, as a whole ``/``-segment (``Loss/train``) or an end token (``val_loss``).
SPLIT_WORDS: dict[str, str] = {
    "train": "train", "training": "train", "trn": "train", "tr": "train",
    "val": "val", "valid": "val", "validation": "val", "eval": "val", "evaluation": "val",
    "dev": "val", "va": "val", "vl": "val",
    "test": "test", "testing": "test", "te": "test",  # loss_tr / loss_te beside each other
    # The split words of notebooks written in German, French, Spanish, Italian and Portuguese
    # (accents dropped by names._normalize): Val_Verlust, perte_entrainement, costo_validacion.
    "entrainement": "train", "entrenamiento": "train", "addestramento": "train", "treino": "train",
    "treinamento": "train", "validierung": "val", "validacion": "val", "validazione": "val", "validacao": "val",
    "prueba": "test", "teste": "test",
}  # fmt: skip

#: Short split words read bare as their split's loss only as a set of two splits or more in one
#: file with no loss of those splits named (``tr 0.61 | va 0.55 | va_acc 0.70``; names.paired_names).
SHORT_SPLITS = {"tr": "train", "trn": "train", "va": "val", "te": "test", "tst": "test"}

#: Single letters naming a split as the first token before a metric (a hand loop's ``t_loss``,
#: ``v_loss``, ``v_acc``), read only where the names of one file show the habit
#: (:func:`traindx.names.paired_names`): alone ``v_loss`` is as often an RL value loss, and
#: elsewhere in a name the letters mean other things (Lightning's ``v_num``, a diffusion ``loss_t``).
LEAD_SPLIT_LETTERS: dict[str, str] = {"v": "val", "t": "train"}

#: Losses of RL code, whose ``v_loss`` is the value function's (normalized names).
RL_LOSSES = re.compile(r"(p|pi|pg|policy|q\d?|actor|critic|alpha|value|entropy|ent|kl)_?loss|entropy|approx_kl")

#: Axes and bookkeeping: never series (matched against the normalized name).
NOT_SERIES = re.compile(
    r"""(trainer_)?(global_)?steps? | epochs? | ep | iter(ation)?s? | it | batch(_idx)? | idx | index
      | epochen? | epoques? | epocas? | schritte? | etapes? | pasos? | pass[oi]s? | iterac(ion|ao) | iterazione
      | unnamed(_\d+)?                                  # pandas' name for a blank header
      | (wall_?|relative_|elapsed_)?time(stamp)?(_s|_sec)? | elapsed | \w*runtime
      | \w*per_sec(ond)? | (total_)?flos | hp_metric        # HF throughput, Lightning placeholder
      | (num_|seen_)?samples | (num_)?tokens(_seen)?
      | (data|iter|batch|forward|backward|step|epoch)_time | eta(_s|_sec|_seconds)?  # timings
      | (max_)?mem(ory)?(_mb|_gb|_allocated|_reserved)? | gpu_mem(ory)?
      | m?s_(per_)?(batch|step|it(er)?) | it_s | s_it | samples_s | imgs?_s""",
    re.X,
)

#: Leading ``/``-segments that only name a namespace: segment -> the split they imply when
#: the name gives none (Ultralytics ``metrics/mAP50(B)`` and MMEngine ``coco/bbox_mAP`` are
#: validation metrics; YOLOv5's ``x/lr0`` is "extra"; ``optim/lr``, CleanRL's ``charts/learning_rate``).
NAMESPACES: dict[str, str | None] = {"metrics": "val", "coco": "val", "x": None, "optim": None, "optimizer": None,
                                     "opt": None, "charts": None, "perf": None, "scores": None, "score": None,
                                     "stats": None}  # fmt: skip

#: Group prefixes whose split holds only for metrics an evaluation alone computes (issue 10): a hand
#: TensorBoard's ``metrics/acc`` beside ``metrics/val_acc`` is a training and a validation accuracy
#: (the ``val_`` in the leaf says the split, the group says none), while Ultralytics' and YOLOv5's
#: ``metrics/mAP50(B)``, ``metrics/precision`` are validation metrics.
EVAL_ONLY_NAMESPACES = frozenset({"metrics"})
#: The metrics (after :data:`METRIC_RULES`) that are evaluation metrics under those prefixes.
EVAL_ONLY_METRICS = re.compile(r"m?ap\w*|(bbox|segm|keypoints)_\w+|precision|recall")

#: COCO evaluator task prefixes joined to the metric (detectron2 ``bbox/AP50`` -> ``bbox_ap50``);
#: their values are validation metrics.
TASK_PREFIXES = frozenset({"bbox", "segm", "keypoints"})

#: Ultralytics task markers at the end of a metric name: ``mAP50(B)`` box, ``(M)`` mask, ``(P)`` pose.
_TASK_MARKER = re.compile(r"\((B|M|P|OBB)\)$")
_TASK_SCOPE = {"B": "global", "M": "mask", "P": "pose", "OBB": "obb"}

#: A metric averaged over the epoch, as a prefix or a suffix (``avg_loss``, ``loss_avg``): the metric itself.
AVERAGED = (r"(?:avg|average)_(?!(?:per_)?class(?:es)?(?:_|$)|prec(?:ision)?(?:_|$))(.+)"
            r"|(.+?)(?<!class)(?<!macro)(?<!micro)(?<!weighted)_(?:avg|average)")
AVERAGED_WHY = "'avg' prefix or suffix: the metric's average over the epoch (pytorch-ignite's avg_loss), the metric itself"

#: Framework prefixes and suffixes around a metric: (pattern, keep, statistic, why).
#: Applied repeatedly, first match each round, after split tokens are removed.
SHAPE_RULES: list[tuple[str, str, str | None, str]] = [
    # Keras 3 TensorBoard evaluation scalars: evaluation_loss_vs_iterations (split: the
    # leading 'evaluation' token).
    # Their x axis is the optimizer iteration, unlike epoch_* values: keep them apart.
    (r"(.+)_vs_iterations", r"\1", "step", "Keras TensorBoard '_vs_iterations' suffix (per iteration)"),
    # Keras TensorBoard: epoch_loss is the epoch value; batch_loss the per-batch value.
    (r"epoch_(.+)", r"\1", None, "Keras TensorBoard 'epoch_' prefix"),
    # pytorch-ignite's avg_loss / avg_accuracy (a hand loop's loss_avg, avg_val_loss): the metric's
    # average over the epoch - the same series as the metric, not a second one; a plain name beside
    # it in one file is the per-step value (traindx/name_averages.py). Not an average over classes
    # (avg_class_acc, macro_avg_f1) nor average precision (avg_precision is AP).
    (AVERAGED, r"\1\2", None, AVERAGED_WHY),
    (r"batch_(.+)", r"\1", "step", "Keras TensorBoard 'batch_' prefix (per batch)"),
    # Hand-written tags: 'loss per epoch on val', 'train/acc_per_epoch', 'accuracy_batch'.
    (r"(.+)_(on|of|for|in)", r"\1", None, "trailing preposition"),
    (r"(.+)_per_(epoch|ep)", r"\1", None, "'per epoch' suffix"),
    # A list of per-epoch values named for the list (cost_history, loss_curve, acc_values).
    (r"(.+)_(history|curve|values|vals|list)", r"\1", None, "'_history' suffix: the list of the metric's values"),
    (r"(.+)_(per_)?(batch|iter(ation)?|it)|(.+)_per_step", r"\1\5", "step", "'per batch' suffix (per step)"),
    (r"dead_(relus?_|units?_|neurons?_)?(in_)?(pct|percent|percentage)", r"dead_\1frac", None,
     "share of dead units in percent (values read as fractions)"),
    (r"(.+?)_(in_)?(pct|percent|percentage)", r"\1", None, "percent unit (values read as fractions)"),
    # A regression error in the target's unit: val_mae_usd, val_mae_hz, val_rmse_mw, val_mae_cents.
    (r"((?:r?msl?e|mae|mad|medae|mean_abs(?:olute)?_err(?:or)?|abs_err(?:or)?)(?:_in)?)_(?:usd|eur|gbp|jpy|cny|inr"
     r"|dollars?|cents?|[kmg]?hz|[km]?w|[km]?wh|km|cm|mm|px|pixels?|deg(?:rees?)?|rad|kg|lbs?|years?|yrs?|days?|hours?"
     r"|hrs?|mins?|minutes?|secs?|seconds?|ms|celsius|kelvin|db|ppm|mph|kmh|bpm)", r"\1", None,
     "unit suffix on an error metric (the metric in the target's unit)"),
    # Lightning on_step/on_epoch: train_loss_epoch is the epoch mean, train_loss_step per step.
    (r"(.+)_epoch", r"\1", None, "Lightning '_epoch' suffix"),
    (r"(.+)_step", r"\1", "step", "Lightning '_step' suffix (per step)"),
]

_KEEP = None  # METRIC_RULES target meaning "keep the normalized name as the metric"

#: Ordered (pattern, metric, why) on the normalized name; first full match wins.
METRIC_RULES: list[tuple[str, str | None, str]] = [
    # traindx's canonical names are their own aliases.
    ("|".join(CANONICAL_METRICS), _KEEP, "canonical metric name"),
    (r"(total_|overall_)?loss(es)?|cost|objective", "loss", "loss"),
    # Gradient boosting's printed objective: XGBoost 'logloss'/'mlogloss', LightGBM 'binary_logloss'.
    (r"(binary_|multi_)?m?log_?loss", "loss", "log loss (XGBoost, LightGBM)"),
    # Top-1 accuracy in its spellings (Keras metric classes, ImageNet scripts' acc@1/prec@1).
    (
        r"(sparse_|binary_|categorical_|sparse_categorical_)?acc(uracy|uracies|s)?"
        r"|top_?1(_acc(uracy)?)?|acc(uracy)?_?(at_)?1|prec_?1",
        "accuracy",
        "accuracy",
    ),
    (r"top_?5(_acc(uracy)?)?|acc(uracy)?_?(at_)?5|prec_?5", "top5_accuracy", "top-5 accuracy"),
    # Error is not accuracy: kept as its own metric.
    (r"top_?1_err(or)?|m?err(or)?(_rate)?|err(or)?_?1|(mis)?classification_err(or)?|misclassification(_rate)?",
     "error", "error rate (not accuracy; XGBoost's merror)"),
    # Lightning LearningRateMonitor: lr-Adam, lr-SGD/pg1, lr-Adam-momentum.
    (r"(lr_.+_)?momentum", "momentum", "momentum"),
    # lr_scale/lr_mult (a parameter group's multiplier of the LR) is no learning rate.
    (r"lr|learning_?rate|lr_(?!(scale|scaler|factor|mult|multiplier|ratio)$).+", "lr", "learning rate"),
    (
        r"(total_|global_)?grad(ient)?s?_?(l2_)?norm(_total|_l2)?|total_norm|gnorm|grad(ient)?s?",
        "grad_norm",
        "gradient norm",
    ),
    (r"(total_|global_)?(weight|param(eter)?)s?_?(l2_)?norm|wnorm", "weight_norm", "weight norm"),
    (r"update_?(to_)?(weight|param)?s?_?ratio|update_to_weights?|upd_ratio", "update_ratio",
     "update-to-weight ratio"),
    (r"non_?finite(_count)?|nan_count|num_nans?", "nonfinite", "non-finite count"),
    (r"perplexity|ppl", "perplexity", "perplexity"),
    # Detection: mAP50-95 (COCO AP) is "map"; Ultralytics mAP50(B), mAP_0.5:0.95, MMDet
    # bbox_mAP_50, detectron2 bbox/AP50.
    (r"(bbox_)?m?ap(_?50_?95|_0_5_0_95)?", "map", "mean average precision (mAP50-95, COCO AP)"),
    (r"(bbox_)?m?ap_?(50|0_5)", "map50", "mean average precision at IoU 0.5"),
    (r"(bbox_)?m?ap_?75", "map75", "mean average precision at IoU 0.75"),
    (r"(bbox_|segm_|keypoints_)?m?ap_?[sml]|(segm|keypoints)_m?ap\w*", _KEEP, "COCO AP variant: kept under its own name"),
    # An R^2 with a qualifier (McFadden's pseudo-R^2 of a count or logistic model, the
    # adjusted R^2): 0 is the null (mean-only) model's level as for r2 (issue 10: val_pseudo_r2
    # at 0.04 was not read, so "never beat the mean" could not fire)
    (r"(pseudo|adj(usted)?|mcfadden)_r2|r2_adj(usted)?", "r2", "R^2 with a qualifier: read as r2"),
    # A negative log-likelihood named for its distribution (poisson_nll, gaussian_nll, nb_nll,
    # bernoulli_nll): an nll, the loss a split without one reads (issue 10: qa_fresh44's JSONL
    # train_poisson_nll / val_poisson_nll were not read at all)
    (r"(\w+_)?nll", "nll", "negative log-likelihood (of a named distribution)"),
    # A cross-entropy or Huber loss logged under the loss's own name (a hand loop's train_ce /
    # val_ce, train_xent, bce; Keras' metric binary_crossentropy beside its loss): the loss a split
    # that logged none reads (signals.pick.LOSS_STANDINS), a metric beside one that did (issue 10:
    # qa_wild47 - such columns were not read at all, 'no column name is a known metric')
    (r"(binary_|categorical_|sparse_categorical_|softmax_|sigmoid_)?cross_?entropy|x_?ent(ropy)?|b?ce|cce",
     "cross_entropy", "cross-entropy (the loss a split without one reads)"),
    (r"huber|smooth_?l1", "huber", "Huber / smooth L1 (the loss a split without one reads)"),
    # Known metrics the rules do not read: kept under their own (normalized) name. A metric
    # word with a qualifier after it (mae_grade; not _norm, which reads as a norm) or an error abbreviated (rel_err,
    # abs_err) names its metric too (issue 10: val_mae_grade, val_rel_err not mapped)
    (
        r"(mae|mse|rmse|mape)_(?!norm)[a-z]\w*|\w+_err|mae|mse|rmse|r?msle|mape|r2(_score)?|f1(_score|_macro|_micro|_weighted)?|f_?beta(_score)?"
        r"|auc|roc_auc|auroc|pr_auc|auc_(roc|pr)|au_?prc|average_precision|precision|recall|specificity|sensitivity"
        r"|\w+_(f1|precision|recall)|(f1|precision|recall)_(pos(itive)?|bin(ary)?|class_?\d+)|m?iou|mean_io_?u|dice|bleu|rouge\w*|(\w+_)?[wc]er|kld?|kl_divergence|cosine_similarity"
        r"|log_?cosh|hinge|\w+_accuracy|\w+_error|\w+_loss|loss_\w+|\w+_loss_\w+|nll|total"
        r"|spearman\w*|pearson\w*|matthews_correlation|mcc|(cohen_)?kappa|top\d+_error"
        r"|bp[dcb]|psnr|(ms_)?ssim|fid|kid|lpips|ndcg(_\d+)?|mrr(_\d+)?|\w+_(mae|mse|rmse|mape)",
        _KEEP,
        "known metric, not canonical: kept under its own name",
    ),
    # A bare 'score' (sklearn's estimator.score, a beginner's test accuracy, an R^2, a game score):
    # kept; read as the split's accuracy only where its values say so
    # (:func:`traindx.readers.assemble.score_accuracy`; issue 10, qa_begin42/44).
    (r"score", _KEEP, "a bare score: kept (an accuracy where its values are shares of one evaluation set)"),
]  # fmt: skip
