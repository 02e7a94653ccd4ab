"""``traindx watch LOGDIR``: follow runs while they train and say each new finding once.

Every ``interval`` seconds the tree under LOGDIR is listed (names, sizes, inodes); when
something changed, the files are read from where the last read stopped
(:class:`~traindx.readers.incremental.Follower`: appended bytes only), the runs are
re-diagnosed, and what is new since the last diagnosis is printed, one line each:

* the verdict, each time it changes (``insufficient_data`` -> ``healthy`` -> ``findings``);
* a symptom, the first time it fires in a run (with its severity and onset);
* the leading cause, the first time a cause leads a run (with its probability and first fix);
* an input problem of a new kind for a file (a truncated or replaced file, corrupt records).

A diagnosis is rate-limited: never more often than ``interval``, nor more often than twice
its own duration (a long run's diagnosis may take a second; the training is not slowed by
a watcher that re-reads everything). Runs, files and directories may appear at any time;
a directory that does not exist yet is waited for.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from traindx.diagnosis import SEVERITY_RANK, Diagnosis
from traindx.errors import TraindxError
from traindx.readers.incremental import Follower
from traindx.report.layout import Hang
from traindx.rules.model import Rulebook
from traindx.schema import Run
from traindx.textsafe import printable

#: Input problems said as they appear (the others are in ``traindx diagnose``'s report).
_SAID_PROBLEMS = ("truncated", "unreadable", "corrupt", "dropped")


@dataclass
class Watch:
    """Follow the runs under ``root``; :meth:`run` until told to stop."""

    root: Path
    book: Rulebook  # narrowed by --select/--ignore (traindx.config.select_rules)
    out: Console
    err: Console
    overrides: dict[str, str] | None = None
    interval: float = 2.0
    exit_on: str | None = None  # "warning" | "error": stop with exit 1 at that severity
    clock: Callable[[], float] = time.monotonic
    follower: Follower = field(default_factory=Follower)
    diagnoses: dict[str, Diagnosis] = field(default_factory=dict)  # run id -> latest
    said: set[tuple[str, ...]] = field(default_factory=set)
    rounds: int = 0  # diagnoses made
    found: bool = False  # some log was read
    _sig: frozenset | None = None
    _cost: float = 0.0
    _waiting: str | None = None

    def signature(self) -> frozenset:
        """Names, sizes, modification times and inodes of the files under the root."""
        out = []
        walk: Iterable[tuple[str, list[str], list[str]]]
        if self.root.is_file():
            walk = [(str(self.root.parent), [], [self.root.name])]
        else:
            walk = os.walk(self.root)
        for dirpath, dirnames, files in walk:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in files:
                try:
                    st = os.stat(os.path.join(dirpath, f))
                except OSError:
                    continue
                out.append((dirpath, f, st.st_size, st.st_mtime_ns, st.st_ino))
        return frozenset(out)

    def step(self) -> bool:
        """One look at the tree: re-diagnose if it changed. True when the watch should stop
        (a finding at or above ``exit_on``)."""
        sig = self.signature()
        if sig == self._sig:
            return False
        started = self.clock()
        from traindx.engine import diagnose_run
        from traindx.readers import read

        skipped: list = []
        try:
            runs = read(
                self.root, overrides=self.overrides, skipped=skipped, reader=self.follower.read
            )
        except TraindxError as e:  # nothing to read yet: wait, saying so once
            if str(e) != self._waiting:
                self._waiting = str(e)
                self.err.print(Hang("traindx: waiting: ", printable(str(e))), markup=False)
            self._sig = sig
            return False
        self._waiting = None
        self.found = True
        self.follower.forget_missing()
        self._sig = sig
        stop = False
        for run in runs:
            d = diagnose_run(run, self.book)
            prev, self.diagnoses[run.id] = self.diagnoses.get(run.id), d
            self._say(run, d, prev)
            sev = d.worst_severity
            if self.exit_on and sev and SEVERITY_RANK[sev] >= SEVERITY_RANK[self.exit_on]:
                stop = True
        self.rounds += 1
        self._cost = self.clock() - started
        return stop

    def _say(self, run: Run, d: Diagnosis, prev: Diagnosis | None) -> None:
        rid = printable(run.id)
        last = max(
            (int(s.steps[-1]) for s in run.series.values() if len(s) and s.unit == "step"),
            default=None,
        )
        where = (
            f"{time.strftime('%H:%M:%S')} {rid}" + (f" @{last}" if last is not None else "") + "  "
        )
        if prev is None or prev.verdict != d.verdict:
            self.out.print(Hang(where, _verdict(d), "bold"))
        for s in d.symptoms:
            if self._new("symptom", run.id, s.code):
                at = f" (from {s.onset_unit} {s.onset_step})" if s.onset_step is not None else ""
                self.out.print(Hang(where, f"{s.severity.upper()} {s.code} {s.summary}{at}"))
        top = d.top
        if d.verdict == "findings" and top is not None and self._new("cause", run.id, top.id):
            fix = f"; fix: {top.fixes[0].text}" if top.fixes else ""
            self.out.print(
                Hang(where, f"likely cause {top.id} {top.probability:.0%}: {top.summary}{fix}")
            )
        for p in d.ingest.problems:
            if p.kind in _SAID_PROBLEMS and self._new("input", run.id, p.kind, p.file or ""):
                self.out.print(Hang(where, f"input ({p.kind}): {printable(p.message)}", "yellow"))

    def _new(self, *key: str) -> bool:
        if key in self.said:
            return False
        self.said.add(key)
        return True

    def run(
        self, duration: float | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> int:
        """Watch until a finding reaches ``exit_on`` (returns 1), ``duration`` seconds have
        passed or Ctrl-C (returns 0; 2 if no log ever appeared)."""
        from traindx.cli import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK

        end = None if duration is None else self.clock() + duration
        code = None
        try:
            while code is None:
                if self.step():
                    code = EXIT_FINDINGS
                    break
                now = self.clock()
                if end is not None and now >= end:
                    break
                wait = max(self.interval, 2 * self._cost)
                sleep(max(0.0, min(wait, end - now) if end is not None else wait))
        except KeyboardInterrupt:
            self.err.print("traindx: stopped (Ctrl-C)", markup=False)
        self.summary()
        if code is not None:
            return code
        return EXIT_OK if self.found else EXIT_BAD_INPUT

    def summary(self) -> None:
        """The last verdict of each run, one line each (stderr, after the findings)."""
        if not self.found:
            self.err.print(
                Hang("traindx: ", f"no logs appeared under {printable(str(self.root))}"),
                markup=False,
            )
            return
        for rid, d in sorted(self.diagnoses.items()):
            self.err.print(
                Hang(f"traindx: {printable(rid)}: ", f"{d.verdict}: {printable(d.headline)}"),
                markup=False,
            )


def _verdict(d: Diagnosis) -> str:
    """``verdict: headline`` (the headline alone when it starts with the verdict)."""
    head = printable(d.headline)
    return head if head.startswith(d.verdict) else f"{d.verdict}: {head}"
