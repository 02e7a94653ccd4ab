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
