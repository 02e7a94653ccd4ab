"""The adapters' ``inputs_same_share`` fact: the share of recorded input summaries equal to
the one recorded before it - 1.0 when a loop feeds the model the same batch every step
(full-batch training, a shuffled full-batch loader, one batch of a larger set repeated), near
0 for mini-batches. Real torch and JAX loops; the monitor never changes training; CTX019
(few full-batch steps) reads the fact only when the run also barely learned."""

from __future__ import annotations

import numpy as np
import pytest
from digits import scaled_digits

import traindx
from traindx.adapters._common.repeats import InputRepeats


@pytest.fixture(scope="module")
def digits():
    return scaled_digits(640)


def _codes(path):
    return {s.code for s in traindx.diagnose(traindx.read(path)[0])[0].symptoms}


def test_repeats_compare_adjacent_steps_counts_exactly_and_moments_to_scale():
    r = InputRepeats()
    r.see(0, (64, 0.0, 1.0), (0.5, 0.3))
    r.see(1, (0, 0.0, 0.0), (0.0, 0.0))  # not recorded this step: skipped
    r.see(2, (64, 0.0, 1.0), (0.5, 0.3))  # not adjacent to step 0: not compared
    r.see(3, (64, 0.0, 1.0), (0.5 + 1e-7, 0.3))  # the same rows summed in another order
    r.see(4, (64, 0.0, 1.0), (0.49, 0.3))  # another batch
    r.see(5, (32, 0.0, 1.0), (0.49, 0.3))  # another size
    r.see(6, (32, 0.0, 1.0), (float("nan"), 0.3))
    r.see(16, (32, 0.0, 1.0), (0.49, 0.3))  # ten steps on: the same batch again is no repeat
    flags: dict = {}
    r.fold(flags)
    assert flags == {"inputs_same_share": round(1 / 3, 4), "inputs_checked": 3.0}
    empty: dict = {}
    InputRepeats().fold(empty)
    assert empty == {}


# ---------------------------------------------------------------------------- torch

def _torch_run(tmp_path, data, mode, steps=40, monitor=True, every=1):
    torch = pytest.importorskip("torch")
    from traindx.adapters.torch import Monitor

    nn = torch.nn
    torch.manual_seed(0)
    x, y = (torch.tensor(a) for a in data)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)
    mon = Monitor(model, opt, crit, logdir=tmp_path, every=every) if monitor else None
    for i in range(steps):
        if mode == "full":
            xb, yb = x, y
        elif mode == "shuffled_full":
            p = torch.randperm(len(x), generator=gen)
            xb, yb = x[p], y[p]
        elif mode == "one_batch":
            xb, yb = x[:32], y[:32]
        else:
            j = (i * 32) % len(x)
            xb, yb = x[j : j + 32], y[j : j + 32]
        opt.zero_grad()
        loss = crit(model(xb), yb)
        loss.backward()
        if mon is not None:
            mon.step(loss, inputs=xb, targets=yb)
        opt.step()
    weights = [p.detach().clone() for p in model.parameters()]
    if mon is not None:
        mon.close()
        return mon.context, weights
    return None, weights


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["full", "shuffled_full", "one_batch"])
def test_torch_same_batch_every_step(tmp_path, digits, mode):
    ctx, _ = _torch_run(tmp_path, digits, mode)
    assert ctx.flags["inputs_same_share"] == 1.0
    assert ctx.flags["inputs_checked"] >= 10


@pytest.mark.torch
@pytest.mark.parametrize("every", [1, 20])
def test_torch_mini_batches(tmp_path, digits, every):
    # every=20 over an unshuffled loader of 20 batches: each telemetry step sees batch 0,
    # the step after it batch 1 - the pairs compared are adjacent steps
    ctx, _ = _torch_run(tmp_path, digits, "mini", steps=100, every=every)
    assert ctx.flags["inputs_same_share"] <= 0.1
    assert ctx.flags["inputs_checked"] >= 4


@pytest.mark.torch
def test_torch_full_batch_adaptive_cadence(tmp_path, digits):
    ctx, _ = _torch_run(tmp_path, digits, "shuffled_full", steps=30, every=None)  # a short run: few telemetry steps
    assert ctx.flags["inputs_same_share"] == 1.0
    assert ctx.flags["inputs_checked"] >= 4


@pytest.mark.torch
def test_torch_full_batch_stalled_fires_ctx019_without_n_train(tmp_path, digits):
    # 40 full-batch SGD steps at 1e-3: the loss barely moves; no loader, no n_train given
    ctx, _ = _torch_run(tmp_path, digits, "full")
    assert ctx.data.n_train is None
    assert "CTX019" in _codes(tmp_path)


@pytest.mark.torch
def test_torch_mini_batches_stalled_do_not_fire_ctx019(tmp_path, digits):
    _torch_run(tmp_path, digits, "mini")
    assert "CTX019" not in _codes(tmp_path)


@pytest.mark.torch
def test_torch_monitor_leaves_training_bit_identical(tmp_path, digits):
    torch = pytest.importorskip("torch")
    ctx, with_mon = _torch_run(tmp_path, digits, "shuffled_full", steps=12)
    after_mon = torch.rand(1)  # the RNG where the monitored loop left it
    assert ctx.flags["inputs_same_share"] == 1.0
    _, without = _torch_run(tmp_path / "plain", digits, "shuffled_full", steps=12, monitor=False)
    assert torch.equal(torch.rand(1), after_mon)
    assert all(torch.equal(a, b) for a, b in zip(with_mon, without, strict=True))


# ---------------------------------------------------------------------------- JAX

def _jax_run(tmp_path, data, mode, steps=30, every=None):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    fnn = pytest.importorskip("flax.linen")
    from traindx.adapters.jax import Recorder, telemetry

    jnp = jax.numpy

    class MLP(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            return fnn.Dense(10)(fnn.relu(fnn.Dense(16)(x)))

    x, y = data[0], data[1].astype(np.int32)
    model, tx = MLP(), optax.sgd(1e-3)
    params = model.init(jax.random.PRNGKey(0), x[:2])
    state = tx.init(params)

    @jax.jit
    def step(p, s, xb, yb, i):
        def obj(p):
            return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, xb), yb).mean()

        loss, g = jax.value_and_grad(obj)(p)
        u, s = tx.update(g, s, p)
        kw = {"step": i, "every": every} if every else {}
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, inputs=xb, **kw)

    rec = Recorder(tmp_path, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels",
                   num_classes=10)  # fmt: skip
    for i in range(steps):
        if mode == "full":
            xb, yb = x, y
        else:
            j = (i * 32) % len(x)
            xb, yb = x[j : j + 32], y[j : j + 32]
        params, state, st = step(params, state, jnp.asarray(xb), jnp.asarray(yb), i)
        rec.log(i, st)
    rec.close()
    return rec.context


@pytest.mark.jax
@pytest.mark.parametrize("every", [None, 10])
def test_jax_full_batch_every_step(tmp_path, digits, every):
    ctx = _jax_run(tmp_path, digits, "full", every=every)
    assert ctx.flags["inputs_same_share"] == 1.0
    assert ctx.flags["inputs_checked"] >= 10
    assert "CTX019" in _codes(tmp_path)


@pytest.mark.jax
@pytest.mark.parametrize("every", [None, 10])
def test_jax_mini_batches(tmp_path, digits, every):
    ctx = _jax_run(tmp_path, digits, "mini", every=every)
    assert ctx.flags["inputs_same_share"] <= 0.1
    assert "CTX019" not in _codes(tmp_path)
