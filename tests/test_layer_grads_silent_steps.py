"""Steps with nothing to learn are not dead layers (GRAD007's ``layers.grad_died_layers``).

A triplet/hinge loss satisfied by the whole batch, or a batch whose loss mask is all zero,
gives an exactly zero gradient to every layer at that step: a true fact, but about the step,
not about one layer's gradient flow. When such steps are most of the late telemetry steps,
the per-layer tail median read 0 and counted every layer as "died" (corpus run
torchk_1_00326_healthy: triplet loss, batches of 8, all three layers "died" while the global
gradient norm ended at 1.89). A real torch loop with the Monitor; the silent steps are made
silent by an all-zero mask, so no CPU's numerics decide which steps they are.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import traindx  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402
from traindx.signals import compute_facts  # noqa: E402

pytestmark = pytest.mark.torch


def _run(tmp_path, silent_late: bool, dead_late: bool = False):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:512] / 16.0, dtype=torch.float32), torch.tensor(y[:512])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss(reduction="none")
    steps = 160
    with Monitor(model, opt, logdir=tmp_path, every=4) as mon:
        for s in range(steps):
            i = (s * 32) % 512
            xb, yb = x[i : i + 32], y[i : i + 32]
            late = s >= steps // 2
            # late in the run, two steps in three have an all-zero mask (nothing to learn);
            # dead_late: every late step does (the whole network gets no gradient any more)
            off = late and ((silent_late and s % 3 != 0) or dead_late)
            mask = torch.zeros(len(yb)) if off else torch.ones(len(yb))
            opt.zero_grad(set_to_none=True)
            loss = (crit(model(xb), yb) * mask).sum() / mask.sum().clamp_min(1.0)
            loss.backward()
            mon.step(loss, inputs=xb, targets=yb)
            opt.step()
    (run,) = traindx.read(tmp_path)
    return run


def test_silent_steps_do_not_kill_layers(tmp_path):
    run = _run(tmp_path, silent_late=True)
    layers = compute_facts(run)["layers"]
    assert layers["grad_died_layers"] == 0
    assert layers["grad_zero_layers"] == 0
    assert layers["grad_min"] > 0.0


def test_a_network_whose_gradient_stopped_everywhere_keeps_its_zeros(tmp_path):
    layers = compute_facts(_run(tmp_path, silent_late=False, dead_late=True))["layers"]
    assert layers["grad_died_layers"] == 3


class _Branchy(nn.Module):
    """Two alternative first layers: each step takes one, the other's gradient stays None."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.h = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 2)

    def forward(self, x, use_b: bool):
        return self.h(torch.relu((self.b if use_b else self.a)(x)))


def _branchy(logdir):
    torch.manual_seed(0)
    m = _Branchy()
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
    mon = Monitor(m, opt, logdir=logdir, every=2) if logdir is not None else None
    for s in range(40):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(m(x, s % 4 == 0), y)
        loss.backward()
        if mon is not None:
            mon.step(loss, inputs=x, targets=y)
        opt.step()
    if mon is not None:
        mon.close()
    return m


def test_a_none_gradient_is_no_record_not_zero(tmp_path):
    m = _branchy(tmp_path)
    (run,) = traindx.read(tmp_path)
    for name, used in (("a", lambda s: s % 4 != 0), ("b", lambda s: s % 4 == 0)):
        ser = run.get("grad_norm", "train", name, "value")
        assert ser is not None and len(ser)
        # after its first gradient, a branch is recorded only at the steps it ran, never as 0
        late = [(int(s), v) for s, v in zip(ser.steps, ser.values, strict=True) if s >= 4]
        assert late and all(used(s) and v > 0.0 for s, v in late)
    assert len(run.get("grad_norm", "train", "h", "value")) > len(run.get("grad_norm", "train", "b", "value"))
    assert compute_facts(run)["layers"]["grad_zero_layers"] == 0
    plain = _branchy(None)  # the Monitor did not alter training
    for p, q in zip(m.parameters(), plain.parameters(), strict=True):
        assert torch.equal(p, q)
