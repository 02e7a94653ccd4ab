"""One distributed job's per-rank logs read as one run with per-rank series.

Data-parallel jobs often log on every rank: torch DDP scripts give each rank its own
writer (``rank0/``, ``rank_1/`` folders, or rank-suffixed files such as
``metrics_rank1.csv`` or ``events...rank1``), JAX multi-host jobs one folder per
``process_index`` (``process_0/``, ``process_1/``). A folder of such rank folders, or a
folder of rank-suffixed files, is one run. The lowest rank's series are the run's main
series (``train/loss``); every other rank's are kept beside them with the rank in the
scope: ``train/loss@rank1``, ``train/grad_norm@fc1@rank1`` (facts across ranks:
:mod:`traindx.signals.ranks`). In such a job per-step timings (``data_time``,
``forward_time``, ``step_time``), bookkeeping elsewhere, are read as series too: a rank
slower than the others (a straggler) shows in them.
"""

from __future__ import annotations

import re
from pathlib import Path

from traindx.schema import SeriesKey

#: A folder of one rank: ``rank0``, ``rank_1``, ``rank-2``, ``process_0`` (JAX process_index).
RANK_DIR = re.compile(r"(?:rank|process)[_-]?(\d{1,5})", re.IGNORECASE)
#: A rank in a file name: ``metrics_rank1.csv``, ``events.out.tfevents.123.host.rank1``,
#: ``log.rank-0.jsonl``.
RANK_FILE = re.compile(r"(?:^|[._-])rank[_-]?(\d{1,5})(?=$|[._-])", re.IGNORECASE)
#: Per-step timings read as series in a multi-rank run only (elsewhere they are bookkeeping):
#: ``data_time``, ``forward_time``, ``step_time`` ... with an optional ``train/`` or ``train_``.
TIMING = re.compile(r"(?:train[/_])?((?:data|forward|step|iter|batch)_time)(?:_s|_sec)?", re.IGNORECASE)
#: The scope a rank's series get (alone, or after a layer name: ``fc1@rank1``).
RANK_SCOPE = re.compile(r"(?:^|.*@)rank(\d+)")


def is_rank_dir(name: str) -> bool:
    return RANK_DIR.fullmatch(name) is not None


def rank_of(path: Path, run_dir: Path) -> int | None:
    """The rank a file of the run in ``run_dir`` belongs to: its folder's (``rank1/``),
    else its name's (``metrics_rank1.csv``); None when neither says."""
    try:
        parts = path.relative_to(run_dir).parts
    except ValueError:
        parts = (path.name,)
    for part in parts[:-1]:
        m = RANK_DIR.fullmatch(part)
        if m:
            return int(m.group(1))
    m = RANK_FILE.search(path.name)
    return int(m.group(1)) if m else None


def rank_plan(run_dir: Path, files: list[Path]) -> tuple[dict[Path, int | None], int | None]:
    """Each file's rank and the main rank (the lowest); the main rank is None unless the
    files belong to two ranks or more (a single ``metrics_rank0.csv`` is a plain log)."""
    ranks = {f: rank_of(f, run_dir) for f in files}
    seen = {r for r in ranks.values() if r is not None}
    return ranks, (min(seen) if len(seen) >= 2 else None)


def rank_key(key: SeriesKey, rank: int | None, main: int | None) -> SeriesKey:
    """The key of a series logged by ``rank``: unchanged for the main rank (and files of no
    rank), the rank added to the scope for every other rank."""
    if main is None or rank is None or rank == main:
        return key
    scope = f"rank{rank}" if key.scope == "global" else f"{key.scope}@rank{rank}"
    return key.model_copy(update={"scope": scope})


def timing_key(name: str) -> SeriesKey | None:
    """The key of a per-step timing (``train/data_time``) of one rank's log; None otherwise."""
    m = TIMING.fullmatch(name.strip())
    return SeriesKey.model_construct(metric=m.group(1).lower()) if m else None


def is_rank_scope(scope: str) -> bool:
    return RANK_SCOPE.fullmatch(scope) is not None
