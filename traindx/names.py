"""Map logged metric names onto canonical series keys.

Every framework spells the same quantity its own way: ``epoch_loss`` (Keras TensorBoard),
``val_acc`` (Keras History), ``Loss/train`` (SummaryWriter), ``train_loss_step``
(Lightning), ``eval/loss`` (HuggingFace). :func:`map_name` turns each into a
:class:`SeriesKey` in four steps, each driven by a data table below:

1. the user's ``--map`` overrides win;
2. traindx's own key strings (``train/grad_norm@fc1.weight``) are parsed as they are;
3. the name is taken apart: ``/``-segments and leading/trailing tokens that are split words
   (:data:`SPLIT_WORDS`) give the split, :data:`SHAPE_RULES` peel framework prefixes and
   suffixes, later ``/``-segments give the scope, and :data:`NOT_SERIES` drops axes and
   bookkeeping (``step``, ``epoch``, ``_runtime``);
4. what is left, normalized (lower case, ``_`` between tokens), is matched against the
   ordered :data:`METRIC_RULES`; the first full match names the metric.

The tables are data, in :mod:`traindx.name_tables`; this module is the procedure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from traindx.metric_direction import (  # noqa: F401 (re-exported: traindx.names.direction etc.)
    BOUNDED_01,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    QUALITY_PREFERENCE,
    direction,
    is_loss_component,
    quality_rank,
)
from traindx.name_averages import average_twins
from traindx.name_habits import fold_accents, instance_base, loss_segment, rewrite
from traindx.name_letters import letter_names
from traindx.name_tables import (  # noqa: F401 (re-exported: the tables map_name reads)
    _TASK_MARKER,
    _TASK_SCOPE,
    EVAL_ONLY_METRICS,
    EVAL_ONLY_NAMESPACES,
    LEAD_SPLIT_LETTERS,
    METRIC_RULES,
    NAMESPACES,
    NOT_SERIES,
    RL_LOSSES,
    SHAPE_RULES,
    SHORT_SPLITS,
    SPLIT_WORDS,
    TASK_PREFIXES,
)
from traindx.schema import CANONICAL_METRICS, SeriesKey, Split

_NOT_SERIES_WHY = "axis or bookkeeping column (step, epoch, time...), not a series"
#: A leading tag group naming a granularity (TensorBoard ``epoch/loss``, ``epoch/lr``,
#: ``batch/loss``): the metric after it is a series at that granularity, not an axis column.
_GRANULARITY = {"epoch": "epoch", "epochs": "epoch", "batch": "step", "step": "step", "steps": "step",
                "iter": "step", "iteration": "step"}
_SHAPES = [(re.compile(p), keep, stat, why) for p, keep, stat, why in SHAPE_RULES]
_METRICS = [(re.compile(p), metric, why) for p, metric, why in METRIC_RULES]
_KEY_FORM = re.compile(r"(train|val|test)/([a-z][a-z0-9_]*)(?:@([^:]+))?(?::(\w+))?")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"'s\b|[\s\-.:@_/()\[\]%']+")  # LightGBM's "valid_0's auc"; "Acc (%)"
_MAP_WORD = re.compile(r"mAP")
_IOU_WORD = re.compile(r"(m?)I[oO]U")
_SPLIT_END = re.compile(rf"(^|_)({'|'.join(SPLIT_WORDS)})$|^({'|'.join(SPLIT_WORDS)})_")
_PARAM_GROUP = re.compile(r"(?:(?:lr|learning_rate)_?(?:pg|group|param_group)?_?|pg_?)(\d+)")
#: A split word numbered by a tracker (XGBoost's validation_0, LightGBM's valid_1): that split.
_NUMBERED_SPLIT = re.compile(rf"({'|'.join(SPLIT_WORDS)})_\d+")
#: Words saying a value is in percent (``Accuracy (%)``, ``acc_pct``): rules read fractions.
_PERCENT_WORDS = frozenset({"pct", "percent", "percentage"})


def _normalize(text: str) -> str:
    """``LearningRate`` -> ``learning_rate``; ``acc@1`` -> ``acc_1``; ``lr-SGD`` -> ``lr_sgd``;
    ``mAP50-95`` -> ``map_50_95``."""
    text = _IOU_WORD.sub(lambda m: f"_{m[1]}iou_", _MAP_WORD.sub("_map_", fold_accents(text)).replace("\u00b2", "2"))
    return "_".join(t for t in _SEPARATORS.split(_CAMEL.sub("_", text).lower()) if t)


@lru_cache(maxsize=4096)
def _metric_of(phrase: str) -> tuple[str, str] | None:
    phrase, habit = rewrite(phrase)  # naming habits (traindx/name_habits.py): pair_acc, errD, kld
    for rx, metric, why in _METRICS:
        if rx.fullmatch(phrase):
            return (metric or phrase), why + (f" ({habit})" if habit else "")
    base = instance_base(phrase)
    found = _metric_of(base) if base else None
    return (found[0], f"{found[1]}; Keras instance number dropped") if found else None


@dataclass(frozen=True)
class _Parts:
    split: str | None
    phrase: str
    scope: str
    statistic: str
    trace: tuple[str, ...]


@lru_cache(maxsize=4096)
def _decompose(raw: str) -> _Parts | str:
    """Take a name apart; a string result says why it is not a series."""
    if NOT_SERIES.fullmatch(_normalize(raw)):
        return _NOT_SERIES_WHY
    split: str | None = None
    implied: str | None = None  # the split a namespace implies, used when nothing else says
    eval_only = False  # 'metrics/': the implied split holds for evaluation metrics only (mAP, P, R)
    trace: list[str] = []
    rest: list[str] = []
    per: str | None = None  # the granularity a leading 'epoch/' or 'batch/' segment says
    segs = [s.strip() for s in raw.strip().split("/")]
    for k, seg in enumerate(segs):
        numbered = _NUMBERED_SPLIT.fullmatch(_normalize(seg))
        word = SPLIT_WORDS.get(numbered[1] if numbered else _normalize(seg))
        if word and split in (None, word):
            split = word
            trace.append(f"split '{seg}' -> {word}")
        elif not rest and _normalize(seg) in NAMESPACES and k < len(segs) - 1:
            implied = NAMESPACES[_normalize(seg)] or implied
            eval_only = _normalize(seg) in EVAL_ONLY_NAMESPACES
            trace.append(f"namespace '{seg}'" + (f" (split {implied}" + (" for evaluation metrics)" if eval_only
                                                                          else ")") if implied else ""))
        elif not rest and per is None and _normalize(seg) in _GRANULARITY and k < len(segs) - 1:
            per = _GRANULARITY[_normalize(seg)]  # epoch/lr, batch/loss: a tag group, not an axis
            trace.append(f"granularity namespace '{seg}'" + (" (per step)" if per == "step" else " (per epoch)"))
        elif seg:
            rest.append(seg)
    if not rest:
        return "no metric name"
    if says_percent(raw):
        trace.append("the name says percent: a bounded metric's values are read as fractions")
    scope = "global"
    m = _TASK_MARKER.search(rest[-1])
    if m:
        rest[-1] = rest[-1][: m.start()]
        scope = _TASK_SCOPE[m[1]]
        trace.append(f"task marker '({m[1]})' -> scope {scope}")
    if len(rest) == 2 and _normalize(rest[0]) in TASK_PREFIXES:
        rest = [f"{rest[0]}_{rest[1]}"]
        implied = implied or "val"
        trace.append("COCO task prefix (a validation metric)")
    phrase, statistic = _normalize(rest[0]), "step" if per == "step" else "value"
    if len(rest) == 2 and (got := loss_segment(phrase, _normalize(rest[1]), split, _metric_of, SPLIT_WORDS)):
        trace.append(f"'{rest[0]}/{rest[1]}': the loss or a part of it")  # Loss/Total, loss/recon, loss/val_recon
        split, phrase, rest = got[0] or split, got[1], rest[:1]
    elif len(rest) == 2 and _metric_of(phrase) is None and _SPLIT_END.search(_normalize(rest[1])):
        trace.append(f"namespace '{rest[0]}' before a name with its split")  # AE/recon_train
        phrase, rest = _normalize(rest[1]), rest[:1]
    elif len(rest) == 2 and _metric_of(phrase) is not None and _split_led(_normalize(rest[1]), split):
        head, _, tail = _normalize(rest[1]).partition("_")  # Accuracy/val_pairs: as Loss/val
        split, rest = SPLIT_WORDS[head], [rest[0], tail]
        trace.append(f"'{rest[1]}' after the metric starts with split '{head}' -> {split}")
    scope = "/".join(rest[1:]) or scope
    group = _PARAM_GROUP.fullmatch(phrase if scope == "global" else f"{phrase}_{scope}".lower())
    if group:  # x/lr0, lr/pg1: the LR of a parameter group; group 0 is the run's LR
        phrase, scope = "lr", "global" if group[1] == "0" else f"pg{group[1]}"
        trace.append(f"learning rate of parameter group {group[1]}")
    while True:
        if not phrase or NOT_SERIES.fullmatch(phrase):
            return _NOT_SERIES_WHY
        tokens = phrase.split("_")
        if len(tokens) > 2 and tokens[1].isdigit() and tokens[0] in SPLIT_WORDS and split in (None, SPLIT_WORDS[tokens[0]]):
            split, phrase = SPLIT_WORDS[tokens[0]], "_".join(tokens[2:])
            trace.append(f"numbered split '{tokens[0]}_{tokens[1]}' -> {split}")
            continue
        end = next((t for t in (tokens[0], tokens[-1]) if len(tokens) > 1 and t in SPLIT_WORDS
                    and split in (None, SPLIT_WORDS[t])), None)  # fmt: skip
        if end is not None:
            split = SPLIT_WORDS[end]
            phrase = "_".join(tokens[1:] if tokens[0] == end else tokens[:-1])
            trace.append(f"split token '{end}' -> {split}")
            continue
        for rx, keep, stat, why in _SHAPES:
            m = rx.fullmatch(phrase)
            if m:
                phrase, statistic = m.expand(keep), stat or statistic
                trace.append(why)
                break
        else:
            if split is None and implied and (not eval_only or _eval_metric(phrase)):
                split = implied
            return _Parts(split, phrase, scope, statistic, tuple(trace))


def _eval_metric(phrase: str) -> bool:
    """A metric only an evaluation computes (mAP, precision, recall): the split of ``metrics/``."""
    found = _metric_of(phrase)
    return found is not None and bool(EVAL_ONLY_METRICS.fullmatch(found[0]))


def _split_led(seg: str, split: str | None) -> bool:
    """``val_pairs``: a split word, then more (the segment after a metric, as ``Loss/val``)."""
    head, _, tail = seg.partition("_")
    return bool(tail) and head in SPLIT_WORDS and split in (None, SPLIT_WORDS[head])


def _resolve_split(default_split: str | None) -> str | None:
    return SPLIT_WORDS.get(_normalize(default_split)) if default_split else None


def _is_key_string(text: str) -> bool:
    """``val/loss``, ``train/grad_norm@fc1.weight``: what ``str(SeriesKey)`` writes."""
    m = _KEY_FORM.fullmatch(text)
    if not m:
        return False
    if m[2] in CANONICAL_METRICS:
        return True
    found = _metric_of(m[2])  # a kept metric with a scope or statistic: val/f1:step
    return bool(m[3] or m[4]) and found is not None and found[0] == m[2]


@lru_cache(maxsize=4096)
def _map_core(raw: str, default_split: str | None) -> tuple[SeriesKey | None, str]:
    if _is_key_string(raw.strip()):
        # the pattern admits only valid fields: built without pydantic's validator (issue 15)
        return SeriesKey.model_construct(**SeriesKey.parse_fields(raw.strip())), "traindx key string"
    parts = _decompose(raw)
    if isinstance(parts, str):
        return None, parts
    found = _metric_of(parts.phrase)
    if found is None:
        return None, f"no rule matches '{parts.phrase}'; map it with --map '{raw}=METRIC'"
    metric, why = found
    split, trace = parts.split, list(parts.trace)
    if split is None:
        split = _resolve_split(default_split)
        trace.append(
            f"split from the log directory ({split})" if split else "split: train (default)"
        )
    trace.append(f"metric '{parts.phrase}': {why}")
    key = SeriesKey.model_construct(  # fields from the tables above: no validator built (issue 15)
        metric=metric, split=cast(Split, split or "train"), scope=parts.scope, statistic=parts.statistic
    )
    return key, "; ".join(trace)


def _lookup(raw: str, overrides: dict[str, str]) -> str | None:
    if raw in overrides and not raw.startswith("+"):
        return overrides[raw]
    lowered = raw.lower()
    return next((v for k, v in overrides.items() if k.lower() == lowered and not k.startswith("+")), None)


def _resolve(
    raw: str, overrides: dict[str, str] | None, default_split: str | None
) -> tuple[SeriesKey | None, str]:
    target = _lookup(raw, overrides) if overrides else None
    if target is None:
        return _map_core(raw, default_split)
    if isinstance(target, _PairTarget):  # not the user's --map: the file's pair said it
        return SeriesKey.parse(target), target.why
    if any(c in target for c in "/@:"):
        return SeriesKey.parse(target), f"--map {raw}={target}"
    parts = _decompose(raw)
    split = (parts.split if isinstance(parts, _Parts) else None) or _resolve_split(default_split)
    return SeriesKey(metric=target, split=split or "train"), f"--map {raw}={target}"


def map_name(
    raw: str, overrides: dict[str, str] | None = None, *, default_split: str | None = None
) -> SeriesKey | None:
    """The canonical key of a logged name, or None when it is not a recognizable series.

    ``default_split`` is the split to use when the name carries none (Keras TensorBoard puts
    ``epoch_loss`` in ``train/`` and ``validation/`` directories); any split word is accepted.
    """
    return _resolve(raw, overrides, default_split)[0]


def explain_mapping(
    raw: str, overrides: dict[str, str] | None = None, *, default_split: str | None = None
) -> str:
    """One line saying what ``raw`` maps to and which rules decided it."""
    key, why = _resolve(raw, overrides, default_split)
    return f"{raw!r} -> {key if key is not None else 'not mapped'}: {why}"


def says_percent(raw: str) -> bool:
    """The name says its values are in percent (``Accuracy (%)``, ``top1 err %``, ``acc_pct``)."""
    return "%" in raw or not _PERCENT_WORDS.isdisjoint(_normalize(raw).split("_"))


def is_bookkeeping(raw: str) -> bool:
    """True for axes and bookkeeping names (``step``, ``epoch``, ``train/epoch``, ``_runtime``)."""
    return _decompose(raw) == _NOT_SERIES_WHY


#: A hand loop's ``tl``/``vl`` (train, validation loss), read only as a pair in one file (alone, ``vl`` may be an RL value loss).
_PAIRED = {"tl": "train/loss", "vl": "val/loss"}


class _PairTarget(str):
    """An override :func:`paired_names` made (a key string that remembers why): explain_mapping says why."""

    why: str


def _target(key: str, why: str) -> _PairTarget:
    t = _PairTarget(key)
    t.why = why
    return t


def _lead_letter(raw: str) -> tuple[str, SeriesKey] | None:
    """``v_loss`` -> ("v", train/loss): a name made of a split letter of
    :data:`LEAD_SPLIT_LETTERS` and a name that maps on its own (split left to the letter)."""
    tokens = _normalize(raw).split("_")
    if len(tokens) < 2 or tokens[0] not in LEAD_SPLIT_LETTERS:
        return None
    rest = "_".join(tokens[1:])
    parts, key = _decompose(rest), _map_core(rest, None)[0]
    return (tokens[0], key) if key is not None and isinstance(parts, _Parts) and parts.split is None else None


_TRAIN_LOSS = SeriesKey.model_construct(metric="loss", split="train", scope="global", statistic="value")


def _lead_letter_names(names: list[str]) -> dict[str, str]:
    """``t_loss``/``v_loss``, ``v_loss``/``v_acc``: a split letter before each of several names
    in one file, read as the split where the file shows the habit - a ``t_`` name beside a
    ``v_`` one, ``v_`` names beside a training loss, or ``v_`` before a metric other than a
    loss - and names no policy or critic loss (RL code logs ``v_loss``, the value loss, beside ``p_loss``/``pi_loss``/``q_loss``)."""
    if any(RL_LOSSES.fullmatch(_normalize(n)) for n in names):
        return {}
    found = {n: hit for n in names if (hit := _lead_letter(n)) is not None}
    if not found:
        return {}
    letters = {lead for lead, _ in found.values()}
    train_loss = any(n not in found and map_name(n) == _TRAIN_LOSS for n in names)  # loss beside v_loss
    if not ({"t", "v"} <= letters or train_loss and "v" in letters
            or any(k.metric not in ("loss", "error") for _, k in found.values())):
        return {}
    out: dict[str, str] = {}
    for n, (lead, key) in found.items():
        split = LEAD_SPLIT_LETTERS[lead]
        others = sorted({m.strip() for m in found if m != n})[:3]
        key = key.model_copy(update={"split": split})
        out[n] = _target(str(key), f"split letter '{lead}_' -> {split}, as beside {', '.join(others)} in one file")
    return out


#: Split words naming a file's loss when bare (``train 0.41  val 0.43``; the short forms: SHORT_SPLITS).
_BARE_SPLITS = frozenset({"train", "training", "val", "valid", "validation", "eval", "dev", "test"})


def _bare_split_names(names: list[str]) -> dict[str, str]:
    """``train 0.41  val 0.43``, ``loss: 5.9 | val: 6.0``: bare split words as those splits' losses where one file shows the
    habit (two splits with train, or val/test beside a training loss), never a split whose loss the file names (``val_loss``)."""
    bare = {n: SPLIT_WORDS[_normalize(n)] for n in names if _normalize(n) in _BARE_SPLITS}
    short = {n: SHORT_SPLITS[_normalize(n)] for n in names if _normalize(n) in SHORT_SPLITS}
    losses = {k.split for n in names if n not in bare and n not in short and (k := map_name(n)) is not None
              and k.metric == "loss" and k.scope == "global" and k.statistic == "value"}  # fmt: skip
    bare |= short if len(set(short.values())) >= 2 and not set(short.values()) & losses else {}
    if not bare or len(splits := set(bare.values())) != len(bare):  # ``val`` and ``valid`` in one file: which is which
        return {}
    if not ("train" in splits and len(splits) >= 2 or "train" in losses and splits - {"train"}):
        return {}
    return {n: _target(f"{split}/loss", f"bare split word '{n.strip()}' read as the {split} loss, beside "
                       f"{', '.join(sorted({m.strip() for m in names if m != n})[:3])} in one file")
            for n, split in bare.items() if split not in losses}  # fmt: skip


def _implied_eval(raw: str) -> bool:
    """``metrics/precision``: validation only because an evaluation-only group says so."""
    segs = raw.strip().split("/")
    k = next((i for i, g in enumerate(segs[:-1]) if _normalize(g) in EVAL_ONLY_NAMESPACES), None)
    bare = _decompose("/".join(segs[:k] + segs[k + 1 :])) if k is not None else None
    return isinstance(bare, _Parts) and bare.split is None and map_name(raw) is not None


def _eval_group_twins(names: list[str]) -> dict[str, str]:
    """``metrics/precision`` beside ``metrics/val_precision`` in one file: the group's split holds
    for an evaluation metric only when the file has no other series of it; beside its ``val_``
    twin the group-only name is the training metric (a hand SummaryWriter's habit)."""
    implied = {n for n in names if _implied_eval(n)}  # each name decomposed once
    keys = {n: map_name(n) for n in names} if implied else {}
    twins = {n: (k, next((m for m in names if m != n and keys[m] == k and m not in implied), None))
             for n in names if n in implied and (k := keys[n]) is not None and k.split == "val"}
    return {n: _target(str(k.model_copy(update={"split": "train"})), f"'{n.strip()}' beside {t.strip()!r} "
                       "in one file: the training metric (the group's split holds when it has no twin)")
            for n, (k, t) in twins.items() if t is not None}


def paired_names(names: Iterable[str]) -> dict[str, str]:
    """Overrides reading the raw names of one file that form a known pair (``tl`` beside
    ``vl``: train and validation loss; ``t_loss`` beside ``v_loss``: see
    :func:`_lead_letter_names`); empty when no pair is complete."""
    names = list(names)
    out = _lead_letter_names(names) | _bare_split_names(names) | _eval_group_twins(names) | letter_names(names)
    out |= average_twins(names)  # loss beside avg_loss: the per-step value (traindx/name_averages.py)
    found = {n: _PAIRED[n.strip().lower()] for n in names if n.strip().lower() in _PAIRED}
    if set(found.values()) == set(_PAIRED.values()):
        pair = " / ".join(_PAIRED)
        out |= {n: _target(k, f"'{n.strip()}' read as one of the pair {pair} in one file (train and validation loss)")
                for n, k in found.items()}  # fmt: skip
    return out
