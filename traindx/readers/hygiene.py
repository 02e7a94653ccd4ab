"""What real log files carry besides metrics: Git LFS pointers, merge-conflict lines,
restarts appended to the same file. Each is detected here and reported as an input problem
(one line naming the file), never silently dropped or silently kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from traindx.ordering import order_points
from traindx.readers.raw import RawLog

LFS_HEADER = b"version https://git-lfs.github.com/spec/"
#: git's conflict markers: <<<<<<< ours, ||||||| base, =======, >>>>>>> theirs
CONFLICT_LINE = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(\s.*)?$")


def lfs_pointer(path: str | Path) -> str | None:
    """The reason to skip ``path`` when it is a Git LFS pointer instead of the file, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if not head.startswith(LFS_HEADER):
        return None
    size = re.search(rb"^size (\d+)", head, re.M)
    of = f" for a {int(size[1]):,}-byte file" if size else ""
    return f"Git LFS pointer{of}, not the file itself: run git lfs pull"


def describe_stray(
    src: str, conflict: list[int], stray: list[tuple[int, str]], headers: list[int]
) -> list[tuple[str, int, str]]:
    """(kind, count, message) problems for the lines of a table that are not rows."""
    out: list[tuple[str, int, str]] = []
    if conflict:
        at = ", ".join(map(str, conflict[:6])) + (", ..." if len(conflict) > 6 else "")
        says = "the rows of both sides of the unresolved merge were read"
        out.append(("corrupt", len(conflict), f"{src}: {len(conflict)} git merge-conflict marker line(s) skipped (lines {at}); {says}"))
    if headers:
        says = "a run appended to the file; the repeated header line(s) skipped"
        out.append(("note", len(headers), f"{src}:{headers[0]}: the header is repeated {len(headers)} time(s) ({says})"))
    if stray:
        line, text = stray[0]
        out.append(("corrupt", len(stray), f"{src}:{line}: {len(stray)} stray line(s) that are not table rows skipped (first: {text[:60]!r})"))
    return out


def report_restarts(log: RawLog) -> str | None:
    """A step or epoch column that goes back within one file: the run was restarted and its
    new log appended. The file is read as the resumed whole (later points replace earlier
    ones at the same or later steps, counted per series as ``superseded``); this says where,
    once per file. A series whose going back :func:`traindx.ordering.order_points` reads as
    something else (a per-epoch step counter, records out of write order) is no restart."""
    worst = None
    for raw in log.series:
        back = np.flatnonzero(np.diff(raw.steps) < 0)
        if not back.size or not order_points(raw.steps, raw.values, raw.wall_time, raw.unit).superseded:
            continue
        if worst is None or back.size > worst[0]:
            i = int(back[0])
            worst = (int(back.size), int(raw.steps[i]), int(raw.steps[i + 1]), raw.unit)
    if worst is None:
        return None
    n, before, after, unit = worst
    return (
        f"{log.path}: restarted {n} time(s) in one file ({unit} went back from {before} to {after}); "
        "read as the resumed whole: later points replace earlier ones from the restart on"
    )
