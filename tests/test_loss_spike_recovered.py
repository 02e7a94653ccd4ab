"""A loss spike the run recovers from is not an explosion (LOSS002 reads loss.explode_recovered):
fixed programs were flagged for it (issue 10: qa_real36's fixed Keras 4x500 ReLU run, lr_too_high 62 %)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.api import diagnose
from traindx.rules.series_dsl import parse_series
from traindx.signals.curve import curve_facts
from traindx.writers.tfevents import EventFileWriter


def _facts(text: str) -> dict[str, float | int | bool]:
    y = parse_series(text)
    return curve_facts(np.arange(y.size), y)


@pytest.mark.parametrize(
    ("series", "recovered"),
    [
        ("0.98 2.57 98.7 130.3 2.75 77.2 4.06 1.2 1.0*0.99x300 ~0.05", True),  # qa_real36's fixed 4x500 ReLU
        ("1.0x5 98.7 130.3 2.75 1.5x300 ~0.05", False),  # back down, but above its pre-spike level
        ("1.99 1039 87.6 62.2 3.57 32.0 3.95 4.86 3.78 2.41 1.65x300 ~0.05", False),  # back near its start only
        ("1.0x10 50x30 1.0*0.98x60", False),  # 30 % of the run above 10x: no spike
        ("1.0x5 98.7 130.3 1.0*0.99x100 98.7 130.3 0.5x10", False),  # explodes again later
        # lr 5: spikes at epochs 4-19, then jumps around above its start (lr_too_high_mlp_oscillate)
        ("2.31 2.4 2.31 2.08 23.2 560 3.06 3.72 3.98 4.4 3.98 5.89 4.9 181 33.7 5.09 8.39 54.6 6.35 68.6 7.04 2.21 "
         "8.47 12.3 2.8x200 ~0.05", False),
        ("2.3-0.01x20 *1.3x30", False),  # diverges to the end
    ],
)
def test_explode_recovered(series: str, recovered: bool) -> None:
    f = _facts(series)
    assert f["explode_step"] >= 0
    assert f["explode_recovered"] is recovered


def test_negative_loss_falling_further_is_no_explosion() -> None:
    # a loss that starts <= 0 and runs off to minus infinity grows in size, not upward: no
    # explosion (LOSS002 stays silent; LOSS006 reads a loss that keeps falling below zero)
    f = _facts("-1.0x5 *1.5x40")
    assert f["explode_step"] == -1
    assert f["explode_recovered"] is False


def test_no_explosion_is_not_a_recovery() -> None:
    assert _facts("2.3*0.98x200 ~0.05")["explode_recovered"] is False


def _write_loss(path: Path, values: list[float]) -> None:
    with EventFileWriter(path) as w:
        for i, v in enumerate(values):
            w.add_scalars({"train/loss": v}, step=i)


def test_a_recovered_early_spike_is_not_reported_as_an_explosion(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tail = list(1.0 * 0.99 ** np.arange(300) * np.exp(0.05 * rng.standard_normal(300)))
    _write_loss(tmp_path, [0.98, 2.57, 98.7, 130.3, 2.75, 77.2, 4.06, 1.2, *tail])
    codes = {s.code for s in diagnose(tmp_path)[0].symptoms}
    assert "LOSS002" not in codes


def test_a_spike_that_never_comes_back_down_is_still_an_explosion(tmp_path: Path) -> None:
    _write_loss(tmp_path, [1.0] * 5 + [20.0 * 1.2**i for i in range(40)])
    codes = {s.code for s in diagnose(tmp_path)[0].symptoms}
    assert "LOSS002" in codes
