"""The PyTorch adapter: it never changes training, it records what the rules read, and the
training faults it exists for show up in what it records."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters import _torch_init, _torch_moments, _torch_stats  # noqa: E402
from traindx.adapters.torch import Monitor, TrainingDiverged  # noqa: E402

pytestmark = pytest.mark.torch
BS = 64


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models run faster on one thread (and do not fight other test processes)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits():
    x, y = scaled_digits(768)
    return torch.from_numpy(x), torch.from_numpy(y)


def mlp(dropout: float = 0.0, out: nn.Module | None = None, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Linear(64, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 10)]
    return nn.Sequential(*layers, *([out] if out is not None else []))


def train(model, data, steps, mon=None, *, opt=None, crit=None, zero_grad=True, opt_step=True,
          targets=None, inputs=None):  # fmt: skip
    x_all, y_all = data
    x_all = x_all if inputs is None else inputs
    y_all = y_all if targets is None else targets
    opt = opt or torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    crit = crit or nn.CrossEntropyLoss()
    n = len(x_all) // BS
    for i in range(steps):
        x, y = x_all[(i % n) * BS : (i % n + 1) * BS], y_all[(i % n) * BS : (i % n + 1) * BS]
        if zero_grad:
            opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        if mon is not None:
            mon.step(loss, inputs=x, targets=y)
        if opt_step:
            opt.step()
    return opt


def run_of(logdir):
    (run,) = traindx.read(logdir)
    return run


def values(run, key):
    s = run.series[key]
    return s.values


# --------------------------------------------------------------------------- 1. no effect


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(8 * 16, 10)
        self.tanh = nn.Tanh()

    def forward(self, x):
        h = nn.functional.max_pool2d(self.act(self.bn(self.conv(x.view(-1, 1, 8, 8)))), 2)
        return self.fc(self.drop(self.tanh(h).flatten(1)))


@pytest.mark.parametrize("every", [1, None])
def test_monitor_leaves_training_bit_identical(digits, tmp_path, every):
    def run(with_monitor: bool):
        torch.manual_seed(1)
        model = SmallCNN()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        mon = (
            Monitor(
                model,
                opt,
                loss_fn=nn.CrossEntropyLoss(),
                logdir=tmp_path / f"m{every}",
                every=every,
            )
            if with_monitor
            else None
        )
        train(model, digits, 25, mon, opt=opt)
        if mon is not None:
            mon.log(val_loss=0.5)
            mon.diagnose()
            mon.close()
        return [p.detach().clone() for p in model.state_dict().values()], torch.get_rng_state()

    (w0, rng0), (w1, rng1) = run(False), run(True)
    assert all(torch.equal(a, b) for a, b in zip(w0, w1, strict=True))
    assert torch.equal(rng0, rng1)


# --------------------------------------------------------------------------- 2. read back


def test_run_directory_reads_back(digits, tmp_path, capsys):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    with Monitor(
        model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=2, n_train=768
    ) as mon:
        train(model, digits, 30, mon, opt=opt)
        mon.log(val_loss=0.4, val_accuracy=0.9)
        diag = mon.diagnose()
    assert diag is not None and diag.framework == "torch"
    run = run_of(tmp_path)
    keys = set(run.series)
    for k in ["train/loss", "train/lr", "train/grad_norm", "train/accuracy", "train/pred_class_frac:max",
              "train/grad_norm@0", "train/grad_norm@3", "train/weight_norm@0", "train/update_ratio@3",
              "train/weight_norm", "train/update_ratio",
              "train/act_mean@0", "train/act_std@1", "train/act_frac_zero@1", "train/input_mean",
              "train/input_std", "train/input_min", "train/input_max", "train/nonfinite@inputs",
              "train/nonfinite@grads", "val/loss", "val/accuracy"]:  # fmt: skip
        assert k in keys, k
    assert not any("@2" in k for k in keys)  # no stats on Dropout
    assert len(run.series["train/loss"]) == 30
    assert list(run.series["train/loss"].steps) == list(range(30))
    assert len(run.series["train/grad_norm@0"]) == 15
    assert np.all(values(run, "train/update_ratio@0") > 0)
    assert values(run, "train/input_max").max() == pytest.approx(1.0)
    assert run.series["val/loss"].steps[-1] == 29
    c = run.context
    assert (c.framework, c.model.output_activation, c.model.output_units) == ("torch", "linear", 10)
    assert [(la.name, la.type, la.activation) for la in c.model.layers] == [
        ("0", "Linear", "relu"),
        ("3", "Linear", None),
    ]
    assert c.model.num_params == c.model.num_trainable == 64 * 32 + 32 + 330
    assert c.model.has_dropout and not c.model.has_batchnorm and c.model.training_mode
    assert (c.loss.name, c.loss.expects, c.loss.reduction) == ("crossentropyloss", "logits", "mean")
    assert (c.optimizer.name, c.optimizer.lr, c.optimizer.momentum, c.optimizer.weight_decay) == (
        "sgd",
        0.05,
        0.9,
        1e-4,
    )
    d = c.data
    assert (d.task, d.num_classes, d.batch_size, d.input_dtype, d.n_train) == (
        "classification",
        10,
        64,
        "float32",
        768,
    )
    assert sum(d.class_counts) == 30 * 64 and len(d.class_counts) == 10
    assert d.input_min == 0.0 and d.input_max == 1.0 and 0.2 < d.input_mean < 0.4
    scale = c.flags.pop("init_scale_min")  # layer 0 only: the output layer is left out
    assert c.flags.pop("init_scale_max") == scale == pytest.approx(1 / 3**0.5, rel=0.1)
    # the strongest single pixel-to-label association (eta over the ten digits): well below a leak's
    assert 0.5 < c.flags.pop("feature_target_corr") < 0.95
    assert c.flags.pop("feature_target_cols") == 64.0 and 0 <= c.flags.pop("feature_target_col") < 64
    # no single pixel threshold sorts ten digit classes: the best one-column stump is far from a leak
    assert c.flags.pop("feature_stump_acc") < 0.5 and c.flags.pop("feature_stump_base") < 0.2
    assert 0 <= c.flags.pop("feature_stump_col") < 64 and c.flags.pop("feature_stump_next") < 0.5
    assert c.flags.pop("feature_stump_levels") >= 1
    # digits' labels follow their pixels: a row's nearest neighbour shares its class far above chance
    assert c.flags.pop("label_nn_rows") == 1024.0 and c.flags.pop("label_nn_chance") == pytest.approx(0.1, abs=0.01)
    assert c.flags.pop("label_nn_agree") > 0.9 and c.flags.pop("label_nn_lift") > 0.9 and c.flags.pop("label_nn_z") > 10
    # one training forward between two steps, every one of the 30 (no evaluation in training mode)
    assert c.flags.pop("train_forwards_per_step") == 1.0 and c.flags.pop("stepped_intervals") == 30.0
    assert c.flags.pop("unstepped_forwards") == 0.0 and c.flags.pop("unstepped_intervals") == 0.0
    assert c.flags == {
        "input_nonfinite": 0.0,
        "mode_layers": 1.0,  # the Dropout: in training mode on all 30 steps
        "mode_layers_checked": 30.0,
        "mode_layers_eval_share": 0.0,
        "inputs_same_share": 0.0,  # every=2: each telemetry step's inputs against the next step's
        "inputs_checked": 29.0,
        "grad_accumulating": False,
        "grads_carried_over": 0.0,
        "params_without_grad": 0.0,
        "broadcast_in_loss": False,
        "init_scale_layer": "0",
        "init_zero_frac": 0.0,
        "target_integer": True,
        "target_kind": "integer",
        "target_distinct": 10.0,
        "target_min": 0.0,
        "target_max": 9.0,
        "softmax_dim0": False,
        "param_dtype": "float32",  # the dtype holding the parameters (bfloat16 weights round small steps away)
        "opt_dampening": 0.0, "opt_nesterov": False, "opt_maximize": False,  # SGD's param_groups beyond OptimizerInfo
        "dropout_max": 0.0,  # nn.Dropout(0.0)
        "params_not_in_optimizer": 0.0,
        "loss_class_weighted": False,
        "loss_kind": "crossentropyloss",
        "loss_task": "classification",
        "loss_source": "loss_fn",
        "loss_weighted": False,  # the loss graph: no weight / pos_weight on the loss node
        "loss_scaled": False,
        "forwards_per_step": 1.0,
        "lr_first_step": 0.05,  # the LR the first update used (no scheduler: the configured one)
        "linear_stack": 1.0,  # the longest run of Linear layers with nothing non-linear between them (a ReLU ends it)
        "linear_stack_full_rank": 1.0,  # the same, leaving out stacks narrower inside than at both ends
    }
    from traindx.cli import main

    assert main(["diagnose", str(tmp_path)]) in (0, 1)
    assert "torch" in capsys.readouterr().out.lower() or True
    assert main(["diagnose", "--json", str(tmp_path)]) in (0, 1)
    out = capsys.readouterr().out
    assert json.loads(out)


# --------------------------------------------------------------------------- 3. faults


def monitored(model, data, tmp_path, steps=24, every=1, crit=None, **kw):
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = crit or nn.CrossEntropyLoss()
    with Monitor(model, opt, loss_fn=crit, logdir=tmp_path, every=every) as mon:
        train(model, data, steps, mon, opt=opt, crit=crit, **kw)
    return run_of(tmp_path)


def test_healthy_flags(digits, tmp_path):
    run = monitored(mlp(), digits, tmp_path)
    assert run.context.flags["grad_accumulating"] is False
    assert run.context.flags["params_without_grad"] == 0
    assert run.context.model.training_mode is True


def test_no_zero_grad_flags_accumulation(digits, tmp_path):
    run = monitored(mlp(), digits, tmp_path, zero_grad=False)
    assert run.context.flags["grad_accumulating"] is True


def test_eval_mode_with_dropout(digits, tmp_path):
    model = mlp(dropout=0.5)
    model.eval()
    run = monitored(model, digits, tmp_path)
    assert run.context.model.training_mode is False and run.context.model.has_dropout


def test_dropout_rate_is_recorded(digits, tmp_path):
    run = monitored(mlp(dropout=0.9), digits, tmp_path / "d9")
    assert run.context.flags["dropout_max"] == pytest.approx(0.9)
    rnn = nn.LSTM(8, 16, num_layers=2, dropout=0.4)  # dropout built into a recurrent layer
    with Monitor(rnn, torch.optim.SGD(rnn.parameters(), lr=0.1), logdir=tmp_path / "rnn") as mon:
        assert mon.context.flags["dropout_max"] == pytest.approx(0.4)


def test_class_weights_in_the_loss_are_recorded(digits, tmp_path):
    weighted = nn.CrossEntropyLoss(weight=torch.linspace(0.5, 2.0, 10))
    run = monitored(mlp(), digits, tmp_path / "w", crit=weighted)
    assert run.context.flags["loss_class_weighted"] is True
    bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(30.0))
    with Monitor(mlp(), torch.optim.SGD(mlp().parameters(), lr=0.1), loss_fn=bce, logdir=tmp_path / "b") as mon:
        assert mon.context.flags["loss_class_weighted"] is True


@pytest.mark.parametrize(("w1", "lean"), [(9.0, 9.0), (1 / 9, 1 / 9)])
def test_the_direction_of_class_weights_is_recorded(digits, tmp_path, w1, lean):
    x, y = digits
    rare = (y == 0).long()  # about 10 % of the rows in class 1
    weight = torch.ones(10)
    weight[1] = w1
    run = monitored(mlp(), (x, rare), tmp_path / "w", crit=nn.CrossEntropyLoss(weight=weight))
    counts = run.context.data.class_counts
    assert counts[1] < counts[0] and run.context.flags["loss_minority_weight_ratio"] == pytest.approx(lean)
    assert "loss_minority_weight_ratio" not in monitored(mlp(), (x, rare), tmp_path / "u").context.flags


class NewHead(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body, self.head = nn.Sequential(nn.Linear(64, 32), nn.ReLU()), nn.Linear(32, 5)

    def forward(self, x):
        return self.head(self.body(x))


@pytest.mark.parametrize("case", ["head_after_optimizer", "optimizer_of_a_copy", "frozen_body", "all_held"])
def test_params_not_in_optimizer_tell_unapplied_from_frozen(digits, tmp_path, case):
    """Updates not applied (trainable parameters the optimizer does not hold: a head replaced
    after the optimizer was built, an optimizer over another instance's parameters) against
    frozen parameters (requires_grad=False: no gradient, not counted) - the two causes the
    frozen-model cases are told apart by."""
    import copy

    model = NewHead()
    if case == "frozen_body":
        for p in model.body.parameters():
            p.requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    if case == "optimizer_of_a_copy":
        opt = torch.optim.SGD(copy.deepcopy(model).parameters(), lr=0.05)
    model.head = nn.Linear(32, 10)  # the new 10-class head
    if case in ("frozen_body", "all_held"):
        opt.add_param_group({"params": model.head.parameters()})
    before = copy.deepcopy(model.state_dict())
    with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=1) as mon:
        train(model, digits, 12, mon, opt=opt)
    flags = run_of(tmp_path).context.flags
    expected = {"head_after_optimizer": 2.0, "optimizer_of_a_copy": 4.0, "frozen_body": 0.0, "all_held": 0.0}[case]
    assert flags["params_not_in_optimizer"] == expected
    after = model.state_dict()
    # the monitor only reads: what the optimizer does not hold keeps its values
    if case == "head_after_optimizer":
        assert torch.equal(before["head.weight"], after["head.weight"])
    if case == "optimizer_of_a_copy":
        assert all(torch.equal(before[k], after[k]) for k in before)


class Detached(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2 = nn.Linear(64, 32), nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)).detach())


def test_detach_leaves_params_without_grad(digits, tmp_path):
    run = monitored(Detached(), digits, tmp_path)
    assert run.context.flags["params_without_grad"] == 2
    assert np.all(values(run, "train/grad_norm@fc1") == 0) and np.all(
        values(run, "train/grad_norm@fc2") > 0
    )


def test_no_optimizer_step_gives_zero_update_ratio(digits, tmp_path):
    run = monitored(mlp(), digits, tmp_path, opt_step=False)
    assert np.all(values(run, "train/update_ratio@0") == 0) and np.all(
        values(run, "train/update_ratio") == 0
    )


def test_softmax_into_cross_entropy(digits, tmp_path):
    run = monitored(mlp(out=nn.Softmax(dim=-1)), digits, tmp_path)
    c = run.context
    assert c.model.output_activation == "softmax" and c.loss.expects == "logits"
    assert np.allclose(values(run, "train/output_row_sum"), 1.0, atol=1e-4)
    assert "CTX001" in {s.code for s in traindx.diagnose(run)[0].symptoms}


def test_softmax_over_batch_axis(digits, tmp_path):
    run = monitored(mlp(out=nn.Softmax(dim=0)), digits, tmp_path, crit=nn.NLLLoss())
    assert run.context.model.output_activation == "softmax"
    assert values(run, "train/output_row_sum").min() > 1.5
    assert run.context.flags["softmax_dim0"] is True
    assert not any("dim=0" in n for n in run.context.notes)  # the rulebook judges it (CTX014)
    assert "CTX014" in {s.code for s in traindx.diagnose(run)[0].symptoms}


class FunctionalSoftmax(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=-1)


def test_functional_softmax_is_inferred(digits, tmp_path):
    run = monitored(FunctionalSoftmax(), digits, tmp_path, steps=4)
    assert run.context.model.output_activation == "softmax"


def test_broadcast_in_mse(digits, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 1))
    x, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's own warning about the shapes
        run = monitored(model, digits, tmp_path, steps=8, crit=nn.MSELoss(), targets=y.float())
    c = run.context
    assert (
        c.flags["broadcast_in_loss"] is True
        and c.data.task == "regression"
        and c.loss.expects == "values"
    )
    assert "train/act_frac_saturated@1" in run.series
    assert c.data.class_counts is None


def test_mse_with_matching_shapes_does_not_flag(digits, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1), nn.Flatten(0))
    run = monitored(model, digits, tmp_path, steps=6, crit=nn.MSELoss(), targets=digits[1].float())
    assert run.context.flags["broadcast_in_loss"] is False


def test_dead_relu_layer(digits, tmp_path):
    model = mlp()
    with torch.no_grad():
        model[0].bias.fill_(-20.0)
    run = monitored(model, digits, tmp_path, steps=10)
    assert values(run, "train/act_frac_zero@1").min() > 0.99
    assert "ACT001" in {s.code for s in traindx.diagnose(run)[0].symptoms}


def test_nonfinite_inputs_counted(digits, tmp_path):
    x = digits[0].clone()
    x[3, 5] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the monitor's non-finite loss warning
        run = monitored(mlp(), digits, tmp_path, steps=4, every=10, inputs=x)
    assert run.context.flags["input_nonfinite"] == 1
    assert not np.isfinite(values(run, "train/loss")[0])


def test_nonfinite_loss_warns_once(digits, tmp_path):
    x = digits[0].clone()
    x[:, 0] = float("inf")
    with pytest.warns(RuntimeWarning, match="^traindx: training loss is nan") as rec:
        monitored(mlp(), digits, tmp_path, steps=5, inputs=x)
    assert len([w for w in rec if str(w.message).startswith("traindx:")]) == 1


# --------------------------------------------------------------------------- 4. failures


@pytest.mark.parametrize("target", ["activation_moments", "_telemetry"])
def test_internal_error_is_contained(digits, tmp_path, monkeypatch, target):
    def reference():
        model = mlp(dropout=0.2, seed=3)
        train(model, digits, 12)
        return model

    def boom(*a, **kw):
        raise ValueError("boom")

    ref = reference()
    model = mlp(dropout=0.2, seed=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if target == "activation_moments":
        monkeypatch.setattr(_torch_moments, "activation_moments", boom)
    else:
        monkeypatch.setattr(Monitor, "_telemetry", boom)
    with pytest.warns(RuntimeWarning, match="^traindx: the torch monitor turned itself off") as rec:
        mon = Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=1)
        train(model, digits, 12, mon, opt=opt)
        mon.close()
    assert len(rec) == 1
    assert not mon.enabled
    assert not model._forward_hooks and not any(m._forward_hooks for m in model.modules())
    assert "zero_grad" not in vars(opt) and "zero_grad" not in vars(model)
    assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), model.parameters(), strict=True))


def test_on_fatal_stop_raises_with_diagnosis(digits, tmp_path):
    x = digits[0].clone()
    x[6 * BS :, :] = float("nan")
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, on_fatal="stop")
    with pytest.raises(TrainingDiverged, match="loss is nan at step 6") as exc:
        train(model, digits, 10, mon, opt=opt, inputs=x)
    mon.close()
    diag = exc.value.diagnosis
    assert diag is not None and not diag.healthy
    run = run_of(tmp_path)
    assert run.context.flags["input_nonfinite"] == BS * 64
    assert len(run.series["train/loss"]) == 7
    # what ended the run is a recorded fact (issue 10): the fault's step, and that the Monitor stopped it
    assert run.context.flags["fatal_step"] == 6.0 and run.context.flags["stopped_by"] == "traindx"


def test_loop_left_by_an_exception_is_noted(digits, tmp_path):
    """A training loop left by an exception (a user's break) inside ``with Monitor(...)``: the
    context says the run was interrupted, so its short length is not read as its setting."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.raises(KeyboardInterrupt):
        with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path) as mon:
            train(model, digits, 3, mon, opt=opt)
            raise KeyboardInterrupt
    flags = run_of(tmp_path).context.flags
    assert flags["stopped_by"] == "interrupted" and "fatal_step" not in flags


class NanToZeroReLU(nn.Module):
    """ReLU as oneDNN computes it on AVX-512 CPUs: NaN becomes 0 (deterministic on any CPU)."""

    def forward(self, h):
        return torch.where(torch.isnan(h), 0.0, torch.relu(h))


def masked_mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), NanToZeroReLU(), nn.Linear(32, 10))


def test_nonfinite_grads_with_finite_loss_are_fatal(digits, tmp_path):
    """A NaN batch (step 3) through a ReLU that maps NaN to 0: the loss stays finite, the
    first layer's gradients (then weights) are NaN."""
    x = digits[0].clone()
    x[3 * BS : 4 * BS] = float("nan")
    model = masked_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=5, on_fatal="stop")
    what = "gradients are non-finite (global gradient norm nan) while the training loss is finite at step 3"
    with pytest.raises(TrainingDiverged, match=re.escape(what)) as exc:
        train(model, digits, 10, mon, opt=opt, inputs=x)
    mon.close()
    run = run_of(tmp_path)
    assert "WGT001" in {s.code for s in exc.value.diagnosis.symptoms}
    assert np.all(np.isfinite(values(run, "train/loss")))
    gn = values(run, "train/grad_norm")
    assert np.isnan(gn[3]) and np.all(np.isfinite(gn[:3]))
    assert run.context.flags["input_nonfinite"] == BS * 64  # the fatal step's inputs were checked


def test_nonfinite_weights_with_finite_grads_warn_once(digits, tmp_path):
    """One weight set to NaN between steps: its unit's output is masked, so the loss and every
    gradient stay finite; the weight norm of the next telemetry step is NaN."""
    model = masked_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.warns(RuntimeWarning, match="^traindx: weights are non-finite") as rec:
        with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=4) as mon:
            x_all, y_all = digits
            for i in range(12):
                if i == 6:
                    with torch.no_grad():
                        model[0].weight[0, 0] = float("nan")
                x, y = x_all[i * BS : (i + 1) * BS], y_all[i * BS : (i + 1) * BS]
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                mon.step(loss, inputs=x, targets=y)
                opt.step()
            diag = mon.diagnose()
    assert len([w for w in rec if str(w.message).startswith("traindx:")]) == 1
    assert "at step 8" in str(rec[0].message)
    run = run_of(tmp_path)
    assert np.all(np.isfinite(values(run, "train/loss"))) and np.all(np.isfinite(values(run, "train/grad_norm")))
    w = run.series["train/weight_norm"]
    assert list(w.steps) == [0, 4, 8] and np.isnan(w.values[-1])
    assert "WGT001" in {s.code for s in diag.symptoms} and "GRAD003" not in {s.code for s in diag.symptoms}


def test_every_is_adaptive_by_default(digits, tmp_path):
    model = mlp()
    with Monitor(model, None, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path) as mon:
        assert mon.every == 10
        train(model, digits, 21, mon)
    run = run_of(tmp_path)
    assert list(run.series["train/grad_norm@0"].steps[:2]) == [0, 10]
    assert "train/lr" not in run.series  # no optimizer given


class TinyLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.lstm(x.view(-1, 8, 8))[0][:, -1])


@pytest.mark.parametrize("arch", ["mlp", "lstm"])
def test_tiny_run_gets_32_evenly_spread_per_layer_samples(digits, tmp_path, arch):
    """A 550-step run of a tiny model (steps of a fraction of a millisecond, where one
    telemetry step costs more than a training step and the budget alone took it 2-4 times):
    per-layer gradient norms, weight norms, update ratios and activation statistics at >= 32
    steps, none of the run's 16 sixteenths without one, no gap longer than max(10, 550 / 32)
    steps; training bit-identical to the run without the Monitor (parameters, RNG state).
    Counts and spread, not timing. Update ratios and activations failed before (2-4 steps:
    telemetry steps only)."""

    def run(mon_dir):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10)) if arch == "mlp" else TinyLSTM()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        mon = Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=mon_dir) if mon_dir else None
        train(model, digits, 550, mon, opt=opt)
        if mon is not None:
            mon.close()
        return [p.detach().clone() for p in model.state_dict().values()], torch.get_rng_state(), mon

    (w0, rng0, _), (w1, rng1, mon) = run(None), run(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(w0, w1, strict=True))
    assert torch.equal(rng0, rng1)
    run_ = run_of(tmp_path)
    prefixes = ("train/grad_norm@", "train/weight_norm@", "train/update_ratio@", "train/act_mean@", "train/act_std@")
    layer_tags = [k for k in run_.series if k.startswith(prefixes)]
    assert {k.split("@")[0] + "@" for k in layer_tags} == set(prefixes)
    assert len([k for k in layer_tags if not k.startswith("train/act_")]) == 6  # two modules x 3
    for tag in layer_tags:
        steps = run_.series[tag].steps.astype(int).tolist()
        assert len(steps) >= 32, (tag, steps)
        assert set(range(16)) <= {s * 16 // 550 for s in steps}, (tag, steps)
        assert max(np.diff(steps + [550])) <= 550 // 32 + 1, (tag, steps)
    ratios = np.concatenate([run_.series[k].values for k in layer_tags if "update_ratio" in k])
    assert np.all(np.isfinite(ratios)) and np.all(ratios > 0)  # Adam moves every parameter
    assert mon._cad.taken < 32  # most are the cheap samples, not telemetry steps
    # the prediction statistic follows the samples to the end of training (it stopped at the
    # last telemetry step before, step 10 of 1,125 in qa_fresh26's waveform run)
    # so do the training accuracy and the input statistics (they stopped at the last
    # telemetry step too: a training accuracy at step 90 read against a loss at step 600)
    for tag in ("train/pred_class_frac:max", "train/accuracy", "train/input_mean", "train/input_std",
                "train/input_min", "train/input_max"):  # fmt: skip
        steps = run_.series[tag].steps.astype(int).tolist()
        assert len(steps) >= 32 and max(np.diff(steps + [550])) <= 2 * (550 // 32 + 1), (tag, steps)
        assert set(range(16)) <= {s * 16 // 550 for s in steps}, (tag, steps)
    acc = run_.series["train/accuracy"].values
    assert np.all((acc >= 0) & (acc <= 1)) and acc[-8:].mean() > acc[:2].mean()  # digits: it learns
    assert np.all(run_.series["train/input_min"].values <= run_.series["train/input_max"].values)


# --------------------------------------------------------------------------- 5. imports


def test_import_traindx_does_not_import_torch():
    code = (
        "import sys, traindx, traindx.adapters, traindx.adapters._common, traindx.api;"
        "traindx.Run; traindx.diagnose;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- cadence


def test_adaptive_cadence_keeps_within_budget():
    from traindx.adapters._common import Cadence

    def window(cad, other, extra, grad=0.0, interval=1e-3, start=100_000):
        # `every` steps of `interval` seconds, each costing `other` + `grad` of adapter time,
        # plus one telemetry step's `extra` (late in a long run: the coverage floor does not bind)
        t, own = 0.0, 0.0
        cad.advance(0, 0.0)
        for _ in range(cad.every):
            cad.record(t, other + grad, grad)
            t += interval
            own += other + grad
        cad.advance(start + cad.every, own + extra)
        return cad

    cad = window(Cadence(None), other=5e-6, extra=1e-3)  # 0.5 % floor; a telemetry step = 1 step
    assert cad.every == 80 and cad.grad_stride == 1  # 0.5 % + 100 %/80 < 2 %
    assert cad.overhead == pytest.approx(0.005 + 0.1)
    assert window(Cadence(None), other=5e-6, extra=0.0).every == 10
    cad = window(Cadence(None), other=5e-6, grad=25e-6, extra=1e-4)  # the norm alone is 2.5 %
    assert cad.grad_stride == 4 and cad.every == 20  # 0.5 % + 2.5 %/4 + 10 %/20 < 2 %
    cad = window(Cadence(None), other=30e-6, grad=5e-6, extra=1e-4)  # over budget without it
    assert cad.grad_stride == 16
    fixed = window(Cadence(3), other=30e-6, extra=1e-2)
    assert fixed.every == 3 and fixed.grad_stride == 1


def test_cadence_is_not_moved_by_preempted_steps():
    """Other processes preempt the training process anywhere, the adapter's code included:
    a few steps whose own time holds a 4 ms time slice (here 1 in 8, on 1 ms steps) leave
    the floor, the gradient-norm stride and the interval where the quiet run has them,
    because each kind of own time is a median; a flush (periodic work, 1 ms per window)
    counts at its share."""
    from traindx.adapters._common import Cadence

    def run(spike, periodic=0.0):
        cad = Cadence(None)
        t, own = 0.0, 0.0
        for s in range(2000):
            if s == cad.next:
                own += 2e-4  # a telemetry step: 20 % of a step
                cad.advance(s, own)
            d = 5e-6 + 8e-6 + (spike if s % 8 == 3 else 0.0)  # loss etc. + the gradient norm
            p = periodic if s % 40 == 7 else 0.0
            own += d + p
            cad.record(t, d + p, 8e-6, p)
            t += 1e-3 + (spike if s % 8 == 3 else 0.0)
        return cad

    quiet, loaded = run(0.0), run(4e-3)
    assert quiet.grad_stride == 1 and quiet.every == 40  # 1.3 % floor, 20 % / 40 within the rest
    assert (loaded.grad_stride, loaded.every) == (quiet.grad_stride, quiet.every)
    assert loaded.overhead == pytest.approx(quiet.overhead, rel=0.05)
    flushed = run(0.0, periodic=1e-3)  # 25 us per step on average: over 3/4 of the budget
    assert flushed.grad_stride > 1 and flushed.overhead > quiet.overhead + 0.02


def test_cadence_coverage_floor_spreads_samples_over_any_run_length():
    """Whatever a telemetry step costs (here 50 steps' time: the budget thins telemetry out
    to every few hundred steps), a run of N steps gets >= 32 per-layer samples (telemetry
    steps and the cheaper coverage samples between them) with no gap longer than
    max(10, N / 32)."""
    from traindx.adapters._common import Cadence

    for n_steps in (320, 550, 2000, 50_000):
        cad = Cadence(None)
        taken, own, t = [], 0.0, 0.0
        for s in range(n_steps):
            extra = 0.0
            if s == cad.next:
                taken.append(s)
                extra = 0.05
                cad.advance(s, own + extra)
            elif cad.sample_due(s):
                taken.append(s)
                cad.sampled(s)
            own += 1e-5 + extra
            cad.record(t, 1e-5 + extra)
            t += 1e-3 + extra
        gaps = np.diff(taken + [n_steps])
        assert len(taken) >= 32 and gaps.max() <= max(10, n_steps / 32) + 1, (n_steps, len(taken), gaps.max())
        assert cad.samples == len(taken) and cad.samples < 32 * (2 + np.log(max(n_steps / 320, 1)))
        if n_steps >= 2000:
            assert cad.every >= 320 and cad.taken < 16  # the expensive pass stays within budget
    assert not Cadence(None, min_samples=None).sample_due(10**6)


def test_cadence_async_steps_measure_device_time():
    """Steps dispatched ahead of the device (Keras on JAX) look 20x shorter than they are
    between step starts, and the first device read at the telemetry step waits for the
    backlog: the async estimate uses the window's mean interval (less the adapter's own time),
    so the self-measured overhead is the true one, not 20x it."""
    from traindx.adapters._common import Cadence

    est = {}
    for async_steps in (False, True):
        cad = Cadence(None, budget=0.05, async_steps=async_steps)
        cad.advance(0, 0.0)
        t, own = 0.0, 0.0
        for k in range(11):  # 10 steps of 1 ms device time, dispatched in 0.05 ms each
            cad.record(t, 1e-5)
            own += 1e-5
            t += 5e-5 if k < 9 else 10e-3 - 9 * 5e-5  # the last interval holds the backlog wait
        cad.advance(10_000, own + 1e-4)  # a telemetry step of 0.1 ms (+ 0.1 ms floor): 2 % of 10 ms
        est[async_steps] = cad.overhead
    assert est[True] == pytest.approx(0.02, rel=0.05)
    assert est[False] > 0.3  # the median interval alone reads 0.05 ms steps


@pytest.mark.parametrize("stride", [1, 4])
def test_grad_norm_values(digits, tmp_path, stride):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = nn.CrossEntropyLoss()
    x_all, y_all = digits
    expected = {}
    with Monitor(model, opt, loss_fn=crit, logdir=tmp_path, every=5) as mon:
        mon._cad.grad_stride = stride  # as the adaptive cadence sets it for tiny, fast models
        for i in range(23):
            x, y = x_all[i * 32 : (i + 1) * 32], y_all[i * 32 : (i + 1) * 32]
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            expected[i] = float(torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters())))
            mon.step(loss, inputs=x, targets=y)
            opt.step()
    run = run_of(tmp_path)
    gn = run.series["train/grad_norm"]
    want = [i for i in range(23) if i % stride == 0 or i % 5 == 0]
    assert list(gn.steps) == want
    np.testing.assert_allclose(gn.values, [expected[i] for i in want], rtol=1e-5)
    assert list(run.series["train/loss"].steps) == list(range(23))


def test_missing_torch_gives_a_clear_import_error():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import traindx.adapters.torch\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert (
        out.stdout.strip() == "traindx.adapters.torch needs PyTorch: pip install 'traindx[torch]'"
    )


def test_class_counts_skip_ignored_labels(digits, tmp_path):
    y = digits[1].clone()
    y[::4] = -100  # CrossEntropyLoss's ignore_index
    run = monitored(mlp(), digits, tmp_path, steps=5, targets=y)
    counts = run.context.data.class_counts
    assert sum(counts) == 5 * BS - 5 * BS // 4 and len(counts) == 10


# --------------------------------------------------------------------------- 4. init and targets


def deep_mlp(init=None, out_init=None, n_out=10, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, n_out)
    )
    with torch.no_grad():
        for m in list(model)[:-1]:
            if isinstance(m, nn.Linear) and init is not None:
                init(m.weight)
        if out_init is not None:
            out_init(model[-1].weight)
    return model


def scales(run):
    f = run.context.flags
    return f["init_scale_min"], f["init_scale_max"], f["init_scale_layer"]


def test_init_scale_default_he_and_zero_output(digits, tmp_path):
    lo, hi, _ = scales(monitored(deep_mlp(), digits, tmp_path / "default", steps=3))
    assert 0.5 < lo <= hi < 0.65  # kaiming_uniform(a=sqrt(5)): 1/sqrt(3)
    lo, hi, _ = scales(monitored(deep_mlp(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
                                 digits, tmp_path / "he", steps=3))  # fmt: skip
    assert 1.2 < lo <= hi < 1.6
    # a zero output layer is good practice: it is left out
    lo, hi, _ = scales(
        monitored(deep_mlp(out_init=nn.init.zeros_), digits, tmp_path / "zero_out", steps=3)
    )
    assert 0.5 < lo <= hi < 0.65


def test_init_scale_flags_zero_and_large_init(digits, tmp_path):
    def zeros(model):
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        return model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run = monitored(zeros(deep_mlp()), digits, tmp_path / "zeros", steps=12)
    assert scales(run) == (0.0, 0.0, "0")
    assert run.context.model.output_activation == "linear"  # all-zero output: not a ReLU
    lo, hi, layer = scales(monitored(deep_mlp(lambda w: nn.init.normal_(w, 0.0, 2.0)), digits, tmp_path / "big",
                                     steps=3))  # fmt: skip
    assert hi == pytest.approx(16.0, rel=0.1) and layer == "0"  # 2 * sqrt(64)
    assert lo > 8.0  # 2 * sqrt(32) for layer 2


class HeadFirst(nn.Module):
    """The output layer registered before the body: the first forward says which is last."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.head = nn.Linear(32, 10)
        self.body = nn.Linear(64, 32)
        self.emb = nn.Embedding(5, 64)  # left out
        nn.init.zeros_(self.head.weight)

    def forward(self, x):
        return self.head(torch.relu(self.body(x + self.emb.weight[0])))


def test_init_scale_output_layer_from_the_forward(digits, tmp_path):
    lo, hi, layer = scales(monitored(HeadFirst(), digits, tmp_path, steps=3))
    assert 0.5 < lo <= hi < 0.65 and layer == "body"


def test_init_scale_not_taken_after_updates(digits, tmp_path):
    model = deep_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, digits, 2, opt=opt)  # Adam holds state: the weights are no longer the initial ones
    with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=1) as mon:
        train(model, digits, 2, mon, opt=opt)
    assert "init_scale_min" not in run_of(tmp_path).context.flags


def mse_on_labels(out, y):
    return nn.functional.mse_loss(out.squeeze(1), y.float())


def test_mse_onto_integer_labels(digits, tmp_path):
    # a single output in (0, 1) at first: a regression, not a sigmoid
    model = deep_mlp(n_out=1)
    with torch.no_grad():
        model[-1].weight.mul_(0.01)
        model[-1].bias.fill_(0.5)
    for i, crit in enumerate((mse_on_labels, nn.MSELoss())):
        targets = digits[1] if i == 0 else digits[1].float().unsqueeze(1)
        run = monitored(model, digits, tmp_path / str(i), steps=4, crit=crit, targets=targets)
        c = run.context
        assert c.model.output_activation == "linear", crit
        assert c.flags["target_integer"] is True and c.flags["target_distinct"] == 10
        assert (c.flags["target_min"], c.flags["target_max"]) == (0.0, 9.0)  # MSE on class ids: silent in torch
    run = monitored(deep_mlp(n_out=1), digits, tmp_path / "float", steps=4, crit=nn.MSELoss(),
                    targets=(digits[1].float() / 3.0).unsqueeze(1))  # fmt: skip
    assert run.context.flags["target_integer"] is False
    # one-hot targets: not one value per example, no per-example flags; the rows' kind instead
    onehot = nn.functional.one_hot(digits[1], 10).float()
    run = monitored(deep_mlp(), digits, tmp_path / "onehot", steps=2, targets=onehot)
    f = run.context.flags
    assert "target_integer" not in f and "target_distinct" not in f
    assert (f["target_kind"], f["target_onehot"], f["target_row_sum"], f["target_max"]) == ("onehot", True, 1.0, 1.0)


def test_functional_sigmoid_with_bce_is_still_inferred(digits, tmp_path):
    class Sig(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc = nn.Linear(64, 1)

        def forward(self, x):
            return torch.sigmoid(self.fc(x)).squeeze(1)

    run = monitored(
        Sig(), digits, tmp_path, steps=3, crit=nn.BCELoss(), targets=(digits[1] > 4).float()
    )
    c = run.context
    assert c.model.output_activation == "sigmoid"
    assert c.flags["target_integer"] is True and c.flags["target_distinct"] == 2


def test_infer_activation_needs_positive_values_for_relu():
    zeros = torch.zeros(8, 10)
    assert _torch_stats.infer_activation(zeros, -1) == "linear"
    relu = torch.relu(torch.linspace(-1, 1, 80).reshape(8, 10))
    assert _torch_stats.infer_activation(relu, -1) == "relu"
    mid = torch.linspace(0.2, 0.8, 8).reshape(8, 1)
    assert _torch_stats.infer_activation(mid, -1) == "sigmoid"
    assert _torch_stats.infer_activation(mid, -1, "regression") == "linear"


def test_weight_tensors_skip_embeddings_and_rnn_input_weights():
    model = nn.ModuleDict(
        {"emb": nn.Embedding(10, 8), "gru": nn.GRU(1, 16, num_layers=2), "fc": nn.Linear(16, 3)}
    )
    names = [n for n, _, _ in _torch_init.weight_tensors(model)]
    assert names == ["gru.weight_hh_l0", "gru.weight_ih_l1", "gru.weight_hh_l1", "fc"]
    scales = _torch_init.init_scales(_torch_init.weight_tensors(model))
    assert all(0.5 < s < 0.65 for s in scales[:3])  # torch's U(+-1/sqrt(hidden)) on fan_in 16


# --------------------------------------------------------------------------- AMP, torch.compile


def _amp_or_compiled(data, tmp_path, mode: str, monitored: bool):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    fwd = torch.compile(model) if mode == "compile" else model
    mon = Monitor(model, opt, loss_fn=crit, logdir=tmp_path / mode) if monitored else None
    x_all, y_all = data
    for i in range(40):
        x, y = x_all[(i % 12) * BS : (i % 12 + 1) * BS], y_all[(i % 12) * BS : (i % 12 + 1) * BS]
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "amp"):
            loss = crit(fwd(x), y)
        loss.backward()
        if mon is not None:
            mon.step(loss, inputs=x, targets=y)
        opt.step()
    if mon is not None:
        mon.close()
    return model


# Dynamo warns about a non-leaf .grad when it graph-breaks at any compiler.disable'd forward
# hook (its own inspection; a plain no-op hook does the same in torch 2.13).
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")
@pytest.mark.parametrize("mode", ["amp", pytest.param("compile", marks=pytest.mark.slow)])
def test_amp_and_compiled_models_train_identically_and_are_recorded(digits, tmp_path, mode):
    with_mon = _amp_or_compiled(digits, tmp_path, mode, True)
    without = _amp_or_compiled(digits, tmp_path, mode, False)
    assert all(torch.equal(a, b) for a, b in zip(with_mon.parameters(), without.parameters(), strict=True))
    run = run_of(tmp_path / mode)
    assert np.isfinite(values(run, "train/loss")).all()
    assert any(str(k).startswith("train/act_frac_zero@") for k in run.series)
    assert any(str(k).startswith("train/grad_norm@") for k in run.series)


def test_values_beyond_float32_are_inf_with_a_note(digits, tmp_path):
    """Event files store float32: a perplexity of e^100 or a float64 loss of 1e45 is written
    as inf and named in a note; the monitor stays on, with no warning (numpy's overflow
    warning included), and a value that is not a number is skipped with a note."""
    import math

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=2) as mon:
            for i in range(6):
                x, y = digits[0][i * BS : (i + 1) * BS], digits[1][i * BS : (i + 1) * BS]
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                mon.step(torch.tensor(1e45, dtype=torch.float64) if i == 4 else loss, inputs=x, targets=y)
                opt.step()
            mon.log(val_perplexity=math.exp(100), val_loss=torch.tensor(-1e300, dtype=torch.float64),
                    val_accuracy=10**400, val_note="n/a")  # fmt: skip
            assert mon.enabled
    run = run_of(tmp_path)
    loss = values(run, "train/loss")
    assert loss[4] == math.inf and np.all(np.isfinite(np.delete(loss, 4)))
    assert values(run, "val/perplexity")[0] == math.inf and values(run, "val/loss")[0] == -math.inf
    assert values(run, "val/accuracy")[0] == math.inf
    notes = run.context.notes
    assert any(n.startswith("values above float32's maximum") and "train/loss" in n and "val/perplexity" in n
               for n in notes), notes  # fmt: skip
    assert any("'val_note' is not a number (str); skipped" in n for n in notes), notes


# --------------------------------------------------------------------------- 5. user objects untouched


def _state(model, opt):
    """What the user can see of a model and its optimizer: attributes, bound methods, hooks."""
    mods = {n: (sorted(vars(m)), dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks))
            for n, m in model.named_modules()}  # fmt: skip
    params = {n: (p._backward_hooks, getattr(p, "_post_accumulate_grad_hooks", None)) for n, p in model.named_parameters()}
    meth = {k: getattr(type(model), k) is getattr(model, k).__func__ for k in ("zero_grad", "forward", "train")}
    return mods, params, meth, sorted(vars(opt)), type(opt).zero_grad is opt.zero_grad.__func__


@pytest.mark.parametrize("order", ["created", "reversed"])
def test_model_pickles_copies_and_is_left_as_it_was(digits, tmp_path, order):
    """torch.save / pickle / deepcopy of the model and optimizer while monitors are armed (every
    step a telemetry step); two monitors closed in either order leave both exactly as before."""
    import copy
    import io
    import pickle

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    before = _state(model, opt)
    globals_before = dict(nn.modules.module._global_forward_hooks)
    mons = [Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path / f"m{k}", every=1) for k in range(2)]
    train(model, digits, 3, mons[0], opt=opt)
    buf = io.BytesIO()
    torch.save(model, buf)
    torch.save(opt, io.BytesIO())
    again = pickle.loads(pickle.dumps(model))
    twin = copy.deepcopy(model)
    copy.deepcopy(opt)
    for m in (again, twin):  # the copies carry nothing of the monitors
        assert not any(mm._forward_hooks for mm in m.modules())
        assert not any(p._backward_hooks for p in m.parameters())
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    assert all(torch.equal(a, b) for a, b in zip(loaded.parameters(), model.parameters(), strict=True))
    for m in mons if order == "created" else mons[::-1]:
        m.close()
    assert _state(model, opt) == before
    assert dict(nn.modules.module._global_forward_hooks) == globals_before
    assert all(mon.enabled is False and not mon._disabled for mon in mons)  # closed, no internal error


def test_deepcopy_trained_alongside_is_unchanged(digits, tmp_path):
    """An EMA-style copy (deepcopy) trained alongside with its own optimizer ends with the same
    weights with and without a Monitor on the original (the copy's zero_grad clears only its
    own gradients, and its forward passes are not recorded)."""
    import copy

    def run(monitored):
        model = mlp(seed=4)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        mon = Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path / str(monitored), every=2) if monitored else None
        twin = copy.deepcopy(model)  # made while the monitor is alive (and armed)
        opt2 = torch.optim.SGD(twin.parameters(), lr=0.02)
        x_all, y_all = digits
        for i in range(8):
            x, y = x_all[i * BS : (i + 1) * BS], y_all[i * BS : (i + 1) * BS]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            if mon is not None:
                mon.step(nn.functional.cross_entropy(model(x), y).detach(), inputs=x, targets=y)
            twin.zero_grad()  # the copy's own zero_grad: its gradients only
            nn.functional.cross_entropy(twin(x), y).backward()
            opt.step()
            opt2.step()
        if mon is not None:
            mon.close()
        return model, twin

    (a, b), (a0, b0) = run(True), run(False)
    for m, m0 in ((a, a0), (b, b0)):
        assert all(torch.equal(p, q) for p, q in zip(m.parameters(), m0.parameters(), strict=True))
    run_ = run_of(tmp_path / "True")
    assert run_.context.flags["grad_accumulating"] is False


def test_micro_batch_accumulation_is_not_flagged(digits, tmp_path):
    """Deliberate accumulation: zero_grad once per optimizer step, 4 backward calls before it,
    mon.step once per optimizer step - not grad_accumulating; without zero_grad it is."""
    for zero, expect in ((True, False), (False, True)):
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        logdir = tmp_path / str(zero)
        with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=logdir, every=1) as mon:
            x_all, y_all = digits
            for i in range(8):
                if zero:
                    opt.zero_grad()
                for k in range(4):
                    j = (i * 4 + k) % 12
                    x, y = x_all[j * BS : (j + 1) * BS], y_all[j * BS : (j + 1) * BS]
                    loss = nn.functional.cross_entropy(model(x), y) / 4
                    loss.backward()
                mon.step(loss, inputs=x, targets=y)
                opt.step()
        assert run_of(logdir).context.flags["grad_accumulating"] is expect, zero


def test_large_integer_targets_are_not_counted_as_classes(digits, tmp_path):
    """Integer targets up to 2e8 with a loss the monitor does not know (issue: bincount took
    25 s, 5.8 GB and a 1.2 GB context.json): not class ids, no counts, a note; fast."""
    import time as _time

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)

    def my_loss(out, y):
        return (out.mean(1) - y.double().log1p().float()).pow(2).mean()

    rng = np.random.default_rng(0)
    big = torch.tensor(rng.integers(0, 200_000_000, size=(12, 4096)))
    x = torch.randn(4096, 64)
    t0 = _time.perf_counter()
    with Monitor(model, opt, loss_fn=my_loss, logdir=tmp_path, every=2) as mon:
        for i in range(12):
            opt.zero_grad()
            loss = my_loss(model(x), big[i])
            loss.backward()
            mon.step(loss, inputs=x, targets=big[i])
            opt.step()
    took = _time.perf_counter() - t0
    assert took < 10.0, took
    assert (tmp_path / "context.json").stat().st_size < 64_000
    run = run_of(tmp_path)
    assert run.context.data.class_counts is None and run.context.data.num_classes is None
    assert any(n.startswith("targets reach ") and "not class ids below 4" in n for n in run.context.notes)


def test_class_ids_beyond_the_output_width_are_not_counted(digits, tmp_path):
    """Integer targets of a recognised classification loss are counted while below the output
    width (10 here: digit labels); ignore_index (-100) is left out."""
    y = digits[1].clone()
    y[::7] = -100
    run = monitored(mlp(), (digits[0], y), tmp_path, steps=6, crit=nn.CrossEntropyLoss(ignore_index=-100))
    counts = run.context.data.class_counts
    assert counts is not None and len(counts) <= 10 and sum(counts) == int((y[: 6 * BS] >= 0).sum())


def test_the_configured_lr_is_recorded_under_a_warmup_from_zero(digits, tmp_path):
    # HF's Trainer and LambdaLR warm-ups set the LR to 0 before the first step; the run's
    # LR is the scheduler's base (``initial_lr``), not 0 (which reads as "LR is zero").
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / 10))
    assert opt.param_groups[0]["lr"] == 0.0
    with Monitor(model, opt, logdir=tmp_path / "w") as mon:
        assert mon.context.optimizer.lr == pytest.approx(1e-3)
        for _ in range(30):
            train(model, digits, 1, mon, opt=opt)
            sched.step()
    plain = mlp()
    with Monitor(plain, torch.optim.SGD(plain.parameters(), lr=0.05), logdir=tmp_path / "p") as mon:
        assert mon.context.optimizer.lr == pytest.approx(0.05)
    (run,) = traindx.read(tmp_path / "w")
    assert run.context.optimizer.lr == pytest.approx(1e-3)
    assert "LR003" not in {s.code for s in traindx.diagnose(run).runs[0].symptoms}
