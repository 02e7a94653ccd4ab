"""The torch Monitor's ``grads_carried_over`` fact: the share of checked optimizer steps whose
first backward added onto the previous step's gradient (no zero_grad between them). Real
torch loops: never zeroed, zeroed (to None and to 0), zeroed every k steps, legitimate
accumulation over micro-batches (mon.step per optimizer step and per micro-batch), a run that
diverges before its first telemetry step; the monitor never changes training."""

from __future__ import annotations

import copy
import pickle

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from digits import scaled_digits  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = pytest.mark.torch
BS = 32


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits():
    x, y = scaled_digits(640)
    return torch.from_numpy(x), torch.from_numpy(y)


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def _batch(data, i):
    x, y = data
    n = len(x) // BS
    j = i % n
    return x[j * BS : (j + 1) * BS], y[j * BS : (j + 1) * BS]


def _run(model, opt, data, steps, mon=None, *, zero="step", micro=1, mon_per_micro=False):
    """``zero``: "step" (zero_grad() before each optimizer step's backwards), "zeros"
    (zero_grad(set_to_none=False)), "never", or an int k (zero_grad every k optimizer steps).
    ``micro``: backwards accumulated per optimizer step (each loss divided by it)."""
    crit = nn.CrossEntropyLoss()
    b = 0
    for i in range(steps):
        if zero == "step" or (isinstance(zero, int) and i % zero == 0):
            opt.zero_grad()
        elif zero == "zeros":
            opt.zero_grad(set_to_none=False)
        for _ in range(micro):
            x, y = _batch(data, b)
            b += 1
            loss = crit(model(x), y) / micro
            loss.backward()
            if mon is not None and mon_per_micro:
                mon.step(loss, inputs=x, targets=y)
        if mon is not None and not mon_per_micro:
            mon.step(loss, inputs=x, targets=y)
        opt.step()


def _monitored(data, tmp_path, steps=40, every=5, lr=0.01, **kw):
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=every) as mon:
        _run(model, opt, data, steps, mon, **kw)
    (run,) = traindx.read(tmp_path)
    return run


def _top(run) -> str | None:
    causes = traindx.diagnose(run).runs[0].causes
    return causes[0].id if causes else None


@pytest.mark.parametrize(
    ("zero", "carried", "accumulating"),
    [("never", 1.0, True), ("step", 0.0, False), ("zeros", 0.0, False)],
)
def test_carried_over_share(digits, tmp_path, zero, carried, accumulating):
    flags = _monitored(digits, tmp_path / zero, zero=zero).context.flags
    assert flags["grads_carried_over"] == carried
    assert flags["grad_accumulating"] is accumulating


def test_reset_every_k_steps(digits, tmp_path):
    """zero_grad every 4 optimizer steps (once per 'epoch'): 3 of every 4 steps add onto the
    step before's gradient."""
    flags = _monitored(digits, tmp_path, steps=48, every=1, zero=4).context.flags
    assert flags["grads_carried_over"] == pytest.approx(0.75, abs=0.03)
    assert flags["grad_accumulating"] is True


@pytest.mark.parametrize("mon_per_micro", [False, True])
def test_legitimate_accumulation_is_not_carry_over(digits, tmp_path, mon_per_micro):
    """4 micro-batches per optimizer step, zero_grad once per optimizer step; mon.step once per
    optimizer step, or once per micro-batch (the backwards before the first optimizer step
    add onto each other on purpose too)."""
    flags = _monitored(digits, tmp_path, steps=12, every=1, micro=4, mon_per_micro=mon_per_micro).context.flags
    assert flags["grads_carried_over"] == 0.0
    assert flags["grad_accumulating"] is False


def test_early_divergence_is_seen_before_telemetry(digits, tmp_path):
    """A loop without zero_grad at SGD LR 1 learns for 6 steps, then the accumulated steps
    throw the loss back up; the first telemetry step after step 0 comes too late (every=50):
    the first steps' check still sees the gradient carried over."""
    run = _monitored(digits, tmp_path, steps=30, every=50, lr=1.0, zero="never")
    flags = run.context.flags
    assert flags["grad_accumulating"] is True and flags["grads_carried_over"] == 1.0
    assert _top(run) == "grad_not_zeroed"


@pytest.mark.parametrize(("zero", "carried"), [("never", 1.0), ("step", 0.0)])
def test_nan_gradient_is_not_a_reset_one(digits, tmp_path, zero, carried):
    """A NaN input row in the third batch makes that step's gradients (and, after the step,
    the weights) NaN: without zero_grad the NaN gradient is carried over (it is not a reset
    one); with zero_grad each step still starts from a reset gradient."""
    import warnings

    x, y = digits
    x = x.clone()
    x[2 * BS + 1, 5] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the monitor's non-finite warning
        run = _monitored((x, y), tmp_path, steps=12, every=50, zero=zero)
    assert run.context.flags["grads_carried_over"] == carried


def test_never_zeroed_is_diagnosed(digits, tmp_path):
    run = _monitored(digits, tmp_path, steps=60, every=5, lr=0.05, zero="never")
    assert _top(run) == "grad_not_zeroed"


def test_training_is_bit_identical_and_hooks_removed(digits, tmp_path):
    """The same loop (no zero_grad, so every step reads the gradient the hook saw) with and
    without the monitor: identical weights; after close no hook is left on the watched
    parameter; the model deep-copies and pickles."""
    def train(mon_dir):
        model = _mlp(seed=3)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        if mon_dir is None:
            _run(model, opt, digits, 20, None, zero="never")
        else:
            with Monitor(model, opt, loss_fn=nn.CrossEntropyLoss(), logdir=mon_dir, every=3) as mon:
                _run(model, opt, digits, 20, mon, zero="never")
        return model

    a, b = train(tmp_path), train(None)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert all(torch.equal(p.grad, q.grad) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert all(not p._backward_hooks for p in a.parameters())
    copy.deepcopy(a)
    pickle.loads(pickle.dumps(a))


@pytest.mark.parametrize(("zero", "micro", "carried"), [("never", 1, 1.0), ("step", 4, 0.0)])
def test_without_the_optimizer_its_steps_are_still_seen(digits, tmp_path, zero, micro, carried):
    """Monitor(model) with no optimizer given: the steps of the optimizer holding the model's
    parameters still tell legitimate accumulation (mon.step per micro-batch, optimizer.step
    every 4) from gradients never reset."""
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    other = torch.optim.SGD(_mlp(seed=1).parameters(), lr=0.01)  # another model's: not counted
    with Monitor(model, None, loss_fn=nn.CrossEntropyLoss(), logdir=tmp_path, every=1) as mon:
        _run(model, opt, digits, 12, mon, zero=zero, micro=micro, mon_per_micro=True)
        other.step()
    (run,) = traindx.read(tmp_path)
    assert run.context.flags["grads_carried_over"] == carried
    assert run.context.flags["grad_accumulating"] is (carried > 0)
