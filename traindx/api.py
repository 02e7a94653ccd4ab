"""The library API: ``read`` a path into runs, ``diagnose`` a run or a path."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from traindx.diagnosis import SEVERITY_RANK, Diagnosis
from traindx.errors import TraindxError
from traindx.lazymodel import Field, LazyModel, PrivateAttr, new_list
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Rulebook
from traindx.schema import Run, SkippedPath

PathLike = str | os.PathLike[str]


class Report(LazyModel):
    """Diagnoses of every run found under one or more paths (``--json`` prints this; the
    terminal report of it is ``traindx.render_text(report)``)."""

    runs: list[Diagnosis] = Field(default_factory=new_list)
    #: Files and directories under the paths that were not read, with the reason.
    skipped: list[SkippedPath] = Field(default_factory=new_list)
    #: Paths given that could not be read at all (the CLI exits 2 when there are any).
    errors: list[SkippedPath] = Field(default_factory=new_list)
    #: the Run of each diagnosis (same order as ``runs``) when asked for with ``keep_runs``
    _runs_read: list[Run] = PrivateAttr(default_factory=new_list)

    @property
    def read_runs(self) -> list[Run]:
        """The runs that were read (series and context), aligned with ``runs``; empty unless
        :func:`diagnose_all` was called with ``keep_runs=True`` (the HTML report plots them)."""
        return self._runs_read

    @property
    def healthy(self) -> bool:
        return all(d.healthy for d in self.runs)

    def worst(self) -> str | None:
        sev = [d.worst_severity for d in self.runs if d.worst_severity]
        return max(sev, key=SEVERITY_RANK.__getitem__) if sev else None

    def __iter__(self) -> Iterator[Diagnosis]:  # type: ignore[override]
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, i: int) -> Diagnosis:
        return self.runs[i]

    def to_json(self, **kw: object) -> str:
        return self.model_dump_json(**kw)


def read(
    path: PathLike,
    *,
    overrides: dict[str, str] | None = None,
    skipped: list[SkippedPath] | None = None,
) -> list[Run]:
    """Every run under ``path``: a TensorBoard logdir tree, an event file, a CSV or JSONL log.

    Files and directories under ``path`` that were not read go to ``skipped`` (when given).
    """
    from traindx.readers import read as _read

    return _read(path, overrides=overrides, skipped=skipped)


def _book(rulebook: Rulebook | Sequence[PathLike] | None, override_shipped: bool = False, learned: bool = True) -> Rulebook:
    if isinstance(rulebook, Rulebook):
        book = rulebook
    else:
        book = load_rulebook([Path(p) for p in rulebook or []], override_shipped=override_shipped)
    # learned=False: the rules' ranking alone (the learned layer off), to compare
    return book if learned or not book.learned else book.model_copy(update={"learned": False})


def diagnose(
    source: Run | PathLike,
    *,
    rulebook: Rulebook | Sequence[PathLike] | None = None,
    overrides: dict[str, str] | None = None,
    override_shipped: bool = False,
    keep_runs: bool = False,
    learned: bool = True,
) -> Report:
    """Diagnose a :class:`Run`, or every run under a path: always a :class:`Report`.

    The report is iterable over its runs' :class:`Diagnosis` (``report[0]`` for a single
    run) and says what under the path was not read (``skipped``). ``rulebook`` adds rule
    directories/files to the shipped rules (or is a loaded one); a user rule with the code
    or cause id of a shipped one is an error unless ``override_shipped`` is true. A path
    that cannot be read raises :class:`~traindx.errors.ReadError`. ``learned=False`` ranks
    with the rules alone (no learned layer; see traindx/rerank.py).
    """
    from traindx.engine import diagnose_run

    book = _book(rulebook, override_shipped, learned)
    runs = [source] if isinstance(source, Run) else None
    report = Report.model_construct()
    if runs is None:
        runs = read(source, overrides=overrides, skipped=report.skipped)  # type: ignore[arg-type]
    report.runs.extend(diagnose_run(r, book) for r in runs)
    if keep_runs:  # ``keep_runs``: the runs stay in ``Report.read_runs`` (for plots)
        report._runs_read.extend(runs)
    return report


def diagnose_all(
    paths: Sequence[PathLike],
    *,
    rulebook: Rulebook | Sequence[PathLike] | None = None,
    overrides: dict[str, str] | None = None,
    override_shipped: bool = False,
    keep_runs: bool = False,
    progress: Callable[[str], None] | None = None,
    learned: bool = True,
) -> Report:
    """Diagnose every run under every path; always a :class:`Report`.

    A path that cannot be read at all goes to ``Report.errors``; the other paths are
    diagnosed. What was skipped under the paths goes to ``Report.skipped``. With
    ``keep_runs`` the runs read stay in ``Report.read_runs`` (for plots). ``progress`` is
    told what is being done (the CLI's progress line).
    """
    from traindx.engine import diagnose_run

    book = _book(rulebook, override_shipped, learned)
    report = Report.model_construct()
    say = progress or (lambda what: None)
    for p in paths:
        say(f"reading {p}")
        try:
            runs = read(p, overrides=overrides, skipped=report.skipped)
        except TraindxError as err:
            report.errors.append(SkippedPath.model_construct(path=str(p), reason=str(err)))
            continue
        for i, r in enumerate(runs, 1):
            say(f"diagnosing {r.id} ({i}/{len(runs)})")
            report.runs.append(diagnose_run(r, book))
        if keep_runs:
            report._runs_read.extend(runs)
    return report
