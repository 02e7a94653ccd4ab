"""The torch Monitor records the LR the optimizer really used and the scheduler that moves it,
and re-checks parameters the optimizer does not hold during the run (issue 10, qa_real35 /
qa_fresh35: a ``LinearLR`` built before the Monitor had set 1e-3 to 1e-5, recorded as
``lr = 0.001, schedule = None``; a backbone unfrozen at half-time but never given to the
optimizer was recorded as ``params_not_in_optimizer = 0``). Facts only: the training is the
same with and without the Monitor."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from traindx.adapters.torch import Monitor  # noqa: E402


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 8, generator=g)
    return x, (x[:, :2].sum(1) > 0).long()


def run(tmp_path, sched: str | None, *, monitor: bool = True, steps: int = 40, per: int = 10):
    """A small loop; ``sched`` built before (``*_before``) or after the Monitor, stepped every
    ``per`` steps (an epoch). Returns (context, the model's final weights)."""
    torch.manual_seed(0)
    x, y = data()
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sch = None
    if sched == "linear_before":
        sch = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=100)
    mon = Monitor(model, opt, nn.CrossEntropyLoss(), logdir=tmp_path, every=5) if monitor else None
    if sched == "step_after":
        sch = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for s in range(steps):
        xb, yb = x[(s * 16) % 128 :][:16], y[(s * 16) % 128 :][:16]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        if mon is not None:
            mon.step(loss, inputs=xb, targets=yb)
        opt.step()
        if (s + 1) % per == 0:
            if sch is not None:
                sch.step()
            elif sched == "manual":
                for g in opt.param_groups:
                    g["lr"] *= 0.5
    ctx = None
    if mon is not None:
        mon.close()
        ctx = json.loads((tmp_path / "context.json").read_text())
    return ctx, [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize(
    ("sched", "name"),
    [("linear_before", "linearlr"), ("step_after", "steplr"), ("manual", "manual"), (None, None)],
)
def test_the_scheduler_is_named_whenever_it_was_built(tmp_path, sched, name):
    ctx, _ = run(tmp_path, sched)
    assert ctx["optimizer"]["schedule"] == name


def test_the_lr_the_first_update_used_is_recorded_beside_the_configured_one(tmp_path):
    ctx, _ = run(tmp_path, "linear_before")
    assert ctx["optimizer"]["lr"] == pytest.approx(0.1)  # configured (initial_lr)
    assert ctx["flags"]["lr_first_step"] == pytest.approx(0.001)  # what LinearLR had set
    plain, _ = run(tmp_path / "plain", None)
    assert plain["flags"]["lr_first_step"] == pytest.approx(0.1)


@pytest.mark.parametrize("sched", ["linear_before", "step_after", "manual"])
def test_the_monitor_does_not_alter_training(tmp_path, sched):
    _, with_mon = run(tmp_path, sched)
    _, without = run(tmp_path / "none", sched, monitor=False)
    for a, b in zip(with_mon, without, strict=True):
        assert torch.equal(a, b)


def unfreeze_run(tmp_path, add_to_optimizer: bool):
    """Backbone frozen, optimizer over the head only; at half-time the backbone is unfrozen
    and (or not) given to the optimizer."""
    torch.manual_seed(0)
    x, y = data()
    backbone, head = nn.Sequential(nn.Linear(8, 16), nn.ReLU()), nn.Linear(16, 2)
    model = nn.Sequential(backbone, head)
    backbone.requires_grad_(False)
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    # telemetry on step 0 alone (the qa_fresh35 run: every 640 steps of 600): the re-check
    # must not wait for a telemetry step
    mon = Monitor(model, opt, nn.CrossEntropyLoss(), logdir=tmp_path, every=1000)
    for s in range(60):
        if s == 30:
            backbone.requires_grad_(True)
            if add_to_optimizer:
                opt.add_param_group({"params": backbone.parameters(), "lr": 1e-4})
        xb, yb = x[(s * 16) % 128 :][:16], y[(s * 16) % 128 :][:16]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        mon.step(loss, inputs=xb, targets=yb)
        opt.step()
    mon.close()
    return json.loads((tmp_path / "context.json").read_text())["flags"]


def test_a_backbone_unfrozen_later_and_never_optimized_is_recorded(tmp_path):
    assert unfreeze_run(tmp_path, add_to_optimizer=False)["params_not_in_optimizer"] == 2.0
    # the trainable count is the one after the unfreeze, not the head's at the Monitor's
    # construction (issue 10: a stale count kept UPD004 reading the model as frozen on purpose)
    model = json.loads((tmp_path / "context.json").read_text())["model"]
    assert model["num_trainable"] == model["num_params"] == 8 * 16 + 16 + 16 * 2 + 2


def test_a_backbone_unfrozen_and_added_to_the_optimizer_is_not(tmp_path):
    assert unfreeze_run(tmp_path, add_to_optimizer=True)["params_not_in_optimizer"] == 0.0
