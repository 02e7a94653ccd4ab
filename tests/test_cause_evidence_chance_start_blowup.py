"""A classifier's first loss at chance (ln k for a few classes) and a training loss that later
peaks 30x above it: the first logits were of a sane scale, so the blow-up came from the updates
(a step size far too large) and not from unscaled inputs, whose first logits are already huge
(qa_jax44 flax wine, Adam at lr 1.0: first raw loss 1.0 = ~ln 3, peak 2,864, recovered to 0.04;
read as inputs_not_normalized 54 % from the smoothed first point 107)."""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

FOR = "the loss starts at chance"
AGAINST = "the first loss"


def _blow_up(first: float) -> dict[str, np.ndarray]:
    loss = np.concatenate([[first], [300.0, 800.0, 400.0, 100.0, 30.0, 5.0], np.geomspace(1.0, 0.04, 23)])
    acc = np.concatenate([[0.4, 0.6, 0.7, 0.8], np.full(26, 0.97)])
    return {"train/loss": loss, "val/accuracy": acc}


def test_a_chance_start_that_blows_up_is_the_step_size():
    run = _run(_blow_up(1.1))
    assert _fired("lr_too_high", FOR, run) is True
    assert _fired("inputs_not_normalized", AGAINST, run) is True


def test_a_huge_first_loss_is_not_read_as_a_chance_start():
    """Unscaled inputs: the first loss is already in the hundreds."""
    run = _run(_blow_up(150.0))
    assert _fired("lr_too_high", FOR, run) is not True
    assert _fired("inputs_not_normalized", AGAINST, run) is not True


def test_a_chance_start_that_falls_is_not_a_blow_up():
    run = _run({"train/loss": np.geomspace(1.1, 0.05, 30), "val/accuracy": np.linspace(0.4, 0.97, 30)})
    assert _fired("lr_too_high", FOR, run) is not True
