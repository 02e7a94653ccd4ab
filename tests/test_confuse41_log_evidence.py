"""Issue 10 (confuse41): evidence in the logs alone that tells apart causes the unseen record
confused, in general form, on synthetic runs.

* a training loss that fell, then repeated its value exactly (loss.frozen_tail in [0.5, 1)):
  updates applied at first and stopped part-way - an LR decayed to 0 (lr_schedule_bad), not a
  missing optimizer step (updates_not_applied), which leaves the loss frozen from the start.
"""

from __future__ import annotations

from traindx.api import diagnose
from traindx.rules.model import Case
from traindx.rules.testing import case_run


def _run(series: dict[str, str], units: dict[str, str] | None = None):
    case = Case(name="c", series=series, units=units or dict.fromkeys(series, "epoch"), fires=True)
    return diagnose(case_run(case))[0]


def _says(d, cause: str) -> list[str]:
    return [e.says for c in d.causes if c.id == cause for e in c.evidence]


def test_a_loss_that_fell_then_froze_exactly_reads_as_updates_that_stopped():
    d = _run({"loss": "2.3 2.25 2.2x18", "val/loss": "2.21x20"})
    assert any("updates stopped part-way" in s for s in _says(d, "lr_schedule_bad"))
    assert any("updates were applied at first" in s for s in _says(d, "updates_not_applied"))
    ids = [c.id for c in d.causes]
    assert ids.index("lr_schedule_bad") < ids.index("updates_not_applied")


def test_a_loss_frozen_from_the_start_is_not_read_as_a_schedule():
    d = _run({"loss": "2.2x20", "val/loss": "2.21x20"})
    assert not any("updates stopped part-way" in s for s in _says(d, "lr_schedule_bad"))
    assert d.causes[0].id == "updates_not_applied"


def test_a_loss_still_moving_at_the_end_is_not_frozen():
    d = _run({"loss": "2.3*0.999x20", "val/loss": "2.31*0.999x20"})
    assert not any("updates stopped part-way" in s for s in _says(d, "lr_schedule_bad"))
