"""The cadence's fixed cost model (``TRAINDX_CADENCE_COSTS``): reproducible recordings of the
DEFAULT adaptive cadence. Fed a cost model, the same adaptive rule makes the same decisions
whatever the wall-clock timings; without it (what users get) it still adapts to them."""

from __future__ import annotations

import pytest

from traindx.adapters._common.cadence import COSTS_ENV, Cadence, cost_model

COSTS = "step=2e-3,own=5e-5,grad=1e-4,extra=2e-3,sample=5e-4"


def _drive(cad: Cadence, interval: float, own: float, grad: float, tel_cost: float,
           steps: int = 1500) -> list[tuple[int, int, int, str]]:
    """A torch-like loop: what the adapter does each step (telemetry, coverage sample, the
    gradient norm every ``grad_stride`` steps) as the cadence decides, with these wall-clock
    costs. Returns the decisions: (step, kind, every, grad_stride) of every non-ordinary step."""
    t, total, seen = 0.0, 0.0, []
    for s in range(steps):
        tel = s == cad.next
        sample = not tel and cad.sample_due(s)
        g = grad if tel or sample or s % cad.grad_stride == 0 else 0.0
        d = own + g + (tel_cost if tel else 0.0) + (tel_cost / 4 if sample else 0.0)
        if sample:
            cad.sampled(s)
            seen.append((s, "sample", cad.every, cad.grad_stride))
        if tel:
            cad.advance(s, total + d)
            seen.append((s, "telemetry", cad.every, cad.grad_stride))
        total += d
        cad.record(t, d, g)
        t += interval + d
    return seen


def test_no_cost_model_by_default(monkeypatch):
    monkeypatch.delenv(COSTS_ENV, raising=False)
    assert cost_model() is None
    assert Cadence(None).costs is None


def test_cost_model_parses_and_rejects_malformed_values(monkeypatch):
    monkeypatch.setenv(COSTS_ENV, COSTS)
    assert cost_model() == {"step": 2e-3, "own": 5e-5, "grad": 1e-4, "extra": 2e-3, "sample": 5e-4}
    assert Cadence(None).costs is not None
    assert Cadence(20).costs is None  # a fixed cadence measures nothing
    for bad in ("step=2e-3", "step=0,own=0,grad=0,extra=0,sample=0", "step=x,own=0,grad=0,extra=0,sample=0",
                "step=1,own=-1,grad=0,extra=0,sample=0", "garbage"):
        monkeypatch.setenv(COSTS_ENV, bad)
        with pytest.raises(ValueError, match=COSTS_ENV):
            cost_model()


def test_cost_model_makes_the_default_cadence_repeat_under_any_load(monkeypatch):
    monkeypatch.setenv(COSTS_ENV, COSTS)
    quiet = _drive(Cadence(None), interval=2e-3, own=5e-5, grad=1e-4, tel_cost=2e-3)
    loaded = _drive(Cadence(None), interval=9e-3, own=4e-4, grad=2e-5, tel_cost=3e-2)
    assert quiet == loaded
    # still the adaptive rule: telemetry at 0 and 10, then sparser, coverage samples between
    tel = [s for s, k, *_ in quiet if k == "telemetry"]
    assert tel[:2] == [0, 10] and tel[2] - tel[1] > 10
    assert sum(k == "sample" for _, k, *_ in quiet) >= 32
    assert quiet[-1][3] > 1  # the gradient-norm stride adapted too


def test_without_the_cost_model_the_default_still_adapts_to_wall_clock(monkeypatch):
    monkeypatch.delenv(COSTS_ENV, raising=False)
    cheap = _drive(Cadence(None), interval=2e-2, own=5e-6, grad=5e-6, tel_cost=1e-4)
    dear = _drive(Cadence(None), interval=1e-3, own=5e-6, grad=5e-6, tel_cost=5e-3)
    assert cheap != dear
    assert cheap[-1][2] < dear[-1][2]  # a costlier telemetry step: rarer telemetry


def test_cost_model_overhead_is_called_modelled(monkeypatch):
    monkeypatch.setenv(COSTS_ENV, COSTS)
    cad = Cadence(None)
    _drive(cad, interval=2e-3, own=5e-5, grad=1e-4, tel_cost=2e-3, steps=50)
    assert "modelled overhead" in cad.note(50)
    monkeypatch.delenv(COSTS_ENV)
    cad = Cadence(None)
    _drive(cad, interval=2e-3, own=5e-5, grad=1e-4, tel_cost=2e-3, steps=50)
    assert "measured overhead" in cad.note(50)
