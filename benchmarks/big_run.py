"""Peak memory and time of diagnosing one very long run: ``--steps`` (10M) steps of
``train/loss`` in one TensorBoard event file.

    python benchmarks/big_run.py                 # 10,000,000 steps
    python benchmarks/big_run.py --steps 1000000 --dir /tmp/big

The event file is written vectorised (numpy; records grouped by the byte length of their
step's varint, CRCs by traindx's framing), 1M records at a time, so writing it needs
neither tensorboardX nor minutes. Then ``traindx diagnose`` of it runs in a fresh process
(``python -m traindx.cli diagnose --json``), and that process's peak resident memory
(the child's own ``ru_maxrss``) and wall time are printed beside the file's size, next to
a 150-step run's for the baseline (the interpreter, numpy, pydantic, the rulebook).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TAG = b"train/loss"


def _payloads(steps: np.ndarray, values: np.ndarray, wall: float) -> list[bytes]:
    """Event{wall_time, step, summary{value{tag, simple_value}}} of each point (steps > 0)."""
    value = bytes([0x0A, len(TAG)]) + TAG  # Value.tag; then 0x15 + float32
    summary_len = 2 + len(value) + 5
    lens = np.ones(steps.size, dtype=np.int64)
    for b in range(1, 10):
        lens[steps >= (1 << (7 * b))] = b + 1
    groups = []
    for ln in np.unique(lens).tolist():
        idx = np.flatnonzero(lens == ln)
        s = steps[idx].astype(np.uint64)
        width = 9 + 1 + ln + 2 + summary_len
        rec = np.zeros((idx.size, width), dtype=np.uint8)
        rec[:, 0] = 0x09
        rec[:, 1:9] = np.frombuffer(np.full(idx.size, wall, "<f8").tobytes(), np.uint8).reshape(-1, 8)
        rec[:, 9] = 0x10
        for i in range(ln):
            byte = (s >> np.uint64(7 * i)) & np.uint64(0x7F)
            rec[:, 10 + i] = byte.astype(np.uint8) | (0x80 if i < ln - 1 else 0)
        o = 10 + ln
        rec[:, o], rec[:, o + 1] = 0x2A, summary_len
        rec[:, o + 2], rec[:, o + 3] = 0x0A, len(value) + 5
        rec[:, o + 4 : o + 4 + len(value)] = np.frombuffer(value, np.uint8)
        rec[:, o + 4 + len(value)] = 0x15
        rec[:, o + 5 + len(value) :] = np.frombuffer(values[idx].astype("<f4").tobytes(), np.uint8).reshape(-1, 4)
        groups.append((idx, rec))
    rows: list[bytes | None] = [None] * steps.size
    for idx, rec in groups:
        for i, r in zip(idx.tolist(), rec, strict=True):
            rows[i] = r.tobytes()
    return rows  # type: ignore[return-value]


def write_big(logdir: Path, n: int, seed: int = 0) -> Path:
    from traindx.writers.tfevents import EventFileWriter, frame_records

    logdir.mkdir(parents=True, exist_ok=True)
    with EventFileWriter(logdir) as w:  # the file_version record
        path = Path(w.path)
    rng = np.random.default_rng(seed)
    with open(path, "ab") as f:
        for start in range(1, n + 1, 1_000_000):
            s = np.arange(start, min(start + 1_000_000, n + 1), dtype=np.int64)
            v = (2.3 * np.exp(-s / (n / 5)) + 0.1) * (1 + 0.05 * rng.standard_normal(s.size))
            f.write(frame_records(_payloads(s, v, 1.7e9)))
    return path


#: The child: `traindx diagnose --json PATH`, then its own peak RSS on stderr. (The child's
#: ru_maxrss seen from the parent would include the parent's pages at fork time.)
CHILD = (
    "import resource, sys\n"
    "from traindx.cli import main\n"
    "rc = main(['diagnose', '--json', sys.argv[1]])\n"
    "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "raise SystemExit(rc)\n"
)


def diagnose_peak(path: Path) -> tuple[float, float, int]:
    """(peak RSS MiB, seconds, exit code) of `traindx diagnose --json path` in a child."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t
    peak = [ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("PEAK ")]
    if proc.returncode not in (0, 1) or not peak:
        print(proc.stderr, file=sys.stderr)
        return float("nan"), dt, proc.returncode or 1
    return int(peak[0]) / 1024, dt, proc.returncode


def _existing(d: Path) -> Path | None:
    """The event file a previous run with the same --dir wrote there (reused)."""
    found = sorted(d.glob("events.out.tfevents.*")) if d.is_dir() else []
    return found[0] if found else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, help="write the files here, or reuse the ones a previous run wrote")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.dir or Path(tmp)
        small = _existing(base / "small") or write_big(base / "small", 150)
        t = time.perf_counter()
        big = _existing(base / "big")
        if big is None:
            big = write_big(base / "big", args.steps)
            print(f"wrote {args.steps:,} steps ({big.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
        p_small, t_small, _ = diagnose_peak(small.parent)
        p_big, t_big, rc = diagnose_peak(big.parent)
        print(f"150 steps:          peak RSS {p_small:7.0f} MiB, {t_small:6.1f} s")
        print(f"{args.steps:>10,} steps: peak RSS {p_big:7.0f} MiB, {t_big:6.1f} s (exit {rc})")
        print(f"per step beyond the baseline: {(p_big - p_small) * 2**20 / args.steps:.0f} bytes")
        return 0 if rc in (0, 1) else 1


if __name__ == "__main__":
    raise SystemExit(main())
