"""Rankings of qa_begin49 runs once the readers read them (issue 10, gapsb49).

- Most units of a ReLU layer dead (ACT001) weigh against too_few_epochs: dead units get no
  gradient, so more epochs cannot revive them (labelled runs with layer statistics: ACT001 on
  0 of 23 too_few_epochs runs, 126 of 1,570 others). The bias -2.5 ReLU net's adapter run read
  as too_few_epochs 74 %, dying_relu 8 %.
- LOSS024 (neither loss fell 15 % below its start) does not judge a loss that reaches zero or
  below: a hand Poisson NLL without its constant term falls from -2.11 to -2.43, a share of its
  start measures nothing (the fixed run was a false alarm).
- A test curve beside the training curve (``loss_tr``/``loss_te``) is the held-out curve.
"""

from __future__ import annotations

from pathlib import Path

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parent.parent / "fixtures/qa_begin49/logs"
DEAD = ROOT / "torch_beginner_4class_table_sequential_bias_constant_minus_2_5_relus_dead_json_losses_val_losses_train_accs_monitor"
POISSON = ROOT / "torch_beginner_synthetic_counts_class_net_hand_poisson_nll_log_of_linear_output_json_dict_of_dicts"
OVERFIT = ROOT / "kb_beginner_noisy_table_300_rows_three_dense_512_no_regularization_test_as_validation_csv_loss_tr_loss_te_tf"


def test_dead_relu_layer_weighs_against_too_few_epochs() -> None:
    (buggy,) = diagnose(DEAD / "buggy_adapter", learned=False)
    assert "ACT001" in {s.code for s in buggy.symptoms}
    assert buggy.causes[0].id == "dying_relu"
    too_few = next(c for c in buggy.causes if c.id == "too_few_epochs")
    against = [e for e in too_few.evidence if "more epochs cannot revive them" in e.says]
    assert against and against[0].weight < 0
    (fixed,) = diagnose(DEAD / "fixed_adapter", learned=False)
    assert fixed.healthy


def test_a_negative_nll_that_fell_is_not_a_stalled_run() -> None:
    (fixed,) = diagnose(POISSON / "fixed")
    assert "LOSS024" not in {s.code for s in fixed.symptoms}
    assert fixed.healthy
    (buggy,) = diagnose(POISSON / "buggy")
    assert "LOSS001" in {s.code for s in buggy.symptoms}  # NaN loss from the first epoch


def test_a_test_curve_beside_the_training_curve_is_the_held_out_curve() -> None:
    (buggy,) = diagnose(OVERFIT / "buggy", learned=False)
    assert buggy.causes[0].id == "overfitting"
    (fixed,) = diagnose(OVERFIT / "fixed", learned=False)
    assert fixed.healthy
