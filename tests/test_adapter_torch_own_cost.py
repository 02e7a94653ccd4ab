"""The torch Monitor's cheaper paths (issue 15, perf48) record what the longer ones did: the
telemetry vector built without no-op conversions, the per-step finiteness check of the
gradient norms read through the buffer's numpy view, activation moments taken without a
``torch.no_grad()`` block (no autograd graph either way)."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from traindx.adapters._torch_telemetry import flat_values  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = pytest.mark.torch


def _old(pieces):  # the expression flat_values replaced
    dev = pieces[0].device
    return torch.cat([p.reshape(-1).float().to(dev) for p in pieces])


@pytest.mark.parametrize("kinds", [("f32_1d",) * 3, ("f32_0d", "f32_1d", "f64_1d", "f32_2d", "f16_1d", "i64_1d")])
def test_flat_values_are_the_converted_concatenation(kinds):
    g = torch.Generator().manual_seed(0)
    make = {
        "f32_1d": lambda: torch.randn(5, generator=g),
        "f32_0d": lambda: torch.randn((), generator=g),
        "f64_1d": lambda: torch.randn(4, generator=g, dtype=torch.float64) * 1e-3 + 1.0 / 3.0,
        "f32_2d": lambda: torch.randn(2, 3, generator=g),
        "f16_1d": lambda: torch.randn(3, generator=g).half(),
        "i64_1d": lambda: torch.arange(4),
    }
    pieces = [make[k]() for k in kinds]
    got, want = flat_values(pieces), _old(pieces)
    assert got.dtype == torch.float32 and got.shape == want.shape
    assert torch.equal(got, want)  # bit for bit
    pieces[0].add_(1.0)  # the vector is a copy: a piece changed later does not reach it
    assert torch.equal(got, want)


class _NanToZero(nn.Module):
    def forward(self, h):
        return torch.where(torch.isnan(h), 0.0, torch.relu(h))


def test_nonfinite_gradients_warn_at_their_own_step_on_cpu(tmp_path):
    """A NaN batch at step 3 through a ReLU that maps NaN to 0: the loss stays finite, the
    first layer's gradients are NaN. On the CPU the per-step check (the numpy view of the
    norm buffer) warns during step 3's mon.step, not at a later flush."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), _NanToZero(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, loss_fn=crit, logdir=tmp_path, every=50, flush_secs=1e9)
    warned_at = []
    for s in range(6):
        x = torch.randn(16, 8)
        if s == 3:
            x[:] = float("nan")
        y = torch.randint(0, 3, (16,))
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            mon.step(loss, inputs=x, targets=y)
        warned_at += [s for w in rec if str(w.message).startswith("traindx: gradients are non-finite")]
        opt.zero_grad()  # the NaN gradients are not applied: the next steps stay finite
    mon.close()
    assert warned_at == [3]
    assert mon.context.flags.get("fatal_step") == 3


def test_activation_moments_carry_no_graph(tmp_path):
    """The forward hooks' moments of activations that require grad: no autograd graph (no
    grad_fn) although no torch.no_grad() block is opened, and the parameters' gradients are
    those of a run without the monitor."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    twin = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    twin.load_state_dict(model.state_dict())
    mon = Monitor(model, None, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=1)
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    mon.step(nn.functional.cross_entropy(model(x), y).detach())  # arms the hooks for the next step
    loss = nn.functional.cross_entropy(model(x), y)
    assert mon._act_pending, "the armed forward left no activation moments"
    for m, _n, _kind in mon._act_pending.values():
        assert m.grad_fn is None and not m.requires_grad
    loss.backward()
    nn.functional.cross_entropy(twin(x), y).backward()
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)
    mon.close()


def test_own_time_benchmark_splits_steps_by_kind():
    """benchmarks/own_time_torch.py: with a fixed interval its steps fall into plain,
    telemetry and after-telemetry kinds, as many of each as the interval makes (the timings
    themselves are the machine's: only their count and order are checked)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from own_time_torch import own_times, quartiles

    got = own_times("mlp", steps=30, warmup=10, every=10)
    assert {k: len(v) for k, v in got.items()} == {"plain": 24, "tel": 3, "after": 3}
    for v in got.values():
        assert v == sorted(v) and v[0] > 0
        q1, med, q3, p10 = quartiles(v)
        assert p10 <= q1 <= med <= q3
