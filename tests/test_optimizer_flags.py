"""An optimizer's hyper-parameters beyond OptimizerInfo, recorded as ``opt_<name>`` context flags
(traindx/adapters/_common/optimizer.py): what torch's param_groups state, read on real
optimizers, and the ``ctx`` facts a torch Monitor recording gives back."""

from __future__ import annotations

import math

import pytest

from traindx.adapters._common.optimizer import HYPER_FLAGS, hyper_flags
from traindx.rules.catalogue import ADAPTER_FLAGS


def test_a_mapping_of_one_group_keeps_only_known_names_of_the_right_type():
    group = {"dampening": 0.9, "nesterov": False, "maximize": True, "lr": 0.1, "foreach": None,
             "alpha": math.nan, "rho": "0.9", "centered": 1}  # fmt: skip
    assert hyper_flags(group) == {"opt_dampening": 0.9, "opt_nesterov": False, "opt_maximize": True}
    assert hyper_flags(None) == {} and hyper_flags(object()) == {}


def test_every_recorded_flag_is_in_the_fact_catalogue():
    assert all(ADAPTER_FLAGS[f"opt_{name}"] is kind for name, kind in HYPER_FLAGS.items())


torch = pytest.importorskip("torch")


def test_torch_optimizers_param_groups():
    params = [torch.nn.Parameter(torch.zeros(3))]
    sgd = hyper_flags(torch.optim.SGD(params, lr=0.05, momentum=0.99, dampening=0.99))
    assert sgd["opt_dampening"] == pytest.approx(0.99) and sgd["opt_nesterov"] is False
    assert hyper_flags(torch.optim.Adam(params, amsgrad=True))["opt_amsgrad"] is True
    rms = hyper_flags(torch.optim.RMSprop(params, alpha=0.5, centered=True))
    assert rms["opt_alpha"] == pytest.approx(0.5) and rms["opt_centered"] is True


def test_a_monitor_recording_gives_the_dampening_as_a_fact(tmp_path):
    from traindx.adapters.torch import Monitor
    from traindx.api import read
    from traindx.signals import compute_facts

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, dampening=0.9)
    mon = Monitor(model, opt, logdir=tmp_path, every=2)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for _ in range(4):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        mon.step(loss, inputs=x)
        opt.step()
    mon.close()
    ctx = compute_facts(read(tmp_path)[0])["ctx"]
    assert ctx["opt_dampening"] == pytest.approx(0.9) and ctx["momentum"] == pytest.approx(0.9)
