"""One run's splits written to files of their own (issue 10, a beginner's habit): ``train.csv``
and ``val.csv`` with the same columns (``epoch,loss,acc``), ``train_log.csv``/``valid_log.csv``,
``history_train.json``/``history_val.json``. Read as one writer's files, the second would
supersede the first's points as a resumed run and the validation curve would be lost (or
replace the training one). Files of one folder whose names are the same but for a split word,
with two different splits, are the run's splits: each file's unprefixed names take its split
(a name that says its split, ``val_loss``, keeps it). Files named alike but for anything else
(``train.csv`` and ``train_2.csv``: a resumed run) are left as they were."""

from __future__ import annotations

import re
from pathlib import Path

#: Folder names that say a split (``logs/train``, ``logs/validation``; readers/discovery.py) -> the split.
SPLIT_DIRS = {"train": "train", "training": "train", "validation": "val", "val": "val",
              "valid": "val", "eval": "val", "evaluation": "val", "test": "test"}  # fmt: skip
#: Split words of a file name (a whole token of its stem) -> the split: the folder words and ``dev``.
FILE_SPLIT_WORDS = {**SPLIT_DIRS, "dev": "val"}

_TOKEN = re.compile(r"[A-Za-z]+")


def _template(f: Path) -> tuple[str, str, str] | None:
    """(folder, name with its one split word replaced by ``#``, split), or None when the name
    holds no split word or more than one."""
    stem = f.name[: len(f.name) - len("".join(f.suffixes))] if f.suffixes else f.name
    hits = [m for m in _TOKEN.finditer(stem) if m[0].lower() in FILE_SPLIT_WORDS]
    if len(hits) != 1:
        return None
    m = hits[0]
    return str(f.parent), f.name[: m.start()] + "#" + f.name[m.end() :], FILE_SPLIT_WORDS[m[0].lower()]


def name_splits(files: list[tuple[Path, str | None]]) -> list[tuple[Path, str | None]]:
    """``files`` (file, split) with the split its name says given to each file of a group named
    alike but for a split word, where the group holds two splits or more, one file per split,
    and no file of it has a split already (from its folder)."""
    groups: dict[tuple[str, str], list[tuple[Path, str]]] = {}
    for f, split in files:
        t = _template(f) if split is None else None
        if t is not None:
            groups.setdefault(t[:2], []).append((f, t[2]))
    named: dict[Path, str] = {}
    for members in groups.values():
        splits = [s for _, s in members]
        if len(set(splits)) >= 2 and len(set(splits)) == len(splits):
            named.update(dict(members))
    return [(f, named.get(f, split)) for f, split in files]
