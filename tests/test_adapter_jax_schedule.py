"""The JAX Recorder records a schedule's configured rate as ctx.lr - what the torch Monitor
(``initial_lr``) and the Keras callback (``initial_learning_rate`` / ``warmup_target``)
record - not the value a growing schedule reaches at the last step it was probed at."""

from __future__ import annotations

import json

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

from traindx.adapters.jax import Recorder  # noqa: E402

pytestmark = pytest.mark.jax


def _ctx_lr(tmp_path, **kw) -> float | None:
    params = {"params": {"Dense_0": {"kernel": np.ones((4, 3), np.float32), "bias": np.zeros(3, np.float32)}}}
    rec = Recorder(tmp_path, params=params, loss="softmax_cross_entropy_with_integer_labels", **kw)
    rec.close()
    return json.loads((tmp_path / "context.json").read_text())["optimizer"]["lr"]


@pytest.mark.parametrize("via", ["optimizer", "learning_rate"])
def test_a_growing_schedule_records_its_start(tmp_path, via):
    # exponential_decay with a rate above 1 (a sign slip: the LR grows every step) reaches
    # ~1e19 at the probes; the run configured 0.03 and its train/lr series shows the growth
    sched = optax.exponential_decay(0.03, 1, 1.01)
    kw = {"optimizer": optax.sgd(sched)} if via == "optimizer" else {"optimizer": optax.sgd(0.1), "learning_rate": sched}
    assert _ctx_lr(tmp_path, **kw) == pytest.approx(0.03)


def test_a_warm_up_records_its_peak_and_a_decay_its_start(tmp_path):
    warm = optax.warmup_cosine_decay_schedule(0.0, 2e-3, 50, 1000, 1e-5)
    assert _ctx_lr(tmp_path / "w", optimizer=optax.adam(warm)) == pytest.approx(2e-3)
    assert _ctx_lr(tmp_path / "c", optimizer=optax.adam(optax.cosine_decay_schedule(5e-3, 1000))) == pytest.approx(5e-3)
    # growing, then capped (end_value): it levels off within the probes - its top is the rate
    capped = optax.exponential_decay(1e-3, 10, 2.0, end_value=0.1)
    assert _ctx_lr(tmp_path / "e", optimizer=optax.sgd(capped)) == pytest.approx(0.1)
    assert _ctx_lr(tmp_path / "f", optimizer=optax.adam(3e-4)) == pytest.approx(3e-4)
