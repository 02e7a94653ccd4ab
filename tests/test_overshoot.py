"""traindx.signals.overshoot: the marks an LR too large leaves on a loss curve (synthetic curves)."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.rules.series_dsl import parse_series
from traindx.schema import Run, Series, SeriesKey
from traindx.signals import compute_facts
from traindx.signals.curve import curve_facts
from traindx.signals.overshoot import overshoot_marks, which_marks


def marks(text: str, seed: int = 0) -> dict:
    y = parse_series(text, seed=seed)
    return overshoot_marks(curve_facts(np.arange(y.size), y))


@pytest.mark.parametrize(
    "curve",
    [
        "2.3x300 ~0.01",  # flat at ln(10): dead units, zero init, vanishing gradients
        "2.3-0.0005x300 ~0.005",  # crawling: a step far too small
        "0.693x40",  # flat per-epoch log, no noise at all
        "2.3*0.99x300 ~0.03",  # a smooth healthy descent has no marks either
    ],
)
def test_flat_and_smooth_curves_are_calm(curve):
    m = marks(curve)
    assert m["calm"] is True and m["overshoot"] == 0 and m["relapse"] is False


@pytest.mark.parametrize(
    "curve, mark",
    [
        ("2.3+0.05x100 ~0.02", "rises"),  # climbs from the start
        ("2x10 6x10 1.5x10 7x10 2x10 5x10 1x10 6x10 2x10 4x10 2x10 6x10", "swings"),
        ("1x30 9 1x30 9 1x30 9 1x30 9 1x30 ~0.02", "spikes"),
        ("2.3x200 ~0.6", "jitter"),  # point-to-point jumps of 60 % of the level
        ("2.3*0.98x50 nanx10", "nonfinite"),
        ("2.3-0.01x20 *1.3x30", "explodes"),
        ("2.3*0.8x10 2.2x90", "relapse"),  # fell early, then jumped back to a flat plateau
    ],
)
def test_overshooting_curves_show_their_mark(curve, mark):
    y = parse_series(curve, seed=0)
    f = curve_facts(np.arange(y.size), y)
    assert which_marks(f)[mark] is True
    m = overshoot_marks(f)
    assert m["calm"] is False and m["overshoot"] >= 1


def test_a_relapse_needs_a_plateau_and_an_early_best():
    assert marks("2.3*0.8x10 2.2x90")["relapse"] is True
    assert marks("2.3*0.8x10 2.2x90 ~0.3")["relapse"] is False  # no plateau: a noisy level
    assert marks("2.3-0.01x80 2.2x20")["relapse"] is False  # best late, no jump back


def test_too_short_to_judge_is_not_calm():
    m = marks("2.3 2.3 2.3 2.3 2.3")
    assert m["overshoot"] == 0 and m["calm"] is False


def test_no_shape_facts_gives_no_marks():
    assert overshoot_marks(curve_facts(np.arange(2), np.array([2.3, 2.2]))) == {}


def test_saturated_wrong_outputs_are_a_mark():
    """A loss flat at 16 nats per wrong answer (outputs one-hot and wrong) is not calm."""
    run = Run(id="saturated")
    steps = np.arange(30)
    for metric, value in (("loss", 14.4), ("accuracy", 0.107)):
        run.add(Series(key=SeriesKey(metric=metric, split="train"), steps=steps, values=np.full(30, value)))
    f = compute_facts(run)["loss"]
    assert f["per_error"] > 8.0 and f["calm"] is False and f["overshoot"] >= 1


def test_compute_facts_puts_the_marks_on_the_training_loss_only():
    run = Run(id="flat")
    y = parse_series("2.3x100 ~0.01")
    run.add(Series(key=SeriesKey(metric="loss", split="train"), steps=np.arange(100), values=y))
    run.add(Series(key=SeriesKey(metric="loss", split="val"), steps=np.arange(9, 100, 10), values=y[9::10]))
    facts = compute_facts(run)
    assert facts["loss"]["calm"] is True
    assert "calm" not in facts["val_loss"]


def _evidence(cause_id: str, facts: dict) -> list[str]:
    """The says-lines of a cause's rulebook evidence that hold on ``facts``."""
    from traindx.engine import evaluate
    from traindx.rules.loader import load_rulebook

    cause = load_rulebook().cause(cause_id)
    return [e.says for e in cause.evidence if evaluate(e.condition, facts)[0]]


def _facts(text: str, **more: str) -> dict:
    run = Run(id="x")
    y = parse_series(text)
    run.add(Series(key=SeriesKey(metric="loss", split="train"), steps=np.arange(y.size), values=y))
    for key, t in more.items():
        v = parse_series(t)
        run.add(Series(key=SeriesKey(metric=key, split="val"), steps=np.arange(v.size) * (y.size // v.size), values=v))
    return compute_facts(run)


def test_a_calm_flat_loss_weighs_against_lr_too_high():
    calm = [s for s in _evidence("lr_too_high", _facts("2.3x200 ~0.01")) if "marks an overshooting" in s]
    assert calm
    assert not [s for s in _evidence("lr_too_high", _facts("2.3x200 ~0.6")) if "marks an overshooting" in s]
    assert not [s for s in _evidence("lr_too_high", _facts("2.3*0.8x10 2.2x90")) if "marks an overshooting" in s]


def test_a_jumpy_climb_weighs_against_a_flipped_sign():
    """Gradient ascent climbs smoothly; a loss that climbs in jumps of more than half its
    level per step is an overshooting optimizer (fixtures/sweep/lr_bs/lr=0.3: SGD at 0.3)."""

    def jumpy(facts):
        return [s for s in _evidence("loss_sign_flipped", facts) if "climbs in jumps" in s]

    assert jumpy(_facts("2.3*1.1x150 ~0.8"))
    assert not jumpy(_facts("2.3+0.05x150 ~0.02"))  # a smooth climb: the sign is still in question
    assert not jumpy(_facts("2.3x150 ~0.8"))  # jumpy but not climbing
