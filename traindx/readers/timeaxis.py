"""One run, one time axis: combine the series several writers logged for one training run.

A run directory often holds several writers of the same run: Keras' ``CSVLogger`` (one row
per epoch), Keras' ``TensorBoard`` (``epoch_*`` values by epoch index, ``*_vs_iterations``
by iteration) and the traindx callback (per step); Lightning's CSV and TensorBoard loggers;
an adapter's run directory inside the log folder. Their series are combined here so that no
series mixes epoch indices with step numbers and no point is counted twice:

1. **Epoch ends.** The step at which each epoch ends is read from the writers themselves,
   first match wins: an ``epoch`` series logged against steps (Lightning, both loggers); a
   series logged per epoch by one writer and per step by another with the same values (the
   callback's ``val/loss`` at steps 32, 65, ... and ``CSVLogger``'s ``val_loss`` at epochs
   0, 1, ...); the run context's ``steps_per_epoch`` (or ``n_train / batch_size``).
2. **One axis.** When the run has plain series per step (not only Keras' ``batch_*`` and
   ``*_vs_iterations`` extras, which are ``:step`` series), series per epoch are moved onto the step
   axis (epoch ``e`` -> the step it ends at; epochs past the known ends continue at the last
   epoch length), and ``context.steps_per_epoch`` is set. Without epoch ends they stay per
   epoch.
3. **One series per measurement.** Series of one key from different writers that agree
   where they share steps are one measurement: merged (a duplicate logged twice, or one
   writer's subset of the other's points). Series of one key that disagree are different
   statistics of it: the one with more points keeps the key (as a run logged by that writer
   alone reads) and the sparser one becomes ``:epoch`` (the callback's per-step loss and
   Keras' epoch mean). A ``:step`` series that repeats its ``value`` series
   (``evaluation_loss_vs_iterations`` one step later) is dropped.
4. **A test after training.** Keras' ``TensorBoard`` passed to ``model.evaluate`` after
   ``fit`` writes its metrics as ``evaluation_*_vs_iterations`` at the optimizer's
   iteration, which is the last validation's step, in a new event file: a one-point piece at
   the last step an earlier file of the same writer already holds, with another value, is
   read as the run's test metric (``test/loss``), not as the last validation point.
5. **Two names, one key.** Two columns of ONE file that read as the same measurement
   (``loss`` and ``train_loss``, ``acc`` and ``accuracy``) are not a resumed run: with the
   same values one is kept; otherwise the first in the file keeps the key and the other is
   counted as dropped, both names said, with the ``--map`` that chooses the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from traindx.arrays import intersect, median, unique
from traindx.schema import Run, Series, SeriesKey

#: Names of an epoch counter logged as a series against steps (Lightning logs ``epoch``).
EPOCH_AXIS = re.compile(r"(trainer/|train/)?epochs?", re.I)
_RTOL, _ATOL = 1e-4, 1e-7  # float32 values written as text by one writer, as binary by another


def epoch_indexed(steps: np.ndarray) -> bool:
    """Whether x values look like epoch indices (0, 1, 2, ... with few gaps), not steps."""
    return bool(steps.size) and int(steps.min()) >= 0 and int(steps.max()) < 2 * steps.size + 1


@dataclass
class Piece:
    """One series as one writer logged it; ``writer`` is the file's directory and kind."""

    series: Series
    writer: str


def _agree(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    return both_nan | np.isclose(a, b, rtol=_RTOL, atol=_ATOL, equal_nan=False)


def same_values(a: Series, b: Series) -> bool:
    """Whether two series are one measurement: at the steps both have, at least 80 % of the
    values agree (at least one step shared); or, sharing no step, the same number of points
    with the same values one step apart (an iteration count against a step index)."""
    common, ia, ib = np.intersect1d(a.steps, b.steps, assume_unique=True, return_indices=True)
    if common.size:
        return bool(np.mean(_agree(a.values[ia], b.values[ib])) >= 0.8)
    if len(a) == len(b) and len(a) and np.all(np.abs(a.steps - b.steps) <= 1):
        return bool(np.all(_agree(a.values, b.values)))
    return False


def _union(a: Series, b: Series) -> Series:
    """Points of ``a`` plus those of ``b`` at steps ``a`` lacks."""
    extra = ~np.isin(b.steps, a.steps, assume_unique=True)  # steps increase (Series); no numpy.ma
    if not extra.any():
        return a
    steps = np.concatenate([a.steps, b.steps[extra]])
    values = np.concatenate([a.values, b.values[extra]])
    order = np.argsort(steps, kind="stable")
    return a.model_copy(update={"steps": steps[order], "values": values[order]})


def shares_steps(steps: np.ndarray) -> bool:
    """Rows of a table that share a step beside an epoch column (Lightning's metrics.csv
    writes the training and the validation row of an epoch at one global step): the step
    column counts the trainer's optimizer steps, not log calls (a log-call counter never
    repeats), so the steps per epoch it gives are the run's own (``ctx.steps_counted``)."""
    s = np.asarray(steps)
    return s.size > 1 and unique(s).size < s.size


def epoch_ends_from_marks(marks: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """Last step of each epoch from ``epoch`` series logged against steps."""
    if not marks:
        return None
    steps = np.concatenate([s for s, _ in marks])
    epochs = np.concatenate([e for _, e in marks])
    ok = np.isfinite(epochs) & (epochs >= 0) & (epochs == np.round(epochs)) & (epochs < 1e7)
    if not ok.any():
        return None
    steps, epochs = steps[ok], epochs[ok].astype(np.int64)
    n = int(epochs.max()) + 1
    ends = np.full(n, -1, dtype=np.int64)
    np.maximum.at(ends, epochs, steps)
    return _fill(ends)


def epoch_ends_from_pairs(pieces: list[Piece]) -> np.ndarray | None:
    """Last step of each epoch from a measurement one writer logged per epoch and another
    per step with the same values (same metric, split and scope)."""

    def ident(k: SeriesKey) -> tuple[str, str, str]:
        return k.metric, k.split, k.scope

    per_step = [p for p in pieces if p.series.unit == "step" and len(p.series) >= 2]
    for e in (p for p in pieces if p.series.unit == "epoch" and len(p.series) >= 2):
        for s in per_step:
            if s.writer == e.writer or ident(s.series.key) != ident(e.series.key) or len(s.series) != len(e.series):
                continue
            if np.all(_agree(e.series.values, s.series.values)) and np.all(np.diff(s.series.steps) > 0):
                epochs = e.series.steps
                if epochs.min() < 0 or epochs.max() >= 1e7:
                    continue
                ends = np.full(int(epochs.max()) + 1, -1, dtype=np.int64)
                ends[epochs] = s.series.steps
                return _fill(ends)
    return None


def _fill(ends: np.ndarray) -> np.ndarray | None:
    """Fill epochs with no known end from the known ends' spacing; None if none is known."""
    known = np.flatnonzero(ends >= 0)
    if not known.size:
        return None
    if known.size == 1:
        per = (ends[known[0]] + 1) / (known[0] + 1)
        return np.round((np.arange(ends.size) + 1) * per - 1).astype(np.int64)
    return _interp(ends, known)


def _interp(ends: np.ndarray, known: np.ndarray) -> np.ndarray:
    idx = np.arange(ends.size, dtype=np.float64)
    per = float(median(np.diff(ends[known]) / np.diff(known)))
    out = np.interp(idx, known, ends[known].astype(np.float64))
    before = idx < known[0]
    out[before] = ends[known[0]] - (known[0] - idx[before]) * per
    return np.round(out).astype(np.int64)


def to_steps(s: Series, ends: np.ndarray) -> Series:
    """A per-epoch series on the step axis: epoch ``e`` at the step it ends at."""
    e = s.steps
    per = float(median(np.diff(ends))) if ends.size > 1 else float(ends[0] + 1)
    past = e >= ends.size
    steps = np.where(past, ends[-1] + (e - ends.size + 1) * per, ends[np.minimum(e, ends.size - 1)])
    steps = np.where(e < 0, e, steps).astype(np.int64)
    i = np.arange(steps.size)
    steps = np.maximum.accumulate(steps - i) + i  # strictly increasing: no point lost to a tie
    return s.model_copy(update={"steps": steps, "unit": "step"})


def epochs_done(counters: Sequence[Sequence[float] | np.ndarray]) -> float | None:
    """The epochs of training logged epoch counters (their values) show at their end, where a
    counter is the trainer's progress (fractional values: the HF Trainer's ``'epoch': 0.8`` is
    80 % of one pass over the training data); None for whole-number counters, which may count
    from 0 (Lightning's ``epoch`` 0 is the first epoch, not none)."""
    values = [v[np.isfinite(v)] for v in (np.asarray(c, dtype=np.float64) for c in counters)]
    values = [v for v in values if v.size]
    if not values or not any(np.any(v != np.round(v)) for v in values):
        return None
    return round(float(max(v.max() for v in values)), 4)


def combine(run: Run, pieces: list[Piece], marks: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Add the pieces to ``run`` on one time axis, one series per measurement (see the
    module docstring); what was aligned, merged or renamed is noted in ``run.ingest``."""
    # Only a writer of plain per-step values (an adapter, Lightning, a SummaryWriter) beside
    # per-epoch ones makes two axes; Keras' own per-iteration extras (batch_*, *_vs_iterations)
    # are ':step' series of their own and leave a per-epoch run per epoch.
    per_step = any(p.series.unit == "step" and p.series.key.statistic == "value" for p in pieces)
    if per_step and any(p.series.unit == "epoch" for p in pieces):
        ends = epoch_ends_from_marks(marks) if marks else None
        how = "the logged epoch counter"
        if ends is None:
            ends, how = epoch_ends_from_pairs(pieces), "series logged both per epoch and per step"
        if ends is None:
            spe = run.context.steps_per_epoch
            d = run.context.data
            if not spe and d.n_train and d.batch_size:
                spe = -(-d.n_train // d.batch_size)
            if spe:
                ends, how = np.array([spe - 1]), "the run context's steps per epoch"
        if ends is not None:
            moved = [p for p in pieces if p.series.unit == "epoch"]
            for p in moved:
                p.series = to_steps(p.series, ends)
            if run.context.steps_per_epoch is None and ends.size > 1:
                run.context.steps_per_epoch = int(round(float(median(np.diff(ends)))))
            names = sorted({p.series.original_name for p in moved})
            run.ingest.add("note", f"{len(moved)} per-epoch series ({', '.join(names[:6])}) put on the step axis; epoch ends from {how}")
    if any(shares_steps(s) for s, _ in marks):
        run.context.flags["steps_counted"] = True
    if (done := epochs_done([v for _, v in marks])) is not None:
        run.context.flags.setdefault("epochs_done", done)
    if run.context.steps_per_epoch is None and marks:  # Lightning: all per step, epochs logged
        ends = epoch_ends_from_marks(marks)
        if ends is not None and ends.size > 1:
            run.context.steps_per_epoch = int(round(float(median(np.diff(ends)))))
    _evaluations_after_fit(run, pieces)
    by_key: dict[str, dict[str, list[Series]]] = {}
    for p in pieces:
        by_key.setdefault(str(p.series.key), {}).setdefault(p.writer, []).append(p.series)
    out: dict[str, Series] = {}
    renamed: list[str] = []
    for k, writers in by_key.items():
        versions = []
        for parts in writers.values():  # one writer: its files merge (a resumed run's next file)
            tmp = Run.model_construct(id="_")
            for s in _one_name_per_file(run, k, parts):
                tmp.add(s)
            run.ingest.problems.extend(tmp.ingest.problems)
            versions.append(tmp.series[k])
        for s in sorted(versions, key=len, reverse=True):  # the densest version keeps the key
            _place(run, out, s, renamed)
    for k, s in list(out.items()):  # a :step series repeating its value series
        if s.key.statistic == "step":
            plain = out.get(str(s.key.model_copy(update={"statistic": "value"})))
            if plain is not None and plain.unit == s.unit and len(plain) == len(s) and same_values(plain, s):
                del out[k]
    if renamed:
        run.ingest.add(
            "note", f"{', '.join(renamed)}: two writers logged different values under one name; the one "
            "with more points keeps it, the other (per epoch) is read as ':epoch'",
        )  # fmt: skip
    for s in out.values():
        run.add(s)


def _one_name_per_file(run: Run, key: str, parts: list[Series]) -> list[Series]:
    """Point 5 of the module docstring: of the series one file logged under several names
    that read as ``key``, the first (and any with the same values); the others counted."""
    kept: list[Series] = []
    for s in parts:
        first = next((k for k in kept if k.source == s.source and k.original_name != s.original_name), None)
        if first is None:
            kept.append(s)
        elif not same_values(first, s):
            run.ingest.add(
                "dropped", f"{s.source}: '{first.original_name}' and '{s.original_name}' both read as {key}, with "
                f"different values; '{first.original_name}' is read, '{s.original_name}' is not (read it apart "
                f"with --map '{s.original_name}={key}@alt')", file=s.source, count=len(s),
            )  # fmt: skip
    return kept


def _evaluations_after_fit(run: Run, pieces: list[Piece]) -> None:
    """Re-key Keras TensorBoard's ``model.evaluate`` after ``fit`` as test metrics (point 4 of
    the module docstring); pieces come in file order."""
    last: dict[tuple[str, str], tuple[int, float]] = {}
    moved = []
    for p in pieces:
        s = p.series
        if s.key.split != "val" or s.key.statistic != "step" or not (s.original_name or "").startswith("evaluation_"):
            continue
        k = (p.writer, str(s.key))
        prev = last.get(k)
        if prev is not None and len(s) == 1 and int(s.steps[0]) == prev[0] and not _agree(s.values[:1], np.array([prev[1]]))[0]:
            p.series = s.model_copy(update={"key": s.key.model_copy(update={"split": "test", "statistic": "value"})})
            moved.append(s.original_name)
        elif len(s):
            last[k] = (int(s.steps[-1]), float(s.values[-1]))
    if moved:
        run.ingest.add("note", f"{', '.join(moved)}: a model.evaluate after training (one point at the last "
                       "validation step, in a later event file, with another value); read as test metrics")  # fmt: skip


def _place(run: Run, out: dict[str, Series], s: Series, renamed: list[str]) -> None:
    k = str(s.key)
    have = out.get(k)
    if have is None:
        out[k] = s
    elif same_values(have, s):
        out[k] = _union(have, s)
    elif s.key.statistic == "value":
        moved = s.model_copy(update={"key": s.key.model_copy(update={"statistic": "epoch"})})
        renamed.append(f"{k} ('{have.original_name}', '{s.original_name}')")
        _place(run, out, moved, renamed)
    else:  # a third, different version: the denser ones are kept, this one counted
        run.ingest.add(
            "dropped", f"{s.source}: '{s.original_name}': a second, different {k} (another writer); not read",
            file=s.source, count=len(s),
        )  # fmt: skip


def same_run(a: Run, b: Run) -> bool:
    """Whether two runs found in different folders hold the same values: every series both
    have that shares at least 3 steps agrees there, and one does."""
    shared = 0
    for k in set(a.series) & set(b.series):
        x, y = a.series[k], b.series[k]
        if intersect(x.steps, y.steps).size < 3:
            continue
        if not same_values(x, y):
            return False
        shared += 1
    return shared > 0


def same_run_groups(runs: list[Run], kinds: list[set[str]], near: list[str] | None = None) -> list[list[int]]:
    """Indices of ``runs`` grouped into training runs: runs written in file formats that
    have none in common (``kinds``: each run's file kinds) and holding the same values are
    one run written by two loggers (Lightning's CSV and TensorBoard loggers write
    ``version_0/metrics.csv`` and ``version_1/`` event files). Runs in the same format with
    the same values (a seeded run repeated, a copy) stay apart. ``near``: only runs with the
    same value here (their folders' grandparent) are compared."""
    groups: list[list[int]] = []
    near = near or [""] * len(runs)
    for i, r in enumerate(runs):
        g = next(
            (g for g in groups if near[g[0]] == near[i] and not any(kinds[i] & kinds[j] for j in g)
             and same_run(runs[g[0]], r)),
            None,
        )  # fmt: skip
        if g is None:
            groups.append([i])
        else:
            g.append(i)
    return groups
