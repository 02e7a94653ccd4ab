"""Names in printed training output (:mod:`traindx.readers.textlog`) that say what a value is:
scikit-learn's ``Validation score``, and fractions ``correct 1785/1800``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

_ESTIMATOR = re.compile(r"(?i)[a-z]*(classifier|regressor)\b")
#: scikit-learn's verbose MLP with early_stopping prints "Validation score: 0.93": the
#: estimator's score(), accuracy for a classifier and R^2 for a regressor.
_SCORE_AS = {"classifier": "val_accuracy", "regressor": "val_r2"}


def sklearn_score(text: str, records: list[tuple[int, dict[str, Any]]]) -> None:
    """Read scikit-learn's ``Validation score`` as the validation accuracy (R^2) where the
    file names only classifiers (only regressors); otherwise it stays unread, and counted."""
    if not any("validation score" in r for _, r in records):
        return
    kinds = {m.group(1).lower() for m in _ESTIMATOR.finditer(text)}
    if len(kinds) != 1:
        return
    name = _SCORE_AS[kinds.pop()]
    for _, r in records:
        if "validation score" in r:
            r[name] = r.pop("validation score")


#: A count over a total names the share it counts: ``correct 1785/1800`` is the accuracy, ``fraud
#: caught 0/15`` (detected, found, flagged) the recall of the class named. Another fraction keeps
#: its name (listed as not mapped where no rule knows it, as any name).
_CORRECT = re.compile(r"(?i)(?<![a-z])(?:n_|num_)?correct(?:ly classified)?(?![a-z])")
_CAUGHT = re.compile(r"(?i)^(.*?\w)\s+(?:caught|detected|found|flagged|identified|recalled|retrieved)$")
#: A split word alone before a fraction (``train 147/1437  val 35/360``): the share of that split
#: counted right, its accuracy (as ``correct`` is; issue 10, qa_wild43).
_BARE_SPLIT = re.compile(r"(?i)(?:train(?:ing)?|trn|val(?:id(?:ation)?)?|eval(?:uation)?|dev|test(?:ing)?)")
#: ``val 36/360 correct (10.0%)``: the count named after it, read as ``val correct 36/360``.
COUNT_FIRST = re.compile(r"(?i)(\d+\s*/\s*\d+)\s+(?:correct(?:ly classified)?|right)(?![a-z])(?:\s*\(\s*[\d.]+\s*%\s*\))?")


def fraction_name(name: str) -> str:
    """The name of a fraction's value (:data:`_CORRECT`, :data:`_BARE_SPLIT`, :data:`_CAUGHT`); else ``name``."""
    if _CORRECT.search(name):
        return _CORRECT.sub("accuracy", name)
    if _BARE_SPLIT.fullmatch(name.strip()):
        return f"{name.strip()} accuracy"
    return f"{caught[1]} recall" if (caught := _CAUGHT.match(name)) else name


#: A description in parentheses after a metric's name, words apart: ``test acc (20 new machines)``
#: (dropped; not a split, ``Loss (val)``, nor a qualifier, ``acc (top 5)``, which name the metric).
_ASIDE = re.compile(r"\s*\(([^()]*[A-Za-z]{3}[^()]*\s[^()]*)\)\s*$")
_NAMES_METRIC = re.compile(rf"(?i)(?<![a-z])(?:{_BARE_SPLIT.pattern[4:]}|best|min|max|mean|avg|average|top|running)(?![a-z])")


def aside(name: str) -> str:
    """``name`` without a description in parentheses at its end (:data:`_ASIDE`)."""
    m = _ASIDE.search(name)
    return name[: m.start()] if m and not _NAMES_METRIC.search(m[1]) else name


#: A boosting library's evaluation set: XGBoost ``validation_0-logloss``, LightGBM ``valid_1's l2``.
_EVAL_SET = re.compile(r"(?i)\b(train(?:ing)?|valid(?:ation)?|eval)(?:_(\d+))?(?:'s\s+|-)(?=[a-z])")


def eval_sets(text: str) -> str:
    """Boosting libraries' evaluation sets named as splits: ``training's`` is train; numbered
    sets are validation, except that of two (XGBoost's ``eval_set=[(X_train, y_train),
    (X_val, y_val)]``) the first is the training set."""
    found = {m[2] for m in _EVAL_SET.finditer(text) if m[2] is not None}
    two = {"0", "1"} <= found

    def split(m: re.Match[str]) -> str:
        if m[1].lower().startswith("train") or (two and m[2] == "0"):
            return "train "
        return "val "

    return _EVAL_SET.sub(split, text)


def one_off_test(records: list[tuple[int, dict[str, Any]]], prose_metric: Callable[[str], str | None]) -> None:
    """A sentence naming a metric and no split (``Accuracy on the 1000 sensor rows: 57.7%``) printed
    once, in or after the last record of the training lines (those whose names repeat), is a held-out
    evaluation after training: read as ``test <metric>`` (``prose_metric``: the metric a sentence
    names, else None), in place. Printed every epoch it stays as it is."""
    counts = Counter(k for _, r in records for k in r)
    repeated = [n for n, (_, r) in enumerate(records) if any(counts[k] > 1 for k in r if k != "epoch")]
    for _, r in records[repeated[-1] if repeated else 0 :]:
        for k in [k for k in r if isinstance(k, str) and counts[k] == 1]:
            if (metric := prose_metric(k)) is not None and f"test {metric}" not in r:
                r[f"test {metric}"] = r.pop(k)


#: A class's own accuracy (recall) on a line of its own: ``class D (n=19): acc 0.158`` (a loop over
#: the classes after each evaluation), the PyTorch CIFAR tutorial's ``Accuracy for class: plane is
#: 45.6 %`` and ``Accuracy of plane : 45 %``.
_PER_CLASS = re.compile(
    r"(?i)(?<![\w])(?:class\s+(?P<a>[\w.-]+)\s*(?:\(\s*n\s*=\s*\d+\s*\))?\s*[:-]?\s*(?:acc(?:uracy)?|recall)"
    r"|(?:acc(?:uracy)?|recall)\s+(?:of|for)\s+(?:class\s*:?\s*)?(?P<b>[\w.-]+)\s*(?:is)?)"
    r"\s*[:=]?\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<pct>%)?\s*$"
)
_SPLIT_OF = re.compile(rf"(?i)^({_BARE_SPLIT.pattern[4:]})(?![a-z])")


def per_class_mean(lines: list[str], records: list[tuple[int, dict[str, Any]]]) -> set[int]:
    """Each block of per-class accuracy lines (:data:`_PER_CLASS`, two classes or more, one line
    each) as the mean class accuracy - the balanced accuracy, the mean of the per-class recalls -
    of the record printed before it, on that record's accuracy split (validation when it names none),
    in place; the (0-based) indices of the lines read."""
    blocks: list[list[tuple[int, re.Match[str]]]] = []
    for i, line in enumerate(lines):
        if (m := _PER_CLASS.search(line)) is None:
            continue
        if blocks and i - blocks[-1][-1][0] == 1:
            blocks[-1].append((i, m))
        else:
            blocks.append([(i, m)])
    used: set[int] = set()
    for block in blocks:
        before = [r for at, r in records if at < block[0][0]]
        if len(block) < 2 or not before or len({m["a"] or m["b"] for _, m in block}) != len(block):
            continue
        vals = [float(m["num"]) for _, m in block]
        percent = any(m["pct"] for _, m in block) or max(vals) > 1.0
        rec = before[-1]
        split = next((s[1].lower() for k in rec if isinstance(k, str) and "acc" in k.lower() and (s := _SPLIT_OF.match(k))), "val")
        rec[f"{split} mean_class_accuracy"] = sum(vals) / len(vals) / (100.0 if percent else 1.0)
        used.update(i for i, _ in block)
    return used
