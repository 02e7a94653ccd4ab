"""Which way a metric is better, whether it is bounded to [0, 1], and which quality metric
a run is judged on, matched on the canonical metric name (:mod:`traindx.names`)."""

from __future__ import annotations

import re

#: Metrics whose higher values are better (quality metrics), matched on the metric name.
HIGHER_IS_BETTER = re.compile(
    r"(\w+_)?accuracy|map\d*|\w+_m?ap\w*|m?ap_?[sml]|precision|recall|average_precision"
    r"|f1(_\w+)?|f_?beta\w*|\w*auc|auroc|auc_(roc|pr)|au_?prc|m?iou|mean_io_?u|dice|bleu|rouge\w*|r2(_score)?"
    r"|specificity|sensitivity|cosine_similarity|spearman\w*|pearson\w*|matthews_correlation|mcc|(cohen_)?kappa"
    r"|psnr|(ms_)?ssim|ndcg(_\d+)?|mrr(_\d+)?"
)
#: Metrics whose lower values are better.
LOWER_IS_BETTER = re.compile(
    r"loss|\w+_loss|loss_\w+|error|\w+_error|perplexity|mae|mse|rmse|r?msle|mape|wer|cer"
    r"|kld?|kl_divergence|log_?cosh|hinge|nll|(\w+_)?[wc]er|\w+_loss_\w+|bp[dcb]|fid|kid|lpips|\w+_(mae|mse|rmse|mape)"
    r"|(mae|mse|rmse|mape)_(?!norm)[a-z]\w*|\w+_err"
)
#: Error rates: bounded to [0, 1] like accuracy, read as fractions where the name says percent.
ERROR_RATES = re.compile(r"error|top\d+_error")
#: Named like a loss but no loss: AMP's loss scale, a loss weight.
_NOT_A_LOSS = re.compile(r"loss_(scale|scaler|weights?)")
#: Quality metrics bounded to [0, 1] (a logger may write them in percent).
BOUNDED_01 = re.compile(
    r"(\w+_)?accuracy|map\d*|\w+_m?ap\w*|m?ap_?[sml]|precision|recall|average_precision"
    r"|f1(_\w+)?|\w*auc|auroc|auc_(roc|pr)|au_?prc|m?iou|mean_io_?u|dice|specificity|sensitivity"
)
#: The quality metric a run is judged on when it logged several: first match wins.
QUALITY_PREFERENCE: tuple[str, ...] = (
    r"map", r"map50", r"f1(_\w+)?", r"accuracy", r"\w*auc|auroc|auc_(roc|pr)|au_?prc", r"m?iou|mean_io_?u", r"dice",
    r"bleu|rouge\w*", r"\w+_m?ap\w*|map\d*", r"average_precision|precision|recall", r"\w+_accuracy",
)
#: Loss names that are not components of the loss (statistics of it, AMP loss scale, weights).
_NOT_COMPONENT = re.compile(
    r"(avg|average|mean|running|smooth(ed)?|ema|total|overall|best|min|max|last|sum|std|var|epoch|batch)_loss"
    r"|loss_(avg|mean|running|smooth(ed)?|ema|scale|scaler|weight|weights|ratio|sum)"
)
_STATISTIC = re.compile(r"(std|var|min|max|best)_\w+")
_COMPONENT = re.compile(r"\w+_loss|loss_\w+")


def direction(metric: str) -> str | None:
    """``"higher"`` or ``"lower"`` when the metric's better direction is known, else None."""
    if _STATISTIC.fullmatch(metric) or _NOT_A_LOSS.fullmatch(metric):  # a spread or extreme; a loss scale
        return None
    if HIGHER_IS_BETTER.fullmatch(metric):
        return "higher"
    if LOWER_IS_BETTER.fullmatch(metric):
        return "lower"
    return None


def is_loss_component(metric: str) -> bool:
    """A part of a multi-part loss (``box_loss``, ``loss_cls``, ``kl_loss``), not a statistic of it."""
    return bool(_COMPONENT.fullmatch(metric)) and not _NOT_COMPONENT.fullmatch(metric)


def quality_rank(metric: str) -> int | None:
    """Position of a quality metric in :data:`QUALITY_PREFERENCE` (None: not a quality metric)."""
    if direction(metric) != "higher":
        return None
    return next((i for i, p in enumerate(QUALITY_PREFERENCE) if re.fullmatch(p, metric)), len(QUALITY_PREFERENCE))
