"""Pure detectors behind LOSS016/LOSS017 (exact repeats) and ACC007 (accuracy vs the
cross-entropy bound), on real runs of a tiny torch model where it matters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from traindx.signals.compare import ce_accuracy_bound, double_softmax_floor, loss_when_scored
from traindx.signals.curve import curve_facts, repeat_facts


def test_repeat_facts_frozen_partly_and_moving():
    frozen = repeat_facts(np.full(12, 0.6931472))
    assert frozen == {"repeat_frac": 1.0, "frozen_tail": 1.0, "still_tail": 1.0, "print_rel": 0.0}
    later = repeat_facts(np.array([1.0, 0.8, 0.7, 0.65, 0.6, 0.6, 0.6, 0.6, 0.6]))
    assert later["repeat_frac"] == pytest.approx(4 / 8)
    assert later["frozen_tail"] == pytest.approx(4 / 8)
    moving = repeat_facts(2.3 - 1e-4 * np.arange(20))  # tiny steps still move the loss
    assert moving["repeat_frac"] == 0.0 and moving["frozen_tail"] == 0.0
    assert repeat_facts(np.array([1.0, np.nan])) == {}


@pytest.mark.parametrize(
    ("values", "step"),
    [
        ([2.31, 2.30, 2.31, 2.29], 0.01),  # ignite's 'Avg loss: 2.30': two decimals
        ([0.6931, 0.6932, 0.6931], 1e-4),
        (np.array([2.31, 2.3, 2.29], dtype=np.float32), 0.01),  # a float32 copy of the printed values
        ([2.302585124969, 2.30258512, 2.3025851], 0.0),  # more digits than a float32 holds: logged in full
        ([0.25, 0.25, 0.25], 0.0),  # one distinct value shows no decimals
        ([0.0, 0.0, 0.0], 0.0),
    ],
)
def test_print_rel_is_the_printed_step_over_the_values_size(values, step):
    y = np.asarray(values, dtype=float)
    got = repeat_facts(np.concatenate([y, y[:1]]))["print_rel"]
    assert got == pytest.approx(step / np.median(np.unique(np.abs(y[y != 0]))) if step else 0.0, rel=1e-3)


def test_still_tail_is_a_loss_frozen_to_five_digits():
    # qa_real39's Keras NaN-humidity run: a constant-output model, the loss moves in the 5th digit
    frozen5 = np.concatenate([[2.58, 1.96, 1.30, 0.93, 0.835], 0.82723 + 2.2e-5 * np.arange(20)])
    f = repeat_facts(frozen5)
    assert f["repeat_frac"] == 0.0  # not bit-identical: LOSS016/017 do not see it
    assert f["still_tail"] == pytest.approx(19 / 24)
    # a converging loss moving by 1e-3 of its level per epoch is not still
    assert repeat_facts(0.5 * 0.999 ** np.arange(30))["still_tail"] == 0.0


def test_curve_facts_carry_repeats_ignoring_nonfinite():
    f = curve_facts(np.arange(6), np.array([0.5, np.nan, 0.5, 0.5, 0.5, 0.5]))
    assert f["repeat_frac"] == 1.0


def test_quantum_is_one_example_of_an_accuracy_on_n():
    # validation accuracy on 143 examples as float32 shares: every change and the last value
    # are whole multiples of 1/143
    counts = np.array([140, 140, 141, 139, *[141] * 36])
    f = curve_facts(np.arange(counts.size), (counts / 143).astype(np.float32).astype(float))
    assert f["quantum"] == pytest.approx(1 / 143, rel=1e-4)
    # a continuous quantity (a loss), or one value throughout: no quantum
    assert curve_facts(np.arange(40), 2.3 * 0.93 ** np.arange(40))["quantum"] == 0.0
    assert curve_facts(np.arange(20), np.full(20, 0.9))["quantum"] == 0.0
    # a few jumps whose least is no whole fraction of the others: no quantum either
    jumps = np.array([0.2, 0.5, 0.5, 0.9, 0.9, 0.97, 0.97, 0.97])
    assert curve_facts(np.arange(8), jumps)["quantum"] == 0.0


def test_quantum_when_the_least_change_is_several_examples():
    # 45 validation examples whose accuracy moved by 3 and then 2 of them (42, 45, 43 right):
    # the least change is 2/45, the quantum 1/45
    counts = np.array([42, 45, 45, *[43] * 49])
    f = curve_facts(np.arange(counts.size), (counts / 45).astype(np.float32).astype(float))
    assert f["quantum"] == pytest.approx(1 / 45, rel=1e-4)
    # least change 0.07, others 0.3 and 0.4: a 1/n quantum would need n = 100 steps of 7 -
    # no whole fraction up to a fifth of 0.07 divides them all: still no quantum
    jumps = np.array([0.2, 0.5, 0.5, 0.9, 0.9, 0.97, 0.97, 0.97])
    assert curve_facts(np.arange(8), jumps)["quantum"] == 0.0
    # changes of 0.2 and 0.3 (1/20 = a quarter of the least) but a last value of 0.555, no
    # whole multiple of 1/20 (nor of 0.2/k for k up to 5): no quantum
    assert curve_facts(np.arange(4), np.array([0.255, 0.455, 0.755, 0.555]))["quantum"] == 0.0
    # the same changes ending at 0.55 = 11/20: quantum 1/20
    assert curve_facts(np.arange(4), np.array([0.25, 0.45, 0.75, 0.55]))["quantum"] == pytest.approx(0.05)


def test_accuracy_over_the_true_class_probability():
    # exp(-L) is the geometric mean of p(true class): 94 % right at L = 1.6 gives it ~0.2
    assert ce_accuracy_bound(1.6, 0.94)["acc_over_p_true"] == pytest.approx(0.94 - math.exp(-1.6))
    assert ce_accuracy_bound(0.1, 0.95)["acc_over_p_true"] < 0.1  # confident and right


def test_ce_bound_is_the_markov_bound():
    # L = ln 2 / 4: at most a quarter of the examples can be wrong
    b = ce_accuracy_bound(math.log(2) / 4, 0.5)
    assert b["ce_acc_bound"] == pytest.approx(0.75)
    assert b["acc_below_ce_bound"] == pytest.approx(0.25)
    assert ce_accuracy_bound(2.3, 0.1)["acc_below_ce_bound"] < 0  # chance-level CE allows anything
    assert ce_accuracy_bound(-0.5, 0.1) == {} and ce_accuracy_bound(None, 0.4) == {}
    assert ce_accuracy_bound(float("nan"), 0.4) == {}


def test_the_bound_reads_the_loss_of_when_the_accuracy_was_taken():
    steps = np.arange(516)
    loss = 2.3 * 0.99 ** steps
    loss[30] = np.nan  # non-finite points are left out
    # accuracy on telemetry steps 0, 10, 50 only (a cadence that grew apart): the loss of steps 11..50
    at = loss_when_scored(steps, loss, np.array([0, 10, 50]), same_axis=True)
    assert at == pytest.approx(float(np.nanmedian(loss[11:51])))
    assert at > 10 * loss[-1]
    # accuracy measured at the loss's end, or on another axis: the loss's own last value is used
    assert loss_when_scored(steps, loss, np.array([0, 257, 515]), same_axis=True) is None
    assert loss_when_scored(steps, loss, np.array([0, 1, 2]), same_axis=False) is None
    # no loss point between the accuracy's last two: the nearest earlier one
    sparse = np.array([0, 5, 100, 200])
    assert loss_when_scored(sparse, np.array([2.0, 1.5, 1.0, 0.5]), np.array([40, 60]), True) == 1.5


def _train(frozen: bool, mse: bool, squash: bool = False) -> tuple[list[float], list[float]]:
    torch = pytest.importorskip("torch")
    from sklearn.datasets import load_digits

    g = torch.Generator().manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    xt, yt, xv, yv = x[:1200], y[:1200], x[1200:], y[1200:]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    if mse or squash:  # squash: a softmax before cross_entropy (which applies its own)
        model.append(torch.nn.Softmax(dim=-1))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses, accs = [], []
    for _ in range(8):
        for idx in torch.randperm(len(xt), generator=g).split(64):
            out = model(xt[idx])
            if mse:
                loss = torch.nn.functional.mse_loss(out, torch.nn.functional.one_hot(yt[idx], 10).float())
            else:
                loss = torch.nn.functional.cross_entropy(out, yt[idx])
            opt.zero_grad()
            loss.backward()
            if not frozen:
                opt.step()
        with torch.no_grad():
            out = model(xv)
            if mse:
                vl = torch.nn.functional.mse_loss(out, torch.nn.functional.one_hot(yv, 10).float())
            else:
                vl = torch.nn.functional.cross_entropy(out, yv)
            losses.append(float(vl))
            accs.append(float((out.argmax(-1) == yv).float().mean()))
    return losses, accs


def test_real_runs_frozen_weights_and_ce_bound():
    frozen, _ = _train(frozen=True, mse=False)
    assert repeat_facts(np.array(frozen))["repeat_frac"] == 1.0
    trained, acc = _train(frozen=False, mse=False)
    assert repeat_facts(np.array(trained))["repeat_frac"] == 0.0
    # cross-entropy and accuracy of the same predictions never break the bound
    assert ce_accuracy_bound(trained[-1], acc[-1])["acc_below_ce_bound"] <= 0.0
    # MSE on one-hot targets is small whatever the accuracy: it says nothing about it
    mse, _ = _train(frozen=True, mse=True)
    assert ce_accuracy_bound(mse[-1], 0.1)["acc_below_ce_bound"] > 0.5


def test_real_runs_a_second_softmax_is_right_but_barely():
    trained, acc = _train(frozen=False, mse=False)
    squashed, acc_sq = _train(frozen=False, mse=False, squash=True)
    # both learn to classify the digits, but the double softmax gives the true class little more
    # than 1/10 (its loss stays near ln 10): far more accuracy than its probabilities show
    assert acc_sq[-1] > 0.5
    over_sq = ce_accuracy_bound(squashed[-1], acc_sq[-1])["acc_over_p_true"]
    over = ce_accuracy_bound(trained[-1], acc[-1])["acc_over_p_true"]
    assert over_sq > 0.5 and over < 0.35 and over_sq > over + 0.25, (over_sq, over)


def test_one_or_two_points_give_levels_not_shape():
    # an HF Trainer run logging its training loss every 50 of 130 steps: two points say where
    # the loss started and ended (LOSS019 reads a classifier's loss starting at 87), not a trend
    f = curve_facts(np.array([50, 100]), np.array([87.1348, 1.2847]))
    assert f["first"] == f["first_raw"] == pytest.approx(87.1348)
    assert f["last"] == pytest.approx(1.2847) and f["first_step"] == 50 and f["last_step"] == 100
    assert f["peak_raw"] == pytest.approx(87.1348) and f["min_raw"] == pytest.approx(1.2847)
    assert not {"change", "drop", "tau", "min", "rise"} & f.keys()
    one = curve_facts(np.array([3]), np.array([0.7]))
    assert one["first"] == one["last"] == pytest.approx(0.7) and one["first_step"] == one["last_step"] == 3
    # two finite points before a NaN are not where the run ended: no levels (LOSS001 speaks)
    assert "last" not in curve_facts(np.array([0, 1, 2]), np.array([2.3, 2.2, np.nan]))
    assert "first" not in curve_facts(np.array([0, 1]), np.array([np.nan, np.inf]))


def test_double_softmax_floor_is_the_least_loss_of_a_softmax_over_probabilities() -> None:
    """softmax(p) of a probability vector gives the true class at most e / (e + k - 1)."""
    assert double_softmax_floor(2) == pytest.approx(0.3133, abs=1e-4)
    assert double_softmax_floor(3) == pytest.approx(0.5515, abs=1e-4)
    assert double_softmax_floor(10) == pytest.approx(1.4612, abs=1e-4)
    assert double_softmax_floor(1) is None
    p = np.exp(np.eye(3)[0]) / np.exp(np.eye(3)[0]).sum()  # the outer softmax of a one-hot
    assert -math.log(p[0]) == pytest.approx(double_softmax_floor(3))
