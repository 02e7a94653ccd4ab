"""Series a run's files imply but do not log under one name: multi-part losses.

Detection trainers log their loss in parts (Ultralytics ``train/box_loss``, ``cls_loss``,
``dfl_loss``; MMDetection ``loss_cls``, ``loss_bbox``), multi-task models one loss per head.
When a split has no loss of its own, the sum of its parts is its loss; the parts stay in the
run as evidence. ``--map loss=train/box_loss+train/cls_loss`` names the parts explicitly.
"""

from __future__ import annotations

import re

import numpy as np

from traindx.arrays import intersect, unique
from traindx.metric_direction import ERROR_RATES
from traindx.name_habits import ACCURACY_ALIASES, ERROR_RATE_NAME, is_adversarial
from traindx.names import BOUNDED_01, is_loss_component, says_percent
from traindx.readers.raw import RawSeries
from traindx.schema import Run, Series, SeriesKey

#: Prefix of an override key that defines a sum (see :func:`traindx.name_options.parse_map_option`).
SUM_PREFIX = "+"


def _sum(key: SeriesKey, parts: list[Series], name: str) -> Series | None:
    steps = parts[0].steps
    for p in parts[1:]:
        steps = intersect(steps, p.steps)
    if not steps.size:
        return None
    total = np.zeros(steps.size)
    for p in parts:
        total += p.values[np.searchsorted(p.steps, steps)]
    return Series.checked(
        key=key,
        steps=steps,
        values=total,
        unit=parts[0].unit,
        original_name=name,
        source=parts[0].source,
    )


#: Statistics of the loss that are the loss of a split that logged no plain one (first wins):
#: ``epoch,mean_loss`` written by hand, ``running_loss`` printed every N batches (``avg_loss`` is
#: the loss itself: name_tables.AVERAGED).
LOSS_ALIASES = ("mean_loss", "running_loss", "smooth_loss", "smoothed_loss", "ema_loss")


def add_component_sums(run: Run) -> None:
    """Give each split without a loss one: a statistic of it (``mean_loss``), else the whole
    its parts were logged beside (a VAE's ``total`` beside ``recon`` and ``kl``), else the sum
    of its loss components (global scope, plain values). A GAN's discriminator and generator
    losses are two adversaries' losses, not parts of one: no loss is made from them."""
    for split in ("train", "val", "test"):
        _accuracy_alias(run, split)
        if run.get("loss", split) is not None:
            continue
        found = [
            s for s in run.series.values()
            if s.key.split == split and s.key.scope == "global" and s.key.statistic == "value" and len(s)
        ]  # fmt: skip
        parts = [s for s in found if is_loss_component(s.key.metric)]
        whole = next((s for name in LOSS_ALIASES for s in found if s.key.metric == name), None)
        if whole is None and parts:
            whole = next((s for s in found if s.key.metric == "total"), None)
        if whole is not None:
            run.add(whole.model_copy(update={"key": SeriesKey.model_construct(metric="loss", split=split)}))
            continue
        gan = sorted({p.key.metric for p in parts if is_adversarial(p.key.metric)})
        if gan:
            run.ingest.add("note", f"{split}: {', '.join(gan)} are a GAN's adversarial losses, not one loss; no {split} loss read from them")
            continue
        units = {p.unit for p in parts}
        if not parts or len(units) > 1:
            continue
        name = "+".join(p.original_name or str(p.key) for p in parts)
        total = _sum(SeriesKey.model_construct(metric="loss", split=split), parts, name)
        if total is not None:  # ``traindx series`` shows it "logged as" a+b+c
            run.add(total)


def _accuracy_alias(run: Run, split: str) -> None:
    """A split logging no accuracy reads its pair / binary / averaged accuracy as the accuracy,
    else a bare ``score`` whose values are counted shares (:func:`count_shares`), else one minus
    its classification error rate (fastai's ``error_rate``, ``top1_err``; a bare ``err`` where
    its values are counted shares of one evaluation set, as a regression's error never is)."""
    if run.get("accuracy", split) is not None:
        return
    for name in ACCURACY_ALIASES:
        s = run.get(name, split)
        if s is not None and len(s):
            run.add(s.model_copy(update={"key": SeriesKey.model_construct(metric="accuracy", split=split)}))
            return
    regression = any(_REGRESSION.fullmatch(s.key.metric) for s in run.series.values())
    score = run.get("score", split)
    if score is not None and not regression:
        shares = count_shares(score.values)
        if shares is not None:
            key = SeriesKey.model_construct(metric="accuracy", split=split)
            run.add(score.model_copy(update={"key": key, "values": shares}))
            return
    err = run.get("error", split)
    if err is not None and len(err) and ERROR_RATE_NAME.search(err.original_name or ""):
        v = err.values[np.isfinite(err.values)]
        if v.size and v.min() >= 0 and v.max() <= 1:
            key = SeriesKey.model_construct(metric="accuracy", split=split)
            run.add(err.model_copy(update={"key": key, "values": 1.0 - err.values, "original_name": f"1-{err.original_name}"}))
    elif err is not None and len(err) and not regression:  # a bare 'err': a rate where its values are counted shares
        shares = count_shares(err.values)
        if shares is not None:
            key = SeriesKey.model_construct(metric="accuracy", split=split)
            run.add(err.model_copy(update={"key": key, "values": 1.0 - shares, "original_name": f"1-{err.original_name}"}))


#: Metrics of a regression: beside them a bare ``score`` is as likely an R^2 (sklearn's regressor score).
_REGRESSION = re.compile(r"r2\w*|\w*(mae|mse|rmse|msle|mape|medae)\w*|explained_variance")
#: Largest evaluation set whose shares :func:`count_shares` looks for, and the precision of a
#: logged value (float32, or six printed decimals).
_MAX_EXAMPLES, _MAX_FEW, _VALUE_EPS = 20000, 2000, 6e-7


def count_shares(values: np.ndarray) -> np.ndarray | None:
    """A bare ``score`` (or ``err``) as the share of right (wrong) answers, in fractions, where
    its values say so: all in [0, 1] (or a percent, not all whole numbers, up to 100), two
    distinct ones or more, and every one a share k/n of one evaluation set of n examples (n <=
    20,000 from four distinct values, n <= 2,000 from two or three: a random pair fits some
    n <= 2,000 in about 0.3 % of cases). An R^2, a mean of batch scores, a regression's error,
    an inception or game score is none of these (None)."""
    v = values[np.isfinite(values)]
    if not v.size or v.min() < 0 or v.max() > 100.0:
        return None
    scale = 100.0 if v.max() > 1.5 else 1.0
    if scale > 1 and np.all(v == np.round(v)):  # whole numbers: a count or a game score as likely
        return None
    distinct = unique(v / scale)
    if distinct.size < 2:
        return None
    # two or three values fit some large n by chance: then only a set of up to 2,000 counts
    n = np.arange(2, (_MAX_EXAMPLES if distinct.size >= 4 else _MAX_FEW) + 1, dtype=float)
    for chunk in np.array_split(n, 20):
        x = distinct[:, None] * chunk[None, :]
        fits = np.all(np.abs(x - np.round(x)) <= _VALUE_EPS * chunk[None, :] + 1e-6, axis=0)
        if fits.any():
            return values / scale
    return None


def add_explicit_sums(
    run: Run, overrides: dict[str, str] | None, raws: dict[str, list[RawSeries]]
) -> None:
    """``--map loss=a+b+c``: the sum of the named series (logged names or key strings)."""
    for target, expr in (overrides or {}).items():
        if not target.startswith(SUM_PREFIX):
            continue
        key = SeriesKey.parse(target[len(SUM_PREFIX) :])
        parts, missing = [], []
        for name in (p.strip() for p in expr.split("+")):
            found = raws.get(name) or raws.get(name.lower())
            if found:
                steps = np.concatenate([r.steps for r in found])
                values = np.concatenate([r.values for r in found])
                parts.append(
                    Series.from_raw(
                        key,
                        steps,
                        values,
                        unit=found[0].unit,
                        original_name=name,
                        source=found[0].source,
                    )
                )
            elif name in run.series:
                parts.append(run.series[name])
            else:
                missing.append(name)
        if missing:
            names = ", ".join(repr(m) for m in missing)
            run.ingest.add("note", f"--map {key}={expr}: no series named {names}; sum not made")
            continue
        total = _sum(key, parts, expr)
        if total is None:
            run.ingest.add("note", f"--map {key}={expr}: the parts share no step; sum not made")
            continue
        run.add(total, replace=True)


def percent_to_fraction(series: Series) -> tuple[Series, bool]:
    """A [0, 1]-bounded quality metric logged in percent (timm's top-1 of 76.3, detectron2's
    AP of 38.5) as a fraction, so every rule reads one scale. A name saying percent
    (``Accuracy (%)``, ``top1_err_pct``) is read so from 1 % up: a 100-class run stuck at
    chance logs 1.0, an error rate too."""
    v = series.values[np.isfinite(series.values)]
    marked = says_percent(series.original_name)
    rate = ERROR_RATES.fullmatch(series.key.metric) and (marked or ERROR_RATE_NAME.search(series.original_name or ""))
    if (
        not (BOUNDED_01.fullmatch(series.key.metric) or rate or marked and series.key.metric.startswith("act_frac"))
        or not v.size
        or v.min() < 0
        or not (1.0 if marked else 1.5) < v.max() <= 100.0
    ):
        return series, False
    return series.model_copy(update={"values": series.values / 100.0}), True
