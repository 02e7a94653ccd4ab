"""Fuzz campaign over every reader and the CLI: inputs tried, crashes, hangs, silent losses.

    python benchmarks/fuzz.py --minutes 10 [--readers tfevents,csv,jsonl,hf,cli] [--seed 0]
                              [--hang-seconds 10] [--save DIR]

Each reader gets ``--minutes`` of wall time. Inputs come from ``tests/fuzz_inputs.py`` (the
generators the hypothesis tests use, driven here by a seeded ``random.Random``): logs with a
known number of points in every step order real runs write, half of them then damaged
(flipped/changed/inserted bytes, truncation, cut or repeated spans, deep nesting, a bogus
record length with a valid length checksum). Per input:

* crash: any exception other than ``TraindxError`` (warnings are errors too); for ``cli``,
  ``traindx diagnose`` (text, ``--json``) or ``traindx series`` in turn exiting 3, printing
  a traceback, or an exception escaping ``main``;
* hang: one input taking over ``--hang-seconds`` (stopped by SIGALRM);
* silent loss: an undamaged log where points read + points counted as lost in
  ``ingest.problems`` differ from the points written; a log damaged in place (no bytes cut
  off) that reads fewer points with no problem, unmapped name or error reported; for
  ``cli``, unparsable ``--json``, an exit code other than 0/2, or a raw ESC printed.

Failing inputs are written to ``--save`` (default ``/tmp/traindx-fuzz``). Exit status 1 if
anything failed, so the campaign can gate a release. Run it ``nice``'d on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fuzz_inputs import GENERATORS, judge, judge_cli, make, write_tree  # noqa: E402

READERS = [*GENERATORS, "cli"]


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def _one(reader: str, rng: random.Random, work: Path, i: int) -> tuple[str, str, bytes | None]:
    """("ok" | "crash" | "hang" | "loss", detail, input bytes to save)."""
    if reader == "cli":
        root = work / f"t{i}" / "root"
        write_tree(rng, root)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            command = "series" if i % 3 == 2 else "diagnose"
            captured = lambda: (out.getvalue(), err.getvalue())  # noqa: E731
            verdict, detail = judge_cli(root, i % 3 == 1, captured, command)
        return ("loss" if verdict != "ok" else "ok"), detail, None
    case = make(reader, rng)
    verdict, detail = judge(case, work / f"c{i}")
    return verdict, detail, case.data


def campaign(reader: str, minutes: float, seed: int, hang_s: float, save: Path) -> dict:
    rng = random.Random(f"{seed}:{reader}")
    stats = {"reader": reader, "inputs": 0, "crashes": 0, "hangs": 0, "losses": 0, "first": ""}
    end = time.monotonic() + minutes * 60
    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{reader}-") as tmp:
        work = Path(tmp)
        i = 0
        while time.monotonic() < end:
            i += 1
            state = rng.getstate()
            data = None
            signal.setitimer(signal.ITIMER_REAL, hang_s)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    verdict, detail, data = _one(reader, rng, work, i)
            except Hang:
                verdict, detail = "hang", f"over {hang_s:g} s"
            except Exception as e:  # noqa: BLE001 - any escape is what we count
                tb = traceback.extract_tb(e.__traceback__)[-1]
                verdict = "crash"
                detail = f"{type(e).__name__}: {str(e)[:200]} at {tb.filename}:{tb.lineno}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            stats["inputs"] += 1
            if verdict != "ok":
                key = {"crash": "crashes", "hang": "hangs", "loss": "losses"}[verdict]
                stats[key] += 1
                stats["first"] = stats["first"] or f"{verdict}: {detail}"
                save.mkdir(parents=True, exist_ok=True)
                if data is not None:
                    (save / f"{reader}-{i}.bin").write_bytes(data)
                with open(save / f"{reader}.log", "a") as f:
                    f.write(f"input {i} (rng state {hash(state)}): {verdict}: {detail}\n")
            if i % 200 == 0:  # keep the temporary directory small
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir()
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0, help="wall time per reader")
    ap.add_argument("--readers", default=",".join(READERS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hang-seconds", type=float, default=10.0)
    ap.add_argument("--save", type=Path, default=Path(tempfile.gettempdir()) / "traindx-fuzz")
    args = ap.parse_args(argv)
    rows = []
    for reader in args.readers.split(","):
        t0 = time.monotonic()
        s = campaign(reader, args.minutes, args.seed, args.hang_seconds, args.save)
        s["seconds"] = time.monotonic() - t0
        rows.append(s)
        print(
            f"{reader:9} {s['inputs']:>8} inputs  {s['crashes']} crashes  {s['hangs']} hangs  "
            f"{s['losses']} silent losses  ({s['seconds']:.0f} s)",
            flush=True,
        )
    print("\n| reader | minutes | inputs tried | crashes | hangs | silent losses |")
    print("|---|---|---|---|---|---|")
    for s in rows:
        print(
            f"| {s['reader']} | {s['seconds'] / 60:.1f} | {s['inputs']} | {s['crashes']} | {s['hangs']} | {s['losses']} |"
        )
    bad = [s for s in rows if s["crashes"] or s["hangs"] or s["losses"]]
    for s in bad:
        print(f"{s['reader']}: first failure: {s['first']}  (inputs saved under {args.save})")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
