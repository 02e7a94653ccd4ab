"""The share of its plan a run covers (signals/pick.py run.plan_done): below 1, something other
than the plan ended the run (issue 10)."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts
from traindx.signals.pick import plan_share


def _run(n_loss: int, epochs: int | None, spe: int | None, **ctx) -> Run:
    key = SeriesKey(metric="loss", split="train")
    s = Series(key=key, steps=np.arange(n_loss), values=np.linspace(2.3, 2.0, n_loss), unit="step")
    return Run(id="r", source="t", context=RunContext(epochs=epochs, steps_per_epoch=spe, **ctx), series={str(key): s})


def test_plan_share():
    run = _run(11, 8, 43)
    assert plan_share(run, next(iter(run.series.values()))) == pytest.approx(11 / 344, abs=1e-4)
    assert compute_facts(run)["run"]["plan_done"] == pytest.approx(0.032, abs=1e-3)
    assert "plan_done" not in compute_facts(_run(11, None, 43))["run"]  # no plan stated
    assert compute_facts(_run(86, 2, 43))["run"]["plan_done"] == pytest.approx(1.0)
