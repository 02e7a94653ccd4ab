"""The cost letter of the machine-learning course habit (:func:`traindx.names.paired_names`).

Andrew Ng's courses name the cost ``J`` (``J_history``, ``J_train``, ``J_cv``, ``J_test``) and
their students keep the habit in their own loops (``costs.append(J)``, a CSV ``it,J``, a JSON
``{"J": {...}, "J_test": {...}}``). A name that is exactly a capital ``J``, alone or with a
split after it, is that split's loss where the file names no other loss of the split; a
lower-case ``j`` (a loop index, a grid coordinate) is not read.
"""

from __future__ import annotations

import re

_COST_LETTER = re.compile(r"J(?:[_ ]?(train|training|tr|cv|val|valid|validation|dev|test|history|hist))?")
_SPLIT = {"train": "train", "training": "train", "tr": "train", "history": "train", "hist": "train", None: "train",
          "cv": "val", "val": "val", "valid": "val", "validation": "val", "dev": "val", "test": "test"}


def cost_letter_names(names: list[str]) -> dict[str, str]:
    """``J`` -> ``train/loss``, ``J_test`` -> ``test/loss``, ``J_cv`` -> ``val/loss`` for the
    names of one file (overrides, as :func:`traindx.names.paired_names` gives them)."""
    found = {n: _SPLIT[m[1]] for n in names if (m := _COST_LETTER.fullmatch(n.strip())) is not None}
    if not found:
        return {}
    from traindx.names import _target, map_name

    losses = {k.split for n in names if n not in found and (k := map_name(n)) is not None and k.metric == "loss"}
    why = "the cost letter 'J' of the machine-learning course habit (traindx/name_letters.py)"
    return {n: _target(f"{split}/loss", why) for n, split in found.items() if split not in losses}


#: One- and two-letter keys of a hand loop's dict (``hist[epoch] = {"l": loss, "a": acc}``):
#: read only where every series name of the file is one of them (module docstring of
#: :func:`short_key_names`).
_SHORT_KEYS = {"l": "train/loss", "tl": "train/loss", "a": "train/accuracy", "ta": "train/accuracy",
               "vl": "val/loss", "va": "val/accuracy"}  # fmt: skip


def short_key_names(names: list[str]) -> dict[str, str]:
    """``l``/``a`` (``tl``/``ta``), ``vl``/``va``: a training loss and accuracy, a validation loss
    and accuracy, where the names of one file are two or more of these keys and nothing else
    but axes, one of them a training loss (``l`` or ``tl``, not both). Alone, or beside
    other names, a letter means anything (a length, an alpha), so it is not read; ``va`` is
    read as an accuracy only beside ``vl`` (alone beside ``tr`` it is the validation loss)."""
    from traindx.names import _target, is_bookkeeping

    series = [n for n in names if not is_bookkeeping(n)]
    found = {n: n.strip() for n in series if n.strip() in _SHORT_KEYS}
    letters = set(found.values())
    if len(found) != len(series) or len(found) < 2 or len(letters) != len(found) or len(letters & {"l", "tl"}) != 1:
        return {}
    why = f"short keys {', '.join(sorted(letters))} of one file: a hand loop's loss/accuracy dict"
    return {n: _target(_SHORT_KEYS[k], why) for n, k in found.items() if k != "va" or "vl" in letters}


#: A split's short form and a metric letter (``tr_l``, ``va_l``, ``va_a``, ``te_acc``... after
#: names._normalize): the loss (``l``) or the accuracy (``a``) of that split.
_SPLIT_LETTER = re.compile(r"(tr|trn|train|va|val|vl|te|tst|test)_(l|a)")
_LETTER_SPLIT = {"tr": "train", "trn": "train", "train": "train", "va": "val", "val": "val", "vl": "val",
                 "te": "test", "tst": "test", "test": "test"}  # fmt: skip


def split_letter_names(names: list[str]) -> dict[str, str]:
    """``tr_l``, ``va_l``, ``va_a``: a split's short form with ``l`` (loss) or ``a`` (accuracy),
    read where every series name of the file has that form, two or more, one of them a loss;
    alone a ``va_a`` or ``tr_l`` could mean anything."""
    from traindx.names import _normalize, _target, is_bookkeeping

    series = [n for n in names if not is_bookkeeping(n)]
    found = {n: m for n in series if (m := _SPLIT_LETTER.fullmatch(_normalize(n))) is not None}
    keys = {n: f"{_LETTER_SPLIT[m[1]]}/{'loss' if m[2] == 'l' else 'accuracy'}" for n, m in found.items()}
    if len(found) != len(series) or len(found) < 2 or len(set(keys.values())) != len(keys):
        return {}
    if not any(k.endswith("/loss") for k in keys.values()):
        return {}
    why = f"split short forms with a metric letter ({', '.join(sorted(n.strip() for n in found))}) in one file"
    return {n: _target(k, why) for n, k in keys.items()}


def letter_names(names: list[str]) -> dict[str, str]:
    """The overrides of this module for the names of one file."""
    return cost_letter_names(names) | short_key_names(names) | split_letter_names(names)
