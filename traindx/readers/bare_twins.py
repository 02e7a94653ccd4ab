"""A bare metric beside its ``train_`` twin in one table (issue 10, a beginner's habit):
``epoch,train_mse,mse,rmse,mae,r2`` - the student prefixes the training number and reports the
held-out ones bare, as a paper's results table does. Read as the default split, the bare
columns would be a second, different training curve of the same metric. Where one file holds
a bare name and the same metric under an explicit ``train`` split in an earlier column, on the same steps with other
values (two columns of one table, not one number logged twice under two names), the file's bare
evaluation metrics are held out: ``val``, or ``test`` where the file already names a
validation series (or names a test one). Bare names with an explicit held-out twin of their
own (``acc`` beside ``val_acc``) stay training; optimizer state (``lr``, ``grad_norm``) is
never moved. A trainer's one-point summary (Hugging Face's final ``train_loss`` beside its
per-step ``loss``) has other steps, so it never triggers this."""

from __future__ import annotations

import numpy as np

from traindx.readers.raw import RawSeries
from traindx.schema import CANONICAL_METRICS

#: Kinds of file a hand loop writes (a tracker's or a trainer's names follow its own conventions).
HAND_TABLES = frozenset({"csv", "text", "jsonl", "history", "numpy", "pickle", "torch"})
#: Canonical metrics that are training state, not evaluation results: never moved to a held-out split.
_STATE = frozenset(CANONICAL_METRICS) - {"loss", "accuracy"}


def _bare(name: str):  # -> SeriesKey | None: the key of a name that carries no split
    from traindx.names import map_name

    a, b = map_name(name, default_split="train"), map_name(name, default_split="val")
    return a if a is not None and a != b and a.metric not in _STATE else None


def held_out_bare(series: list[RawSeries]) -> dict[str, str]:
    """Overrides (raw name -> key) reading a table's bare metrics as held out where one of them
    has a ``train`` twin (module docstring); empty otherwise."""
    from traindx.names import _target, map_name

    if len(series) < 2 or any(s.split is not None for s in series):
        return {}
    bare = {s.name: k for s in series if (k := _bare(s.name)) is not None}
    if not bare:
        return {}
    explicit = {s.name: k for s in series if s.name not in bare and (k := map_name(s.name)) is not None}
    by_name = {s.name: s for s in series}
    at = {s.name: i for i, s in enumerate(series)}
    # the bare column after its train twin, as a results table reports them ('epoch,train_mse,mse');
    # a bare name first ('epoch,loss,train_loss') is one measurement under two names, read once
    twins = [(n, m) for n, k in bare.items() for m, e in explicit.items() if e == k and k.split == "train"
             and at[n] > at[m] and _two_columns(by_name[n], by_name[m])]  # fmt: skip
    if not twins:
        return {}
    named = {k.split for k in explicit.values()} - {"train", None}
    if named == {"val", "test"}:
        return {}
    held = "test" if named else "val"
    taken = {(k.metric, k.scope, k.statistic) for k in explicit.values() if k.split == held}
    n0, m0 = twins[0]
    why = f"bare '{n0.strip()}' beside '{m0.strip()}' in one table: its bare metrics are the {held} results"
    return {n: _target(str(k.model_copy(update={"split": held})), why) for n, k in bare.items()
            if (k.metric, k.scope, k.statistic) not in taken}  # fmt: skip


def _two_columns(a: RawSeries, b: RawSeries) -> bool:
    """Two columns of one table's rows (the same steps), not one number logged under two names
    (the same values wherever finite; columns with no finite value in common are left to the names)."""
    if len(a.steps) < 2 or len(a.steps) != len(b.steps) or not np.array_equal(a.steps, b.steps):
        return False
    va, vb = np.asarray(a.values, float), np.asarray(b.values, float)
    both = np.isfinite(va) & np.isfinite(vb)
    same = bool(both.any()) and np.array_equal(np.isfinite(va), np.isfinite(vb)) and np.allclose(va[both], vb[both])
    return not same
