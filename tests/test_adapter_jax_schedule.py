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


@pytest.mark.parametrize(("wrap", "every"), [("multisteps", 2), ("apply_every", 1), ("none", 1)])
def test_the_lr_series_is_the_schedule_at_the_inner_optimizers_count(tmp_path, wrap, every):
    # optax.MultiSteps(adam(sched), k) steps its inner optimizer once per k micro-steps, so the
    # schedule is applied at step // k (a decay over 100 updates is at its middle at micro-step
    # 100, not at its end: read at the micro-step the lr reaches 0 half way - the qa_jax43
    # friedman1 fixed run); optax.apply_every after the optimizer leaves it counting each micro-step
    import traindx
    from traindx.adapters.jax import telemetry

    sched = optax.linear_schedule(1.0, 0.0, 100)
    tx = {"multisteps": optax.MultiSteps(optax.adam(sched), every_k_schedule=2),
          "apply_every": optax.chain(optax.adam(sched), optax.apply_every(2)), "none": optax.adam(sched)}[wrap]
    params = {"params": {"Dense_0": {"kernel": np.ones((4, 3), np.float32), "bias": np.zeros(3, np.float32)}}}
    rec = Recorder(tmp_path, params=params, optimizer=tx, loss="mse")
    for i in range(200):
        rec.log(i, telemetry(loss=np.float32(1.0)))
    rec.close()
    lr = traindx.read(tmp_path)[0].series["train/lr"]
    assert lr.values[list(lr.steps).index(100)] == pytest.approx(1.0 - 100 / every / 100)
