"""Naming habits of hand-written training loops, gathered from public code (issue 10).

:func:`traindx.names.map_name` matches a normalized phrase (``pair_acc``, ``loss_d``,
``kl_div``) against its metric rules; the habits here first rewrite the phrase to the
spelling those rules know, each with why. The names they were gathered from, with the
repositories that log them, are in ``tests/data/wild_metric_names.tsv``.

- GAN losses, however spelled (``Loss_D``, ``errG``, ``disc_loss``), become ``d_loss`` and
  ``g_loss``: two adversaries' losses, never a training and a validation loss, and never
  summed into one loss (:func:`is_adversarial`).
- Loss parts of autoencoders (``recon``, ``reco``, ``kld``, ``kl_div``, ``bce_l``) become
  ``<part>_loss``, so a split without a loss of its own gets their total.
- ``<x>_acc`` is kept as ``<x>_accuracy``; accuracies of pairs, of binary labels or averaged
  (``pair_acc``, ``bin_acc``, ``mean_acc``) are a split's accuracy when it logs no other
  (:data:`ACCURACY_ALIASES`, read by :func:`traindx.readers.assemble.add_component_sums`).
- Keras numbers a second instance of a metric (``auc_1``, ``val_precision_2``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

#: Ordered (pattern, replacement, why) on the normalized phrase; the first full match rewrites it.
HABITS: list[tuple[str, str, str]] = [
    (r"(?:d|disc|discriminator|net_?d)_(?:loss|err(?:or)?)|(?:loss|err(?:or)?)_?(?:d|disc|discriminator)|dloss",
     "d_loss", "GAN discriminator loss"),
    (r"(?:g|gen|generator|net_?g)_(?:loss|err(?:or)?)|(?:loss|err(?:or)?)_?(?:g|gen|generator)|gloss",
     "g_loss", "GAN generator loss"),
    (r"(?:recons?(?:truction)?|reco)(?:_loss|_l|_err(?:or)?)?|rec_loss|(?:loss|err)_recons?(?:truction)?",
     "recon_loss", "reconstruction loss (a part of the loss)"),
    (r"(?:kld?|kl_div(?:ergence)?)(?:_loss|_l)?|loss_kld?", "kl_loss", "KL divergence (a part of the loss)"),
    (r"(bce|mse|l1|l2|ce|nll|ctc)_l", r"\1_loss", "'_l' loss suffix"),
    (r"neg(?:ative)?_log_likelihood|nll(?:_loss)?", "nll", "negative log-likelihood"),
    # Keras' metric names of the regression errors (a custom loop's val_mean_absolute_error): the
    # stand-ins a split without a loss reads (signals.pick.LOSS_STANDINS)
    (r"root_mean_squared_error", "rmse", "root mean squared error (Keras' metric name)"),
    (r"mean_squared_error", "mse", "mean squared error (Keras' metric name)"),
    (r"mean_absolute_error", "mae", "mean absolute error (Keras' metric name)"),
    (r"mean_squared_logarithmic_error", "msle", "mean squared logarithmic error (Keras' metric name)"),
    (r"huber_loss|smooth_l1_loss", "huber", "Huber / smooth L1 loss"),
    (r"(total|overall|mean|avg|average|bin|binary|pair|pairwise)_acc", r"\1_accuracy",
     "accuracy of pairs, of binary labels, averaged: the split's accuracy when it logs no other"),
    (r"a_acc|pa|pix(?:el)?_acc(?:uracy)?", "pixel_accuracy", "pixel accuracy (segmentation)"),
    (r"m_acc", "mean_class_accuracy", "mean class accuracy (segmentation)"),
    (r"m_?f_?score|f_?score|f1_?score|f_1", "f1", "F-score"),
    (r"(micro|macro|weighted|samples)_f1", r"f1_\1", "averaged F1"),
    # scikit-learn's function names logged as metric names (precision_score(y, p) -> "precision_score").
    (r"(precision|recall|roc_auc|auc)_score", r"\1", "scikit-learn's '<metric>_score' function name"),
    # One minus accuracy is the error rate; top-k accuracy and error however spelled (acc_top5, top5_err).
    (r"(?:1|one)_(?:minus_)?acc(?:uracy)?", "error", "one minus accuracy: the error rate (lower is better)"),
    (r"(?:acc(?:uracy)?_)?top_?(\d+)(?:_acc(?:uracy)?)?", r"top\1_accuracy", "top-k accuracy"),
    (r"top_?(\d+)_err(?:or)?(?:_rate)?", r"top\1_error", "top-k error rate (lower is better)"),
    (r"word_error_rate", "wer", "word error rate"),
    (r"char(?:acter)?_error_rate", "cer", "character error rate"),
    # Segmentation metrics as Keras custom metrics and segmentation_models name them.
    (r"dice_(?:coef(?:ficient)?|score|metric|index)", "dice", "Dice coefficient"),
    (r"iou_(?:score|metric|coef(?:ficient)?)|jaccard(?:_coef(?:ficient)?|_index|_score|_similarity)?", "iou",
     "IoU (the Jaccard index)"),
    # The '_m' suffix of the precision_m/recall_m/f1_m Keras metrics copied from a widely shared answer.
    (r"(precision|recall|f1)_m", r"\1", "Keras custom metric with an '_m' suffix"),
    (r"(\w+_)?acc_seg", r"\1seg_accuracy", "MMSegmentation's pixel accuracy of a head (decode.acc_seg)"),
    (r"acc(?:uracy)?_multi", "multi_accuracy", "fastai's multi-label accuracy"),
    (r"bits_per_(?:dim|pixel)", "bpd", "bits per dimension"),
    (r"bits_per_char(?:acter)?", "bpc", "bits per character"),
    (r"bits_per_byte", "bpb", "bits per byte"),
    # A hand loop's share of dead ReLU units (dead_frac, frac_dead, pct_dead): the adapters' act_frac_zero.
    # A count (dead_units, n_dead) says nothing without the layer's width and is left alone.
    (r"(?:frac(?:tion)?|pct|percent|share|ratio|rate|prop(?:ortion)?)_(?:of_)?dead(?:_relus?|_units?|_neurons?)?"
     r"|dead_(?:relus?_|units?_|neurons?_)?(?:frac(?:tion)?|share|ratio|rate|prop(?:ortion)?)",
     "act_frac_zero", "share of dead (always zero) ReLU units"),
    # Loss and accuracy in German, French, Spanish, Italian and Portuguese (accents dropped).
    (r"verlust|kosten|perte|cout|perdida|costo|coste|perdita|perda|custo", "loss", "the loss in another language"),
    (r"genauigkeit|exactitude|exactitud|accuratezza|acuratezza|acuracia|exatidao", "accuracy",
     "the accuracy in another language"),
    (r"(\w+)_acc", r"\1_accuracy", "'_acc' suffix: an accuracy of its own kind"),
]  # fmt: skip

_HABITS = [(re.compile(p), r, why) for p, r, why in HABITS]
#: Accuracies that are a split's accuracy when it logs no plain one (first wins).
ACCURACY_ALIASES = ("pair_accuracy", "pairwise_accuracy", "binary_accuracy", "bin_accuracy", "mean_accuracy",
                    "total_accuracy", "overall_accuracy")  # avg_accuracy is the accuracy itself (name_tables.AVERAGED)
#: An error metric's name that says it is a classification error rate (fastai's error_rate,
#: top1_err, XGBoost's merror, 1-acc, misclassification): one minus it is the accuracy. A bare
#: ``err``/``error`` may be a regression's error and says nothing of the kind.
ERROR_RATE_NAME = re.compile(r"(?i)rate|top.?1|merror|misclass|(?<![a-z])1.?acc|err(or)?.?@?1(?!\d)")
_INSTANCE = re.compile(r"(.+?)_\d+")
#: Metrics whose Keras instance number (``auc_1``) is dropped.
_NUMBERED = re.compile(r"auc|precision|recall|\w*accuracy|m?iou|f1\w*|mae|mse|rmse|mape|\w+_error")
#: Losses of the two adversaries of a GAN (after :data:`HABITS`) and their parts (``d_loss_real``).
ADVERSARIAL = re.compile(r"[dg]_loss(_\w+)?|[dg]_\w+_loss")


#: Words of notebooks written in Japanese, Chinese (simplified and traditional), Korean and Russian, as the
#: English token the tables know: (pattern, token). Chinese and Japanese write a name with no
#: separator (训练损失, 検証正解率), so their words are matched anywhere in it; a Russian word only
#: whole, in any of its endings (потери, потерь; валидация, валидации; точность_вал). Longest first
#: (学習率 is the learning rate, not 学習 + 率). Matched before the accents are folded (NFKD would
#: split エポック's ポ).
FOREIGN_WORDS: list[tuple[str, str]] = [
    (r"学習率|学习率|學習率", "lr"),
    (r"(?:検証|验证|驗證|検定|バリデーション)(?:集|組|组|セット|データ)?", "val"),  # 验证集: the validation set
    (r"(?:訓練|训练|学習|学习|學習|トレーニング)(?:集|組|组|セット|データ)?", "train"),
    (r"(?:テスト|测试|測試)(?:集|組|组|セット|データ)?", "test"),
    (r"交差エントロピー|クロスエントロピー|交叉熵", "cross_entropy"),
    (r"損失|损失|代价|代價", "loss"),
    (r"正解率|精度|准确率|準確率|正确率|正確率|准确度|準確度", "accuracy"),
    (r"エポック|轮次|輪次|回合|纪元|紀元", "epoch"),
    (r"ステップ|步数|步數", "step"),
    # Korean (Hangul) writes a name's words joined or with '_' (검증_손실, 검증손실): matched anywhere.
    (r"학습률", "lr"),
    (r"검증|평가", "val"),
    (r"학습|훈련|트레이닝", "train"),
    (r"테스트", "test"),
    (r"손실|로스", "loss"),
    (r"정확도", "accuracy"),
    (r"에폭|에포크", "epoch"),
    (r"스텝", "step"),
    (r"(?<![^\W\d_])(?:потер[а-яё]*|лосс|функция_потерь)(?![^\W\d_])", "loss"),
    (r"(?<![^\W\d_])точност[а-яё]*(?![^\W\d_])", "accuracy"),
    (r"(?<![^\W\d_])(?:валидац[а-яё]*|валид|вал)(?![^\W\d_])", "val"),
    (r"(?<![^\W\d_])(?:обучени[а-яё]*|обуч|тренировк[а-яё]*|трен)(?![^\W\d_])", "train"),
    (r"(?<![^\W\d_])(?:тест|тестов[а-яё]*|тестирован[а-яё]*)(?![^\W\d_])", "test"),
    (r"(?<![^\W\d_])(?:эпох[а-яё]*)(?![^\W\d_])", "epoch"),
    (r"(?<![^\W\d_])(?:шаг[а-яё]*)(?![^\W\d_])", "step"),
    (r"(?<![^\W\d_])(?:на|для|по|при|в)(?![^\W\d_])", ""),  # "потери на обучении": the preposition dropped
]  # fmt: skip
_FOREIGN = [(re.compile(p, re.IGNORECASE), token) for p, token in FOREIGN_WORDS]


def fold_accents(text: str) -> str:
    """``pérdida`` -> ``perdida``: the accents of a name dropped (the habits are spelled without);
    ``训练损失`` -> ``_train__loss_``, ``потери_вал`` -> ``_loss__val_`` (:data:`FOREIGN_WORDS`)."""
    if text.isascii():
        return text
    for rx, token in _FOREIGN:
        text = rx.sub(f"_{token}_", text)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def rewrite(phrase: str) -> tuple[str, str | None]:
    """The phrase in the spelling the metric rules know, and why (None: unchanged)."""
    for rx, repl, why in _HABITS:
        m = rx.fullmatch(phrase)
        if m:
            return m.expand(repl), why
    return phrase, None


def instance_base(phrase: str) -> str | None:
    """``auc_1`` -> ``auc``: Keras' name for a second instance of a metric."""
    m = _INSTANCE.fullmatch(phrase)
    return m[1] if m and _NUMBERED.fullmatch(m[1]) else None


def is_adversarial(metric: str) -> bool:
    """A GAN's discriminator or generator loss (or a part of one)."""
    return bool(ADVERSARIAL.fullmatch(metric))


#: Second ``/``-segments naming the whole of what the first names (``Loss/Total``).
_WHOLE = frozenset({"total", "overall", "all", "sum", "mean", "avg", "average", "combined", "full"})
_WORD = re.compile(r"[a-z][a-z0-9_]*")
#: A second segment naming a split or an axis (``Loss/train_epoch``) is no part of the loss.
_SPLIT_OR_AXIS = re.compile(r"(^|_)(train|training|val|valid|validation|eval|test|dev|epoch|step|batch|iter)(_|$)")


def loss_part(head: str, tail: str, metric_of: Callable[[str], tuple[str, str] | None]) -> str | None:
    """The phrase for a two-segment name whose first segment names a metric: ``Loss/Total``
    and ``Accuracy/acc`` are that metric, ``Loss/Depth`` the loss part ``depth_loss``
    (None: the second segment is a scope, as in ``accuracy/class_3``)."""
    found = metric_of(head)
    if found is None:
        return None
    other = metric_of(tail)
    if tail in _WHOLE or (other is not None and other[0] == found[0]):
        return head
    if found[0] == "loss" and _WORD.fullmatch(tail) and not _SPLIT_OR_AXIS.search(tail):
        return tail if "loss" in tail.split("_") else f"{tail}_loss"
    return None


def loss_segment(
    head: str, tail: str, split: str | None, metric_of: Callable[[str], tuple[str, str] | None], split_words: dict[str, str],
) -> tuple[str | None, str] | None:
    """The (split, phrase) of a two-segment name whose first segment names a metric:
    :func:`loss_part`'s reading (no split), or a loss whose second segment holds a split word
    with a qualifier on either side of it (``loss/train_recon``, ``loss/recon_val``,
    ``loss/valid_kl``): that split and the qualifier's loss part (``recon_loss``). Only a
    qualifier the metric rules know as a part or kind of loss (``recon``, ``kl``, ``mse``):
    others name a data subset and keep their scope (``Loss/val_pairs``), as a whole or a
    statistic does (``loss/train_avg`` beside ``loss/train``: read apart, not a second loss), an
    axis or a numbered one (``loss/train_epoch``, ``loss/train_class_3``), or one whose split word
    contradicts a split already read."""
    part = loss_part(head, tail, metric_of)
    if part:
        return None, part
    found, words = metric_of(head), tail.split("_")
    if found is None or found[0] != "loss" or len(words) < 2:
        return None
    for word, qual in ((words[0], words[1:]), (words[-1], words[:-1])):
        name = "_".join(qual)
        known = name not in _WHOLE and metric_of(name) is not None  # a loss part, not a subset (val_pairs)
        if word in split_words and split in (None, split_words[word]) and known and not re.search(r"\d", name):
            part = loss_part(head, name, metric_of)
            if part and part != head:
                return split_words[word], part
    return None
