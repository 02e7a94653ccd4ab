"""Ingest benchmark: traindx's event-file reader against the usual ways to read TensorBoard logs.

    python benchmarks/ingest.py [--scalars N] [--repeat R] [--skip-slow]

Targets (what this script is for):

* a 1,000,000-scalar tensorboardX event file (10 tags) read in <= 1 s, with both TFRecord
  CRCs (length and data) checked on every record, on a 2-core machine;
* >= 20x faster than TensorBoard's ``EventAccumulator`` (keeping every sample);
* level with TensorBoard's Rust data server (``tensorboard_data_server``, ``--checksum``).

In one run it writes (once; cached under /tmp/traindx-bench, keyed by N) three files:

* ``tbx``:   tensorboardX ``SummaryWriter.add_scalar``, N scalars, 10 tags x N/10 steps
             (``simple_value`` summaries; takes minutes the first time);
* ``tf2``:   TensorFlow 2 ``tf.summary.scalar`` inside a ``tf.function``, N scalars, 10 tags
             (scalars as rank-0 float tensors with plugin metadata, as Keras writes them);
* ``tags``:  tensorboardX again, 1000 tags x N/1000 steps.

Then for each file it times, side by side: reading the raw bytes, traindx
(``read_event_file``), ``EventAccumulator`` with ``size_guidance={scalars: 0, tensors: 0}``,
``tbparse.SummaryReader`` and the Rust data server (its own "Finished load cycle" time from
``-v`` logging with ``--reload once --checksum --samples-per-plugin scalars=all``; the wall
time from process start to that line is shown too).  Best of ``--repeat`` (3) runs, best of
5 for raw reads and of 10 for traindx; readers that take over 20 s per run are timed once.
traindx's first read in a fresh process is timed too.  traindx's points and values are
cross-checked against EventAccumulator's, and ``python -c "import traindx"`` is timed in a
fresh interpreter.  The load average is printed: on a shared machine every reader slows.

The TF2 file's tags come out as ``while/train/metric_i`` (the summaries are written inside a
``tf.while_loop``, which adds its name scope); this does not change what is measured.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = Path("/tmp/traindx-bench")

# --------------------------------------------------------------------------- writing

_GEN_TBX = r"""
import sys, numpy as np
from tensorboardX import SummaryWriter
out, n, ntags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
steps = n // ntags
rng = np.random.default_rng(0)
tags = [f"train/metric_{i:04d}" if ntags > 10 else f"train/metric_{i}" for i in range(ntags)]
w = SummaryWriter(out, max_queue=100000, flush_secs=3600)
for s in range(steps):
    vals = rng.standard_normal(ntags).astype(np.float32).tolist()
    for t, v in zip(tags, vals):
        w.add_scalar(t, v, s)
w.close()
"""

_GEN_TF2 = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
out, n, ntags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
steps = n // ntags
w = tf.summary.create_file_writer(out, max_queue=100000, flush_millis=3600000)
tags = [f"train/metric_{i}" for i in range(ntags)]

@tf.function(autograph=False)  # autograph cannot see source given with -c
def run(steps):
    with w.as_default():
        def body(s):
            x = tf.cast(s, tf.float32) * 0.01
            ops = [tf.summary.scalar(t, tf.sin(x + i), step=s) for i, t in enumerate(tags)]
            with tf.control_dependencies(ops):
                return s + 1
        tf.while_loop(lambda s: s < steps, body, [tf.constant(0, tf.int64)], parallel_iterations=1)
    return 0

run(tf.constant(steps, tf.int64))
w.close()
"""


def _event_file(d: Path) -> Path | None:
    files = sorted(d.glob("*tfevents*")) if d.is_dir() else []
    return files[0] if files else None


def ensure_files(n: int) -> dict[str, Path]:
    """Write the benchmark files that are not cached yet (in parallel subprocesses)."""
    specs = {
        "tbx": ("tbx", _GEN_TBX, 10),
        "tf2": ("tf2", _GEN_TF2, 10),
        "tags": ("tags", _GEN_TBX, 1000),
    }
    out: dict[str, Path] = {}
    procs = []
    for key, (kind, code, ntags) in specs.items():
        d = CACHE / f"{kind}_{n}_{ntags}"
        done = d / ".complete"
        if done.exists() and _event_file(d):
            out[key] = _event_file(d)
            continue
        if d.exists():
            for f in d.iterdir():
                f.unlink()
        d.mkdir(parents=True, exist_ok=True)
        print(f"writing {d} ({n:,} scalars, {ntags} tags) ...", flush=True)
        p = subprocess.Popen([sys.executable, "-c", code, str(d), str(n), str(ntags)])
        procs.append((key, d, p, time.perf_counter()))
        if len(procs) >= 2:  # two cores
            _wait(procs.pop(0), out)
    for item in procs:
        _wait(item, out)
    return {k: out[k] for k in specs}


def _wait(item, out) -> None:
    key, d, p, t0 = item
    if p.wait() != 0:
        sys.exit(f"writing {d} failed (exit {p.returncode})")
    (d / ".complete").write_text("ok\n")
    out[key] = _event_file(d)
    print(f"  wrote {out[key]} in {time.perf_counter() - t0:.0f} s", flush=True)


# --------------------------------------------------------------------------- timing


def best_of(fn, repeat: int, slow_after: float = 20.0):
    """(best seconds, last result); stops repeating once a run takes over ``slow_after``."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        if dt > slow_after:
            break
    return best, result


def read_raw(path: Path) -> int:
    with open(path, "rb") as f:
        return len(f.read())


def read_traindx(path: Path):
    from traindx.readers.tfevents import read_event_file

    return read_event_file(path)


def read_event_accumulator(path: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(
        str(path), size_guidance={"scalars": 0, "tensors": 0, "histograms": 1, "images": 1}
    )
    ea.Reload()
    return ea


def ea_points(ea) -> dict[str, np.ndarray]:
    """tag -> values (float64) of what EventAccumulator kept: scalars and scalar tensors."""
    from tensorboard.util import tensor_util

    out = {}
    tags = ea.Tags()
    for tag in tags.get("scalars", []):
        out[tag] = (
            np.array([e.step for e in ea.Scalars(tag)]),
            np.array([e.value for e in ea.Scalars(tag)], dtype=np.float64),
        )
    for tag in tags.get("tensors", []):
        evs = ea.Tensors(tag)
        vals = [tensor_util.make_ndarray(e.tensor_proto) for e in evs]
        if all(v.size == 1 for v in vals):
            out[tag] = (
                np.array([e.step for e in evs]),
                np.array([float(v.reshape(-1)[0]) for v in vals]),
            )
    return out


def read_tbparse(path: Path):
    from tbparse import SummaryReader

    r = SummaryReader(str(path))
    df = r.scalars
    if len(df) == 0:
        df = r.tensors
    return df


def rust_server(path: Path, timeout: float = 600.0) -> tuple[float | None, float | None, str]:
    """Load ``path``'s directory once with the Rust data server; (its own load time, wall
    time from spawn until it reports the load finished, note)."""
    try:
        import tensorboard_data_server
    except ImportError:
        return None, None, "tensorboard_data_server not installed"
    binary = tensorboard_data_server.server_binary()
    if not binary:
        return None, None, "no server binary for this platform"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            binary, "--logdir", str(path.parent), "--reload", "once", "--checksum",
            "--samples-per-plugin", "scalars=all", "--port", "0",
            "--port-file", os.path.join(tmp, "port"), "-v",
        ]  # fmt: skip
        t0 = time.perf_counter()
        p = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        own = wall = None
        try:
            deadline = t0 + timeout
            for line in p.stderr:
                m = re.search(r"Finished load cycle \(([\d.]+)(m?s)\)", line)
                if m:
                    wall = time.perf_counter() - t0
                    own = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
                    break
                if time.perf_counter() > deadline:
                    break
        finally:
            p.kill()
            p.wait()
    return own, wall, "" if own is not None else "no 'Finished load cycle' line seen"


_FRESH = r"""
import sys, time
t0 = time.perf_counter()
from traindx.readers.tfevents import read_event_file
t1 = time.perf_counter()
read_event_file(sys.argv[1])
print(t1 - t0, time.perf_counter() - t1)
"""


def fresh_process(path: Path, repeat: int) -> float:
    """traindx's first read in a new interpreter (cold allocator, tables built): seconds,
    not counting the interpreter start and the import."""
    best = float("inf")
    for _ in range(repeat):
        r = subprocess.run(
            [sys.executable, "-c", _FRESH, str(path)],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        best = min(best, float(r.stdout.split()[1]))
    return best


def import_time(repeat: int = 5, module: str = "traindx") -> tuple[float, float]:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT)
        best = min(best, time.perf_counter() - t0)
    base = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, cwd=ROOT)
        base = min(base, time.perf_counter() - t0)
    return best, base


def cross_check(log, ea) -> str:
    """Compare traindx's series with EventAccumulator's: counts, steps and values."""
    ours = {s.name: s for s in log.series}
    theirs = ea_points(ea)
    if set(ours) != set(theirs):
        return f"MISMATCH: tags differ ({len(ours)} vs {len(theirs)})"
    npts = 0
    for tag, (steps, vals) in theirs.items():
        s = ours[tag]
        if (
            len(s.values) != len(vals)
            or not np.array_equal(s.steps, steps)
            or not np.array_equal(s.values, vals, equal_nan=True)
        ):
            return f"MISMATCH in {tag!r}: {len(s.values)} vs {len(vals)} points"
        npts += len(vals)
    return f"ok: {len(theirs)} tags, {npts:,} points, steps and values identical"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--scalars", type=int, default=1_000_000, help="scalars per file (default 1,000,000)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing (best is kept)")
    ap.add_argument("--skip-slow", action="store_true", help="skip EventAccumulator and tbparse")
    args = ap.parse_args()

    files = ensure_files(args.scalars)
    load_before = os.getloadavg()[0]
    # Warm the page cache and the imports so that every reader starts alike.
    for path in files.values():
        read_raw(path)
    read_traindx(files["tbx"])

    rows = []
    checks = []
    for key, path in files.items():
        size = path.stat().st_size
        t_raw, _ = best_of(lambda p=path: read_raw(p), 5)
        c0 = time.process_time()
        n_tdx = max(10, args.repeat)
        t_tdx, log = best_of(lambda p=path: read_traindx(p), n_tdx)
        cpu = (time.process_time() - c0) / n_tdx
        nrec = log.records
        npts = sum(len(s.values) for s in log.series)
        t_fresh = fresh_process(path, args.repeat)
        res = {
            "raw read": (t_raw, ""),
            "traindx": (t_tdx, f"{npts:,} points, CRC on; {cpu:.2f} s CPU per read (2 threads)"),
            "traindx 1st call": (t_fresh, "first read in a fresh process (import not counted)"),
        }
        if not args.skip_slow:
            t_ea, ea = best_of(lambda p=path: read_event_accumulator(p), args.repeat)
            res["EventAccumulator"] = (t_ea, "")
            checks.append((key, cross_check(log, ea)))
            del ea
            t_tb, df = best_of(lambda p=path: read_tbparse(p), args.repeat)
            res["tbparse"] = (t_tb, f"{len(df):,} rows")
            del df
        own_best = wall_best = None
        note = ""
        for _ in range(args.repeat):
            own, wall, note = rust_server(path)
            if own is None:
                break
            own_best = own if own_best is None else min(own_best, own)
            wall_best = wall if wall_best is None else min(wall_best, wall)
        if own_best is not None:
            res["rust data server"] = (own_best, f"own load time; {wall_best:.2f} s from spawn")
        else:
            res["rust data server"] = (None, f"not timed: {note}")
        for reader, (t, note) in res.items():
            rows.append((key, reader, t, nrec, size, t_tdx, note))

    print()
    print(
        f"{'file':5s} {'reader':18s} {'seconds':>9s} {'records/s':>12s} {'MB/s':>8s} {'x traindx':>10s}  note"
    )
    print("-" * 100)
    last = None
    for key, reader, t, nrec, size, t_tdx, note in rows:
        if last is not None and key != last:
            print()
        last = key
        if t is None:
            print(f"{key:5s} {reader:18s} {'-':>9s} {'-':>12s} {'-':>8s} {'-':>10s}  {note}")
            continue
        print(
            f"{key:5s} {reader:18s} {t:9.3f} {nrec / t:12,.0f} {size / t / 1e6:8.1f} {t / t_tdx:10.2f}  {note}"
        )
    print()
    for key, path in files.items():
        print(f"{key:5s} = {path} ({path.stat().st_size / 1e6:.1f} MB)")
    for key, msg in checks:
        print(f"cross-check {key}: traindx vs EventAccumulator: {msg}")
    print(
        f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs (other processes slow every reader alike)"
    )
    t_imp, t_base = import_time()
    print(f'python -c "import traindx": {t_imp:.3f} s (bare interpreter: {t_base:.3f} s)')
    t_rd, _ = import_time(module="traindx.readers.tfevents")
    print(f'python -c "import traindx.readers.tfevents": {t_rd:.3f} s (numpy included)')


if __name__ == "__main__":
    main()
