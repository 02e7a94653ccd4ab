"""Torch preflight: checks run on copies (the user's model, optimizer and RNG streams stay
bit-identical), report passed/failed/skipped, rank the right cause, and persist to a run dir."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import traindx  # noqa: E402
from traindx.adapters._torch_copies import state_snapshot  # noqa: E402
from traindx.adapters.torch import Monitor, lr_range_test, preflight  # noqa: E402
from traindx.checks import CHECK_FACTS  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    return (x[:1200], y[:1200]), (x[1200:], y[1200:])


def _mlp(seed: int = 0, *extra: nn.Module) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.BatchNorm1d(64), nn.Linear(64, 10), *extra)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_healthy_model_passes_and_leaves_everything_untouched(digits):
    (x, y), val = digits
    model = _mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lf = nn.CrossEntropyLoss()
    for _ in range(3):  # optimizer state and grads populated, as mid-way through a script
        opt.zero_grad()
        lf(model(x[:32]), y[:32]).backward()
        opt.step()
    model.eval()  # an odd mode must survive too (it is reported, not changed)
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    before = state_snapshot(model, opt)
    rng = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    threads = torch.get_num_threads()
    d = preflight(model, lf, (x, y), optimizer=opt, val=val)
    assert _same(before, state_snapshot(model, opt))
    assert random.getstate() == rng[0]
    assert _same(list(np.random.get_state()), list(rng[1]))
    assert torch.equal(torch.get_rng_state(), rng[2])
    assert torch.get_num_threads() == threads
    # the model was in eval mode with dropout: that (and only that) is reported
    assert [s.code for s in d.symptoms] == ["CHK022"], d.symptoms
    assert d.causes[0].id == "train_mode_not_set"
    model.train()
    d = preflight(model, lf, (x, y), optimizer=opt, val=val)
    assert d.healthy, (d.headline, [str(c) for c in d.checks])
    assert {c.name for c in d.checks} >= {"init", "overfit", "batch", "grads", "gradcheck", "output", "dummy", "modes", "data", "lr"}
    assert all(c.status == "passed" for c in d.checks), [str(c) for c in d.checks]
    init = next(c for c in d.checks if c.name == "init")
    assert 0.8 < init.facts["ratio"] < 1.5  # near ln(10) on a fresh classifier
    assert sum(c.seconds for c in d.checks) < 10
    for c in d.checks:  # every recorded fact is in the catalogue rules are checked against
        assert set(c.facts) <= set(CHECK_FACTS[c.name]), (c.name, set(c.facts) - set(CHECK_FACTS[c.name]))


def test_skipped_checks_say_why_and_never_pass(digits):
    (x, y), _ = digits
    d = preflight(_mlp(), nn.CrossEntropyLoss(), (x, y))  # no optimizer: no configured LR
    lr = next(c for c in d.checks if c.name == "lr")
    assert lr.status == "skipped" and lr.explanation.startswith("skipped: no optimizer")

    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("shape mismatch in my layer")

    d = preflight(Broken(), nn.CrossEntropyLoss(), (x, y))
    assert all(c.status == "skipped" for c in d.checks if c.name != "data")
    assert any("shape mismatch" in c.explanation for c in d.checks)
    assert not d.healthy


class SoftmaxBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = _mlp(1)

    def forward(self, x):
        return torch.log(torch.softmax(self.net(x), dim=0))


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (lambda: SoftmaxBatch(), "softmax_wrong_axis"),
        (lambda: _mlp(2, nn.Softmax(dim=1)), "logits_loss_mismatch"),
        (lambda: _mlp(3, nn.ReLU()), "activation_on_output"),
    ],
    ids=["softmax_dim0", "double_softmax", "relu_output"],
)
def test_buggy_models_rank_the_cause_first(digits, make, cause):
    (x, y), val = digits
    model = make()
    d = preflight(model, nn.CrossEntropyLoss(), (x, y), optimizer=torch.optim.Adam(model.parameters(), 1e-3), val=val)
    assert d.causes and d.causes[0].id == cause, (d.headline, [str(c) for c in d.checks])


def test_detached_layer_and_frozen_layer(digits):
    (x, y), _ = digits

    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(64, 32), nn.Linear(32, 10)

        def forward(self, x):
            return self.b(torch.relu(self.a(x)).detach())

    torch.manual_seed(0)
    m = Detached()
    d = preflight(m, nn.CrossEntropyLoss(), (x, y), optimizer=torch.optim.SGD(m.parameters(), 0.1))
    grads = next(c for c in d.checks if c.name == "grads")
    assert grads.status == "failed" and grads.facts["no_grad"] == 2 and "a.weight" in grads.facts["example"]
    assert d.causes[0].id == "gradients_not_flowing"


def test_results_persist_and_combine_with_training_telemetry(digits, tmp_path):
    (x, y), val = digits
    model = SoftmaxBatch()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    lf = nn.NLLLoss()
    preflight(model, lf, (x, y), optimizer=opt, val=val, logdir=tmp_path)
    assert (tmp_path / "preflight.json").is_file()
    from traindx.checks import load

    lr = next(c for c in load(tmp_path / "preflight.json").checks if c.name == "lr")  # the sweep, for plots
    assert len(lr.series["lrs"]) == len(lr.series["losses"]) >= 10 and lr.series["lrs"] == sorted(lr.series["lrs"])
    assert "suggested" in lr.facts or "blowup" in lr.facts or lr.facts["never_fell"]
    (alone,) = traindx.diagnose(tmp_path)
    assert alone.checks and any(c.status == "failed" for c in alone.checks)
    assert alone.causes[0].id == "softmax_wrong_axis"
    with Monitor(model, opt, loss_fn=lf, logdir=tmp_path) as mon:
        for i in range(40):
            xb, yb = x[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16]
            opt.zero_grad()
            loss = lf(model(xb), yb)
            loss.backward()
            mon.step(loss, inputs=xb, targets=yb)
            opt.step()
    (both,) = traindx.diagnose(tmp_path)
    assert both.checks and "loss" in both.facts and "check" in both.facts
    assert both.causes[0].id == "softmax_wrong_axis"


def test_preflight_ignores_a_monitor_attached_to_the_model(digits, tmp_path):
    (x, y), _ = digits
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), 0.05)
    lf = nn.CrossEntropyLoss()
    with Monitor(model, opt, loss_fn=lf, logdir=tmp_path) as mon:
        before = state_snapshot(model, opt)
        d = preflight(model, lf, (x, y), optimizer=opt)
        assert _same(before, state_snapshot(model, opt))
        assert mon._step == 0 if hasattr(mon, "_step") else True
    assert d.checks


def test_lr_range_test(digits):
    (x, y), _ = digits
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    before = state_snapshot(model, opt)
    r = lr_range_test(model, nn.CrossEntropyLoss(), (x, y), optimizer=opt)
    assert _same(before, state_snapshot(model, opt))
    assert len(r.lrs) == len(r.losses) >= 10 and r.lrs == sorted(r.lrs)
    assert r.blowup_lr is not None and r.suggested_lr is not None
    assert r.suggested_lr <= r.blowup_lr / 5  # about a tenth of where it blows up (or steeper)
    lo, hi = r.next_range
    assert lo < r.suggested_lr < hi
