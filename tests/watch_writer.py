"""A training run's loggers for tests/test_watch.py, run as a separate process while
``traindx watch`` follows LOGDIR. ``python tests/watch_writer.py LOGDIR``

1. ``LOGDIR/tb``: tensorboardX scalars of a run whose loss falls, 60 steps; then it waits
   for ``LOGDIR/.go1`` (the test creates it once the watch has judged this part).
2. ``LOGDIR/csv_run/metrics.csv`` appears, row by row; once ``LOGDIR/.go_trunc`` exists
   the CSV logger restarts: the file is truncated and written again from its header.
   Waits for ``LOGDIR/.go2``.
3. The tensorboardX writer restarts into a new event file (rotation) and the loss
   explodes to NaN.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from tensorboardX import SummaryWriter


def wait_for(p: Path, limit: float = 120.0) -> None:
    end = time.monotonic() + limit
    while not p.exists():
        if time.monotonic() > end:
            sys.exit(f"watch_writer: {p} never appeared")
        time.sleep(0.05)


def main(logdir: Path) -> None:
    tb = logdir / "tb"
    w = SummaryWriter(str(tb), filename_suffix=".part1")
    for step in range(60):
        w.add_scalar("train/loss", 2.3 * 0.97**step + 0.01 * math.sin(step), step)
        if step % 10 == 9:
            w.flush()
            time.sleep(0.05)
    w.close()
    wait_for(logdir / ".go1")

    csv = logdir / "csv_run" / "metrics.csv"
    csv.parent.mkdir()
    with open(csv, "w") as f:
        f.write("epoch,loss,val_loss\n")
        for e in range(12):
            f.write(f"{e},{2.0 * 0.9**e:.4f},{2.1 * 0.91**e:.4f}\n")
            f.flush()
            time.sleep(0.02)
    wait_for(logdir / ".go_trunc")  # the watch has read all 12 rows
    with open(csv, "w") as f:  # the logger restarted: truncated, written again
        f.write("epoch,loss,val_loss\n")
        for e in range(5):
            f.write(f"{e},{2.0 * 0.9**e:.4f},{2.1 * 0.91**e:.4f}\n")
    wait_for(logdir / ".go2")

    w = SummaryWriter(str(tb), filename_suffix=".part2")
    for step in range(60, 100):
        loss = 2.3 * 0.97**60 * 10 ** ((step - 60) / 3) if step < 90 else float("nan")
        w.add_scalar("train/loss", loss, step)
        if step % 5 == 4:
            w.flush()
            time.sleep(0.05)
    w.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
