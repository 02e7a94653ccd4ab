"""What following a growing event file costs (``traindx watch``), against re-reading it.

Writes an event file of N scalars, follows it (readers/incremental.py), appends 1,000 more
records and times the follow-up read against a full re-read of the file. Exits 1 if the
follow-up read more than the appended bytes (plus one record) or was not faster.

    python benchmarks/watch_follow.py [N]      # default 200000
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from traindx.readers.incremental import EventTail
from traindx.readers.tfevents import read_event_file
from traindx.writers.tfevents import EventFileWriter


def main(n: int) -> int:
    with tempfile.TemporaryDirectory() as d:
        w = EventFileWriter(d)
        for i in range(n):
            w.add_scalar("loss", 1.0 / (i + 1), i)
        w.flush()
        path = next(Path(d).iterdir())
        tail = EventTail(path)
        t0 = time.perf_counter()
        tail.log()
        first = time.perf_counter() - t0
        size0, read0 = path.stat().st_size, tail.bytes_read
        for i in range(n, n + 1000):
            w.add_scalar("loss", 1.0 / (i + 1), i)
        w.close()
        t0 = time.perf_counter()
        got = tail.log()
        follow = time.perf_counter() - t0
        appended, read = path.stat().st_size - size0, tail.bytes_read - read0
        t0 = time.perf_counter()
        full = read_event_file(path)
        reread = time.perf_counter() - t0
    print(f"{size0 / 1e6:.1f} MB file of {n:,} scalars: first read {first:.3f} s; "
          f"+1,000 records ({appended:,} bytes): followed in {follow:.4f} s reading {read:,} bytes, "
          f"full re-read {reread:.3f} s")  # fmt: skip
    ok = got.series[0].steps.size == full.series[0].steps.size == n + 1000
    ok &= read <= appended + 64 and follow < reread
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000))
