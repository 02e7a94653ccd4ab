"""Evidence from facts the adapters record that separates causes a curve alone confuses:
the shipped rulebook ranks synthetic adapter runs (series notation + recorded context, the
rule cases' own harness), and a change to the context that removes the evidence must move
the ranking back."""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()


def ranked(series: dict[str, str], context: dict) -> list[str]:
    run = case_run(Case(name="r", series=series, context=context, fires=True))
    return [c.id for c in diagnose_run(run, BOOK).causes]


def above(order: list[str], a: str, b: str) -> bool:
    """``a`` is ranked and ranked before ``b`` (or ``b`` not at all)."""
    return a in order and (b not in order or order.index(a) < order.index(b))


TORCH = {"framework": "torch", "optimizer": {"name": "adam", "lr": 0.001}, "model": {"output_activation": "linear"}}


def test_first_loss_at_ln_batch_points_to_a_softmax_over_the_batch():
    # ln(64) = 4.16 on a 4-class task (ln 4 = 1.39), falling a little: the loss a log-softmax
    # over the batch axis gives an untrained model, and its floor ln(64 / 4)
    ctx = {**TORCH, "data": {"batch_size": 64, "num_classes": 4}, "loss": {"name": "f"}}
    order = ranked({"loss": "4.16*0.995x60 ~0.05"}, ctx)
    assert order[0] == "softmax_wrong_axis", order
    # the same curve with a batch of 4: ln(4) is ln(classes), nothing points to the axis
    small = {**ctx, "data": {"batch_size": 4, "num_classes": 4}}
    assert "softmax_wrong_axis" not in ranked({"loss": "4.16*0.995x60 ~0.05"}, small)[:1]


def test_clean_inputs_and_a_nan_loss_from_the_first_step_point_away_from_the_data():
    series = {"loss": "nanx40", "grad_norm": "nanx40"}
    clean = {**TORCH, "loss": {"name": "f"}, "flags": {"input_nonfinite": 0.0}}
    order = ranked(series, clean)
    assert above(order, "numerical_instability", "nonfinite_in_data"), order
    # the adapter counted NaN in the inputs: the data again
    dirty = {**clean, "flags": {"input_nonfinite": 12.0}}
    assert ranked(series, dirty)[0] == "nonfinite_in_data"


def test_a_partly_frozen_torch_model_that_stalls_points_to_the_frozen_part():
    series = {"loss": "1.39x60 ~0.03"}
    frozen = {**TORCH, "model": {"output_activation": "linear", "num_params": 5636, "num_trainable": 836},
              "data": {"num_classes": 4}}  # fmt: skip
    order = ranked(series, frozen)
    assert order.index("gradients_not_flowing") <= 1, order
    assert above(order, "gradients_not_flowing", "updates_not_applied")
    assert above(order, "gradients_not_flowing", "vanishing_gradients")
    trainable = {**frozen, "model": {**frozen["model"], "num_trainable": 5636}}
    order = ranked(series, trainable)
    assert above(order, "updates_not_applied", "gradients_not_flowing"), order


def test_parameters_that_never_got_a_gradient_are_cut_not_unapplied():
    # no parameter moved; with the adapter seeing parameters without any gradient, the
    # optimizer had nothing to apply: updates_not_applied loses odds to gradients_not_flowing
    series = {"loss": "1.0x60 ~0.01", "train/update_ratio@fc1": "0x20", "train/update_ratio@fc2": "0x20"}

    def odds(flags: dict) -> float:
        run = case_run(Case(name="r", series=series, context={**TORCH, "flags": flags}, fires=True))
        return next(c.log_odds for c in diagnose_run(run, BOOK).causes if c.id == "updates_not_applied")

    # GRAD006 (not explained by updates_not_applied) costs it ln(1/0.3); the evidence ln(5) more
    assert odds({"params_without_grad": 4.0}) < odds({"params_without_grad": 0.0}) - 2.5


def test_dead_units_under_a_calm_loss_point_to_dying_relu_not_the_step_size():
    sgd = {**TORCH, "optimizer": {"name": "sgd", "lr": 2.0}, "data": {"num_classes": 10}}
    dead = {"train/act_frac_zero@fc1": "0.5 0.99x19", "train/grad_norm@fc1": "0.3 0x19", "train/grad_norm@fc2": "0.2x20"}
    calm = ranked({"loss": "2.3x60 ~0.005", "lr": "2.0x60", "train/pred_class_frac:max": "1.0x20", **dead}, sgd)
    assert above(calm, "dying_relu", "lr_too_high"), calm
    # the same dead layer after the loss blew up and swung: the step size
    wild = ranked({"loss": "2.3x5 60 2.3 30 2.31x52 ~0.005", **dead}, sgd)
    assert above(wild, "lr_too_high", "dying_relu"), wild


KERAS = {"framework": "keras", "optimizer": {"name": "adam", "lr": 0.001}, "model": {"output_activation": "linear"},
         "loss": {"name": "sparse_categorical_crossentropy", "from_logits": True}}  # fmt: skip


def test_a_run_stopped_within_an_epoch_near_its_start_needs_more_epochs():
    # 43 steps per epoch (1376 examples, batches of 32): 40 steps at ln(4) is one epoch
    ctx = {**KERAS, "data": {"batch_size": 32, "n_train": 1376, "num_classes": 4}}
    assert ranked({"loss": "1.39x40 ~0.02"}, ctx)[0] == "too_few_epochs"
    # the same flat loss over 30 epochs: the epoch count is not what held it back
    assert "too_few_epochs" not in ranked({"loss": "1.39x1290 ~0.02"}, ctx)


def test_a_training_set_learned_while_validation_never_moved_is_a_shift_not_noisy_labels():
    ctx = {**KERAS, "data": {"batch_size": 32, "n_train": 1376, "num_classes": 4}}
    val = {"val/loss": "1.4+0.1x20", "val/accuracy": "0.45x20 ~0.01"}
    learned = {"loss": "1.39*0.985x200 ~0.02", "train/accuracy": "0.3+0.03x20 0.95x180", **val}
    order = ranked(learned, ctx)
    assert above(order, "distribution_shift", "labels_corrupted"), order
    # labels memorized slowly (the training loss down 10 %): the labels again
    slow = {**learned, "loss": "1.39*0.9995x200 ~0.02", "train/accuracy": "0.3+0.003x200"}
    order = ranked(slow, ctx)
    assert above(order, "labels_corrupted", "distribution_shift"), order


def test_an_lr_decayed_to_zero_early_is_the_schedule_not_a_small_lr():
    # the logged LR falls from 1e-3 to 0 in the first fifth; afterwards the loss sits near ln(4)
    # and the updates are tiny (UPD002), as a too-small LR would leave them
    ctx = {**KERAS, "data": {"batch_size": 32, "n_train": 1376, "num_classes": 4}}
    ups = {"train/update_ratio@dense": "1e-6x50", "train/update_ratio@dense_1": "1e-6x50"}
    decayed = {"loss": "1.39*0.9995x40 1.37x160 ~0.005", "lr": "0.001*0.8x40 0x160", **ups}
    assert ranked(decayed, ctx)[0] == "lr_schedule_bad"
    # a constant tiny LR with the same curve: the LR's value
    assert ranked({**decayed, "lr": "0.00002x200"}, ctx)[0] == "lr_too_low"


def test_a_partly_frozen_keras_model_without_batchnorm_points_to_the_frozen_part():
    series = {"loss": "1.39x60 ~0.03"}
    model = {"output_activation": "linear", "num_params": 5636, "num_trainable": 836, "has_batchnorm": False}
    frozen = {**KERAS, "model": model, "data": {"num_classes": 4}}
    order = ranked(series, frozen)
    assert order.index("gradients_not_flowing") <= 1, order
    assert above(order, "gradients_not_flowing", "updates_not_applied")
    assert above(order, "gradients_not_flowing", "vanishing_gradients")
    # with batch-norm, Keras counts its moving statistics as non-trainable: no freeze read
    order = ranked(series, {**frozen, "model": {**model, "has_batchnorm": True}})
    assert above(order, "updates_not_applied", "gradients_not_flowing"), order


def test_a_large_recorded_lr_that_a_schedule_grew_to_is_the_schedule():
    # the adapter records a growing schedule's peak (13.0) as the configured LR; the logged LR
    # started at 0.01: the loss turns up as the LR climbs
    ctx = {**KERAS, "optimizer": {"name": "sgd", "lr": 13.0}, "data": {"batch_size": 32, "n_train": 1376, "num_classes": 4}}
    run = {"loss": "1.39*0.99x50 0.8*1.02x50 ~0.05", "train/accuracy": "0.3+0.01x50 0.8-0.012x50"}
    assert ranked({**run, "lr": "0.01*1.075x100"}, ctx)[0] == "lr_schedule_bad"
    # the same LR from the start: its value
    assert ranked({**run, "lr": "13.0x100"}, ctx)[0] == "lr_too_high"
