"""Evidence against adapter confusions left after adapterconf23 (adapterconf24): the shipped
rulebook ranks synthetic adapter runs (series notation + recorded context, the rule cases'
own harness), and changing the fact that carries the evidence moves the ranking back.

* a sigmoid output fed to a binary loss on logits is squashed twice (logits_loss_mismatch),
  while a sigmoid before a multi-class cross-entropy clips the logits (activation_on_output);
* a model with no hidden layer narrower than 16 units and at least a parameter per training
  example can fit its training set: a stall there is not its capacity;
* 50+ examples with hundreds of parameters each overfit because of the model's size; a
  few dozen examples on a small model are short of data;
* a feed-forward net of four layers or fewer is too shallow for its gradient to vanish.
"""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()


def ranked(series: dict[str, str], context: dict, units: dict | None = None) -> list[str]:
    case = Case(name="r", series=series, context=context, units=units or {}, fires=True)
    return [c.id for c in diagnose_run(case_run(case), BOOK).causes]


def above(order: list[str], a: str, b: str) -> bool:
    """``a`` is ranked and ranked before ``b`` (or ``b`` not at all)."""
    return a in order and (b not in order or order.index(a) < order.index(b))


def dense(widths: list[int], d_in: int = 20, act: str = "relu") -> list[dict]:
    """Recorded layers of an MLP ``d_in -> widths...``: the last one is the output."""
    layers, prev = [], d_in
    for i, w in enumerate(widths):
        layers.append({"name": f"dense_{i}", "type": "Dense", "activation": act,
                       "params": prev * w + w, "output_shape": [None, w]})  # fmt: skip
        prev = w
    return layers


def test_a_sigmoid_before_a_binary_logits_loss_is_a_double_sigmoid():
    # a binary classifier whose loss creeps down from ln 2 and stalls: the outputs squashed
    # into (0, 1) are squashed again by the loss
    def ctx(loss: str, units: int, classes: int) -> dict:
        return {"framework": "torch", "optimizer": {"name": "adam", "lr": 0.001},
                "model": {"output_activation": "sigmoid", "output_units": units,
                          "layers": dense([32, units])},
                "loss": {"name": loss, "expects": "logits", "from_logits": True},
                "data": {"num_classes": classes, "n_train": 800, "batch_size": 32}}  # fmt: skip

    run = {"loss": "0.69*0.998x60 0.61x140 ~0.005", "train/accuracy": "0.5+0.003x60 0.68x140 ~0.01"}
    order = ranked(run, ctx("BCEWithLogitsLoss", 1, 2))
    assert above(order, "logits_loss_mismatch", "activation_on_output"), order
    # the same sigmoid before a 10-class cross-entropy clips the logits the loss needs
    multi = {"loss": "2.3*0.998x60 2.1x140 ~0.005", "train/accuracy": "0.1+0.003x60 0.28x140 ~0.01"}
    order = ranked(multi, ctx("CrossEntropyLoss", 10, 10))
    assert above(order, "activation_on_output", "logits_loss_mismatch"), order


def test_a_stall_on_a_model_wide_enough_to_memorize_is_not_its_capacity():
    # a 4-class classifier whose loss falls a little and stalls high, validation tracking
    # training: underfitting. With 32-unit hidden layers and ~2 parameters per example the
    # model could fit the set; with a 2-unit bottleneck on 5,000 examples it could not
    def ctx(widths: list[int], n_train: int) -> dict:
        layers = dense(widths)
        params = sum(layer["params"] for layer in layers)
        return {"framework": "keras", "optimizer": {"name": "adam", "lr": 0.001},
                "model": {"output_activation": "linear", "output_units": 4, "num_params": params,
                          "layers": layers},
                "loss": {"name": "sparse_categorical_crossentropy", "expects": "logits", "from_logits": True},
                "data": {"num_classes": 4, "n_train": n_train, "batch_size": 32}}  # fmt: skip

    run = {"loss": "1.39*0.995x40 1.2x160 ~0.005", "val/loss": "1.38*0.99x4 1.21x16 ~0.002",
           "val/accuracy": "0.25+0.01x4 0.3x16 ~0.004"}  # fmt: skip
    units = {"val/loss": "epoch", "val/accuracy": "epoch"}
    wide = ranked(run, ctx([32, 32, 4], 900), units)
    narrow = ranked(run, ctx([2, 4], 5000), units)
    assert "model_too_small" in narrow[:1], narrow
    assert "model_too_small" not in wide[:1], wide


def test_hundreds_of_parameters_per_example_overfit_by_the_model_s_size():
    # the training set is memorized (loss to ~0, accuracy 1.0) while validation never
    # improves: 80 examples either way; the model's size decides whose fault
    run = {"loss": "2.3*0.96x200", "val/loss": "2.2*0.99x3 2.15*1.03x17",
           "train/accuracy": "0.2+0.04x20 1.0x180", "val/accuracy": "0.2+0.01x5 0.25x15 ~0.005"}  # fmt: skip
    units = {"val/loss": "epoch", "val/accuracy": "epoch"}

    def ctx(params: int) -> dict:
        return {"framework": "torch", "optimizer": {"name": "adam", "lr": 0.001},
                "model": {"output_activation": "linear", "output_units": 10, "num_params": params},
                "loss": {"name": "CrossEntropyLoss", "expects": "logits", "from_logits": True},
                "data": {"num_classes": 10, "n_train": 80, "batch_size": 16}}  # fmt: skip

    big = ranked(run, ctx(70_000), units)  # 875 parameters per example
    assert big[0] == "overfitting" and above(big, "overfitting", "insufficient_data"), big
    small = ranked(run, ctx(2_000), units)  # 25 per example
    assert small[0] == "insufficient_data", small


def test_a_shallow_feed_forward_net_is_not_where_gradients_vanish():
    # a sigmoid MLP on SGD whose loss stalls just below ln(10) with tiny updates, 12 epochs
    run = {"loss": "2.3*0.999x30 2.27x170 ~0.002", "update_ratio": "0.00001x200"}

    def order(widths: list[int], recurrent: bool = False) -> list[str]:
        layers = dense(widths, act="sigmoid")
        if recurrent:
            layers[0]["type"] = "LSTM"
        ctx = {"framework": "torch", "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
               "model": {"output_activation": "linear", "output_units": 10, "layers": layers},
               "loss": {"name": "CrossEntropyLoss", "expects": "logits", "from_logits": True},
               "data": {"num_classes": 10, "n_train": 1000, "batch_size": 64}}  # fmt: skip
        return ranked(run, ctx)

    assert order([64] * 9 + [10])[0] == "vanishing_gradients"
    assert order([64] * 5 + [10])[0] == "vanishing_gradients"
    shallow = order([64, 64, 10])
    assert shallow[0] != "vanishing_gradients", shallow
    # the same three layers with a recurrent one: its depth is the sequence's
    assert order([64, 64, 10], recurrent=True)[0] == "vanishing_gradients"


def test_a_step_that_grows_because_gradients_accumulate_is_not_the_lr():
    # SGD at a usual 0.01 whose loss falls, then climbs while the gradient norm grows and
    # units die: the torch adapter saw the gradient buffers grow with no zero_grad between
    # steps (every step applies the sum of all past gradients)
    run = {"loss": "2.3*0.99x20 1.9*1.05x80 ~0.05", "grad_norm": "1*1.08x100",
           "train/accuracy": "0.1+0.01x20 0.3-0.002x80 ~0.01", "act_frac_zero@layer1": "0.3+0.007x100"}  # fmt: skip

    def diagnosis(accumulating: bool) -> dict[str, float]:
        ctx = {"framework": "torch", "optimizer": {"name": "sgd", "lr": 0.01},
               "model": {"output_activation": "linear", "output_units": 10},
               "loss": {"name": "CrossEntropyLoss", "expects": "logits", "from_logits": True},
               "data": {"num_classes": 10, "n_train": 2000, "batch_size": 32},
               "flags": {"grad_accumulating": accumulating}}  # fmt: skip
        case = Case(name="r", series=run, context=ctx, fires=True)
        return {c.id: c.probability for c in diagnose_run(case_run(case), BOOK).causes}

    acc = diagnosis(True)
    assert max(acc, key=acc.__getitem__) == "grad_not_zeroed", acc
    # the step too large keeps under a seventh of the accumulation's probability (a third
    # without the item on lr_too_high), the exploding gradient under a tenth
    assert acc.get("lr_too_high", 0.0) < 0.15 * acc["grad_not_zeroed"], acc
    assert acc.get("exploding_gradients", 0.0) < 0.1 * acc["grad_not_zeroed"], acc
    # without the adapter's flag the same curves read as a step too large
    plain = diagnosis(False)
    assert max(plain, key=plain.__getitem__) == "lr_too_high", plain
