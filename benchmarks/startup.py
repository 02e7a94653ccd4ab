"""Start-up benchmark: how long a fresh ``traindx`` process takes, beside ``import numpy``.

    python benchmarks/startup.py [--repeat N] [--run PATH] [--check] [--against DIR]

Targets (issue 15): a cold ``traindx diagnose`` of a small run <= 0.3 s and ``traindx
--help`` <= 0.15 s. Every command runs in a fresh interpreter, interleaved round-robin so
that a busy machine slows them alike, ``--repeat`` times (9) after one warm-up round (which
writes the bytecode caches and the rulebook cache, as any installed copy has them). Shown
per command: the median wall time with its spread (min-max), the median CPU time of the
child (user + system, less sensitive to other jobs on a shared machine), and both as a
multiple of ``python -c "import numpy"`` measured the same way. "rulebook cache off" is
the same diagnose with ``TRAINDX_NO_CACHE=1``: what a first run (or a changed rule file)
costs. The rulebook cache of this benchmark lives in a temporary directory. ``--against
DIR`` adds the same diagnose run from another source tree (``git archive REV traindx
rulebook | tar -x -C DIR``), interleaved with the others: a before/after that a busy
machine slows alike.

``--check`` exits 1 when a target is missed, judged on the machine at hand: the median wall
time against the target scaled by how much slower than 0.1 s ``import numpy`` runs here
(numpy's import is about 0.1 s on an idle current x86 machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "fixtures" / "logs" / "tbx" / "healthy_mlp_wine"
NUMPY_IDLE = 0.1  # s: `python -c "import numpy"` on an idle current x86 machine
TARGETS = {"traindx --help": 0.15, "traindx diagnose RUN": 0.3}


def _once(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``cmd`` in a fresh process (in ``cwd``: ``-m`` imports from there)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--run", type=Path, default=RUN, help="the small run to diagnose")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--against", type=Path, help="also time diagnose from this source tree (holding traindx/, rulebook/)")
    args = ap.parse_args()
    py = sys.executable
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cache = tempfile.mkdtemp(prefix="traindx-startup-")
    env["TRAINDX_CACHE_DIR"] = cache
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cli = [py, "-m", "traindx.cli"]
    run = str(args.run.resolve())
    cmds: dict[str, tuple[list[str], dict[str, str], Path]] = {
        'python -c "import numpy"': ([py, "-c", "import numpy"], env, ROOT),
        "traindx --help": ([*cli, "--help"], env, ROOT),
        "traindx diagnose RUN": ([*cli, "diagnose", run], env, ROOT),
        "  (rulebook cache off)": ([*cli, "diagnose", run], {**env, "TRAINDX_NO_CACHE": "1"}, ROOT),
    }
    if args.against:  # run from that tree (``-m`` imports from the working directory first)
        other = args.against.resolve()
        other_env = {**env, "PYTHONPATH": str(other) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                     "TRAINDX_CACHE_DIR": tempfile.mkdtemp(prefix="traindx-startup-")}  # fmt: skip
        cmds["  (--against tree)"] = ([*cli, "diagnose", run], other_env, other)
    for cmd, e, cwd in cmds.values():  # warm-up: bytecode and rulebook caches written
        _once(cmd, e, cwd)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    for _ in range(args.repeat):
        for name, (cmd, e, cwd) in cmds.items():
            times[name].append(_once(cmd, e, cwd))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.repeat} runs each, interleaved; run: {args.run.relative_to(ROOT) if args.run.is_relative_to(ROOT) else args.run}")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(f"{'command':28s} {'wall median':>11s} {'(min-max)':>15s} {'x numpy':>8s} {'CPU median':>11s} {'x numpy':>8s}")
    base_wall = statistics.median(w for w, _ in times['python -c "import numpy"'])
    base_cpu = statistics.median(c for _, c in times['python -c "import numpy"'])
    missed = []
    for name, tc in times.items():
        walls, cpus = [w for w, _ in tc], [c for _, c in tc]
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(
            f"{name:28s} {wall:10.3f}s {f'({min(walls):.3f}-{max(walls):.3f})':>15s} "
            f"{wall / base_wall:7.2f}x {cpu:10.3f}s {cpu / base_cpu:7.2f}x"
        )
        if name in TARGETS:
            scaled = TARGETS[name] * max(1.0, base_wall / NUMPY_IDLE)
            if wall > scaled:
                missed.append(f"{name}: {wall:.3f} s > {TARGETS[name]} s target (scaled to this machine: {scaled:.3f} s)")
    for m in missed:
        print("MISSED", m)
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
