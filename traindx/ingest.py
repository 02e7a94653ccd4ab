"""What reading a run cost or changed: problems met (with counts), paths skipped, names not
mapped (:class:`IngestReport`). Nothing a reader drops goes uncounted; re-exported by
:mod:`traindx.schema`."""

from __future__ import annotations

from traindx.lazymodel import Field, LazyModel, new_list

#: Kinds of :class:`IngestProblem` (a reader may add its own; these are the shared ones).
PROBLEM_KINDS: dict[str, str] = {
    "corrupt": "records, lines or cells that could not be decoded; skipped (count: how many)",
    "superseded": "points replaced by later writes at the same or an earlier step (a resumed "
    "run: TensorBoard's 'later writes supersede'); count: points replaced",
    "reordered": "points written out of step order, put back in order (nothing lost)",
    "renumbered": "points whose steps were constant or restarted every epoch, numbered by "
    "record order (nothing lost)",
    "dropped": "points that could not be placed (no x value, step out of range); count: points",
    "incomplete": "the last line or record is still being written; not read, not damage",
    "unreadable": "a file that could not be read at all; the rest of the run was read",
    "skipped": "a column or key that is not a metric (not numeric, extra fields); not read",
    "note": "anything else worth knowing about how the input was read",
}
#: Kinds whose ``count`` is data that did not reach the series.
LOSS_KINDS = frozenset({"corrupt", "superseded", "dropped"})


class IngestProblem(LazyModel):
    """One thing reading a run's files cost or changed, with how many points or records.

    ``message`` is one printable line that names the file (and line or byte) itself;
    ``str(problem)`` is the message.
    """

    kind: str
    file: str = ""
    count: int = 0
    message: str

    def __str__(self) -> str:
        return self.message


class SkippedPath(LazyModel):
    """A file or directory under the paths given that was not read, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class IngestReport(LazyModel):
    """What reading cost: files read, records dropped, problems met, names not mapped."""

    files: list[str] = Field(default_factory=new_list)
    records: int = 0
    dropped_records: int = 0
    problems: list[IngestProblem] = Field(default_factory=new_list)
    unmapped: list[str] = Field(default_factory=new_list)

    def add(self, kind: str, message: str, *, file: str = "", count: int = 0) -> IngestProblem:
        """Record a problem (``kind`` one of :data:`PROBLEM_KINDS` or a reader's own)."""
        p = IngestProblem.model_construct(kind=str(kind), file=str(file), count=int(count), message=str(message))
        self.problems.append(p)
        return p

    def lost(self) -> int:
        """Points or records that did not reach the series (counted, never silent)."""
        return sum(p.count for p in self.problems if p.kind in LOSS_KINDS)
