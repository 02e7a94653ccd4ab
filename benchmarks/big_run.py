"""Peak memory and time of diagnosing very long runs: ``--steps`` (1M and 10M) steps of
``train/loss`` in one TensorBoard event file each, on this tree and on ``--before`` trees.

    python benchmarks/big_run.py                               # 1M and 10M steps, this tree
    python benchmarks/big_run.py --before 1216fb9 --alternative 1000000 --dir /tmp/big

The event files are written vectorised (numpy; records grouped by the byte length of their
step's varint, CRCs by traindx's framing), 1M records at a time, so writing one needs
neither tensorboardX nor minutes (``--dir`` keeps them for the next run). Then
``traindx diagnose --json`` of each runs in a fresh process per tree, and that process's
peak resident memory (``VmHWM`` of /proc/self/status, which, unlike ``ru_maxrss``, does not
carry over the parent's peak across fork and exec) and wall time are printed side by side,
next to a 150-step run's (the interpreter, numpy, pydantic, the rulebook).

``--before REF``: the same in a detached git worktree of REF (a commit before reading was
streamed: 1216fb9), and the diagnoses of both trees compared (verdict, headline, symptoms,
causes and their probabilities, ingest report): exit 1 if they differ on any file. ``--alternative N``: TensorBoard's own ``EventAccumulator`` (every scalar kept,
``size_guidance`` 0) loading the files of at most N steps, for scale (it decodes protos one
by one in Python). ``--timeout`` bounds each child.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


#: The child: `traindx diagnose --json PATH` (its JSON on stdout), then its own peak RSS
#: (VmHWM: this process's, not the parent's at fork time) on stderr.
CHILD = (
    "import sys\n"
    "from traindx.cli import main\n"
    "rc = main(['diagnose', '--json', sys.argv[1]])\n"
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
    "print('PEAK', hwm[0], file=sys.stderr)\n"
    "raise SystemExit(rc)\n"
)
#: TensorBoard's EventAccumulator keeping every scalar (the plain alternative).
ALTERNATIVE = (
    "import sys\n"
    "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
    "ea = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0})\n"
    "ea.Reload()\n"
    "n = sum(len(ea.Scalars(t)) for t in ea.Tags()['scalars'])\n"
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
    "print(n)\n"
    "print('PEAK', hwm[0], file=sys.stderr)\n"
)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def child_peak(code: str, path: Path, tree: Path, timeout: float) -> tuple[float, float, float, int, str]:
    """(peak RSS MiB, seconds, CPU seconds, exit code, stdout) of ``code`` run on ``path``
    with ``tree``'s traindx first on the path (CPU seconds: less moved by a busy machine)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    t, c = time.perf_counter(), _children_cpu()
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(path)], cwd=tree, env=env,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return float("nan"), time.perf_counter() - t, float("nan"), 124, ""
    dt, cpu = time.perf_counter() - t, _children_cpu() - c
    peak = [ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("PEAK ")]
    if proc.returncode not in (0, 1) or not peak:
        print(proc.stderr[-2000:], file=sys.stderr)
        return float("nan"), dt, cpu, proc.returncode or 1, proc.stdout
    return int(peak[0]) / 1024, dt, cpu, proc.returncode, proc.stdout


def _existing(d: Path) -> Path | None:
    """The event file a previous run with the same --dir wrote there (reused)."""
    found = sorted(d.glob("events.out.tfevents.*")) if d.is_dir() else []
    return found[0] if found else None


#: What a diagnosis says (rules added to a later tree change ``not_evaluated``, and fields
#: added since REF are not there to compare).
_COMPARED = ("verdict", "healthy", "headline", "missing", "symptoms", "causes",
             "unknown_probability", "confusable", "ingest")  # fmt: skip


def _same_diagnosis(a: str, b: str) -> bool:
    """The two trees' ``diagnose --json`` agree on :data:`_COMPARED`."""
    def norm(text: str):
        runs = json.loads(text)["runs"]
        return json.dumps([{k: r.get(k) for k in _COMPARED} for r in runs], sort_keys=True)
    try:
        return norm(a) == norm(b)
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", default="1000000,10000000", help="comma-separated run lengths")
    ap.add_argument("--dir", type=Path, help="write the files here, or reuse the ones a previous run wrote")
    ap.add_argument("--before", action="append", default=[], help="a git ref to measure beside this tree")
    ap.add_argument("--alternative", type=int, default=0, help="EventAccumulator on files of at most this many steps")
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.steps.split(",") if x]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        base = args.dir or Path(tmp)
        files = {150: _existing(base / "small") or write_big(base / "small", 150)}
        for n in sizes:
            t = time.perf_counter()
            files[n] = _existing(base / f"big{n}")
            if files[n] is None:
                files[n] = write_big(base / f"big{n}", n)
                print(f"wrote {n:,} steps ({files[n].stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
        trees = [("this tree", ROOT)]
        for ref in args.before:
            wt = Path(tmp) / f"before-{len(trees)}"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), ref],
                           check=True, capture_output=True)  # fmt: skip
            trees.append((f"at {ref}", wt))
        try:
            outs: dict[tuple[str, int], str] = {}
            print(f"{'steps':>11} {'MiB':>6} {'tree':<16} {'peak RSS MiB':>12} {'seconds':>8} {'CPU s':>7}")
            for n, f in files.items():
                size = f.stat().st_size / 2**20
                for label, tree in trees:
                    peak, dt, cpu, rc, out = child_peak(CHILD, f.parent, tree, args.timeout)
                    outs[(label, n)] = out
                    ok &= rc in (0, 1)
                    print(f"{n:>11,} {size:>6.0f} {label:<16} {peak:>12.0f} {dt:>8.1f} {cpu:>7.1f}" + ("" if rc in (0, 1) else f"  (exit {rc})"), flush=True)
                if n <= args.alternative:
                    peak, dt, cpu, rc, out = child_peak(ALTERNATIVE, f.parent, ROOT, args.timeout)
                    got = out.strip() or "?"
                    print(f"{n:>11,} {size:>6.0f} {'EventAccumulator':<16} {peak:>12.0f} {dt:>8.1f} {cpu:>7.1f}  ({got} scalars" + ("" if rc == 0 else f", exit {rc}") + ")", flush=True)
                for label, _ in trees[1:]:
                    if not _same_diagnosis(outs[(trees[0][0], n)], outs[(label, n)]):
                        ok = False
                        print(f"{n:>11,} DIFFERENT diagnosis {label} vs this tree")
        finally:
            for _label, tree in trees[1:]:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
                shutil.rmtree(tree, ignore_errors=True)
        if len(trees) > 1:
            print("diagnoses: " + ("the same on every file" if ok else "DIFFERENT (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
