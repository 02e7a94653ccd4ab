"""Write a diagnosis back into the run's logdir as a TensorBoard text summary.

``traindx diagnose PATH --write-tensorboard``: the run's Markdown report goes into a NEW event
file (``events.out.tfevents.<time>.<host>.traindx``; :class:`~traindx.writers.EventFileWriter`
opens it exclusively and never touches an existing file) under the tag ``traindx/diagnosis`` (``traindx/diagnosis/<run id>`` for a run read from one
file, which may share its folder with other runs),
at the onset step of the top symptom, so TensorBoard's Text tab shows it next to the curves.
The file holds no scalars: a later ``traindx diagnose`` of the logdir reads the same series.
"""

from __future__ import annotations

import os
from pathlib import Path

from traindx.diagnosis import Diagnosis, SymptomResult
from traindx.errors import TraindxError
from traindx.textsafe import printable

TAG = "traindx/diagnosis"


def top_symptom(d: Diagnosis) -> SymptomResult | None:
    """The symptom the report leads with that has an onset (most severe, then earliest)."""
    alarms = [s for s in d.symptoms if s.severity != "info"] or d.symptoms
    return next((s for s in alarms if s.onset_step is not None), None)


def logdir_of(d: Diagnosis) -> Path:
    """The directory the run was read from (a file's folder when the run is one file)."""
    if not d.source:
        raise TraindxError(f"{d.run_id}: --write-tensorboard: the run has no source directory")
    p = Path(d.source)
    return p if p.is_dir() else p.parent


def write_tensorboard(
    d: Diagnosis, logdir: str | os.PathLike[str] | None = None, *, step: int | None = None
) -> Path:
    """Write ``d`` as a text summary into a new event file under ``logdir`` (default: the
    run's own directory) at ``step`` (default: the onset of the top symptom, else 0).
    Returns the new file's path."""
    from traindx.report.markdown import render_run
    from traindx.writers.tfevents import EventFileWriter

    target = Path(logdir) if logdir is not None else logdir_of(d)
    # a run read from one file (a CSV among others) shares its folder: its own tag
    tag = f"{TAG}/{printable(d.run_id)}" if d.source and Path(d.source).is_file() else TAG
    sym = top_symptom(d)
    if step is None:
        step = sym.onset_step if sym is not None and sym.onset_step is not None else 0
    text = render_run(d, heading="##")
    if sym is not None and sym.onset_unit != "step":
        text += f"\n(written at the top symptom's onset, {sym.onset_unit} {sym.onset_step})\n"
    try:
        with EventFileWriter(target, filename_suffix="") as w:
            w.add_text(tag, text, step=int(step))
    except OSError as e:
        raise TraindxError(
            f"{target}: --write-tensorboard: cannot write an event file: {e.strerror or e}"
        ) from None
    return w.path
