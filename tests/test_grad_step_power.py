"""The gradient norm's growth with the step count (traindx.signals.growth.step_power) and
GRAD010, which reads it: a sum of every gradient so far (gradients never reset) grows as a
power ~1 of the steps summed, an exploding gradient by a factor per step. Synthetic runs
through the rule cases' harness; the ranking moves to grad_not_zeroed on a JAX run only
where the norm grows so."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run
from traindx.signals.growth import MIN_POINTS, step_power

BOOK = load_rulebook()
STEPS = np.arange(0, 600, 10)


def test_a_running_sum_grows_as_the_first_power_of_the_steps():
    f = step_power(STEPS, 0.3 * (STEPS + 1.0))
    assert f["step_power"] == pytest.approx(1.0, abs=0.05)
    assert f["step_power_fit"] > 0.99
    assert f["step_power_fit"] > f["exp_fit"]


def test_a_random_walk_sum_grows_as_its_square_root():
    f = step_power(STEPS, np.sqrt(STEPS + 1.0))
    assert f["step_power"] == pytest.approx(0.5, abs=0.05)
    assert f["step_power_fit"] > 0.99


def test_growth_by_a_factor_per_step_fits_the_exponential_better():
    f = step_power(STEPS, 1.05 ** np.arange(STEPS.size))
    assert f["exp_fit"] == pytest.approx(1.0)
    assert f["exp_fit"] > f["step_power_fit"]


def test_nonfinite_and_nonpositive_values_are_left_out():
    v = 2.0 * (STEPS + 1.0)
    v[[3, 7]] = np.nan
    v[5] = 0.0
    assert step_power(STEPS, v)["step_power"] == pytest.approx(1.0, abs=0.05)


def test_too_few_points_or_a_constant_series_say_nothing():
    assert step_power(STEPS[: MIN_POINTS - 1], np.ones(MIN_POINTS - 1)) == {}
    assert step_power(STEPS, np.full(STEPS.size, 3.0)) == {"step_power": 0.0, "step_power_fit": 0.0, "exp_fit": 0.0}


def test_steps_out_of_order_say_nothing():
    assert step_power(STEPS[::-1], STEPS + 1.0) == {}


JAX = {"framework": "jax", "optimizer": {"name": "sgd", "lr": 0.05}, "data": {"num_classes": 10}}


def _ranked(series: dict[str, str]) -> tuple[list[str], set[str]]:
    run = case_run(Case(name="r", series=series, context=JAX, fires=True))
    d = diagnose_run(run, BOOK)
    return [c.id for c in d.causes], {s.code for s in d.symptoms}


def test_a_jax_loop_whose_gradient_grows_with_the_step_count_reads_as_accumulation():
    # a hand-written accumulator never zeroed: the norm grows in step with the steps summed,
    # the loss first falls a little, then climbs
    order, fired = _ranked({"grad_norm": "0.5+0.5x60", "loss": "2.3*0.99x20 1.9*1.03x40"})
    assert "GRAD010" in fired
    assert order[0] == "grad_not_zeroed", order


def test_a_gradient_that_grew_and_settled_is_no_accumulation():
    # a net leaving a flat start: the norm rises over the first half, then stays (tail_tau ~0)
    _, fired = _ranked({"grad_norm": "0.5+0.5x30 15x30 ~0.05", "loss": "2.3*0.99x20 1.9*1.03x40"})
    assert "GRAD010" not in fired


def test_the_same_run_with_a_gradient_that_explodes_does_not():
    order, fired = _ranked({"grad_norm": "0.5*1.12x60", "loss": "2.3*0.99x20 1.9*1.03x40"})
    assert "GRAD010" not in fired
    assert order[0] != "grad_not_zeroed", order
