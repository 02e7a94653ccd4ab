"""traindx.signals.infer: the task facts a run's logs imply (fact group ``infer``), kept
apart from what the run states (``ctx``/``chance``)."""

from __future__ import annotations

import math

import pytest

from traindx.rules.model import Case
from traindx.rules.testing import case_run
from traindx.signals import compute_facts
from traindx.signals.infer import count_quantum, nearest_ln, task_from_names


def facts_of(series: dict[str, str], context: dict | None = None, units: dict | None = None) -> dict:
    case = Case(name="c", series=series, context=context or {}, units=units or {}, fires=False)
    return compute_facts(case_run(case))


@pytest.mark.parametrize(
    "loss, k",
    [(math.log(10), 10), (0.6931, 2), (1.0986, 3), (2.31, 10), (4.61, 100)],
)
def test_nearest_ln_names_the_class_count(loss, k):
    got = nearest_ln(loss)
    assert got is not None and got[0] == k and got[1] < 0.03


def test_nearest_ln_reports_the_distance_and_refuses_what_no_class_count_gives():
    k, err = nearest_ln(2.0)  # between ln 7 = 1.95 and ln 8 = 2.08
    assert k == 7 and err == pytest.approx(abs(2.0 - math.log(7)) / math.log(7))
    assert nearest_ln(0.05)[0] == 2 and nearest_ln(0.05)[1] > 0.9  # far below ln 2
    assert nearest_ln(0.0) is None and nearest_ln(-1.0) is None
    assert nearest_ln(40.0) is None  # far above ln 1000
    assert nearest_ln(float("nan")) is None and nearest_ln(None) is None


def test_count_quantum_reads_the_validation_size():
    assert count_quantum(1 / 143) == 143
    assert count_quantum(0.01) == 100
    assert count_quantum(0.0) is None and count_quantum(None) is None
    assert count_quantum(0.37) is None  # 1/0.37 = 2.7 is no count


@pytest.mark.parametrize(
    "names, task",
    [
        ([("loss", "loss"), ("accuracy", "val_accuracy")], "classification"),
        ([("loss", "loss"), ("accuracy", "binary_accuracy")], "binary"),
        ([("loss", "train/bce"), ("f1", "val_f1")], "binary"),
        ([("loss", "loss"), ("mae", "val_mae")], "regression"),
        ([("loss", "loss"), ("r2", "r2")], "regression"),
        ([("loss", "loss"), ("accuracy", "acc"), ("mae", "mae")], "classification"),
        ([("loss", "loss"), ("lr", "lr")], None),
    ],
)
def test_task_from_names(names, task):
    assert task_from_names(names)[0] == task


def test_a_fresh_ten_class_classifier_stuck_at_chance():
    f = facts_of({"loss": "2.3026x200 ~0.005", "val/accuracy": "0.1x20 ~0.03"})
    inf = f["infer"]
    assert inf["task"] == "classification"
    assert inf["num_classes"] == 10 and inf["num_classes_from"] == "first loss"
    assert inf["loss_last_ratio"] == pytest.approx(1.0, abs=0.05)
    assert inf["acc_last_over_chance"] < 1.5
    assert "chance" not in f  # nothing stated: the stated chance group stays absent


def test_a_healthy_run_whose_first_loss_is_ln_c_learns_far_below_it():
    f = facts_of({"loss": "2.3026*0.97x200 ~0.01", "val/accuracy": "0.1+0.04x20"})
    inf = f["infer"]
    assert inf["num_classes"] == 10
    assert inf["loss_last_ratio"] < 0.1
    assert inf["acc_last_over_chance"] > 5.0


def test_a_binary_plateau_at_ln2():
    f = facts_of({"loss": "0.6931x100 ~0.002", "train/accuracy": "0.5x100 ~0.01"})
    assert f["infer"]["num_classes"] == 2
    assert f["infer"]["loss_last_lnk"] == 2 and f["infer"]["loss_last_lnk_err"] < 0.01


def test_no_class_count_without_a_classification_metric():
    # a regression's first MSE near ln 3 = 1.0986 names no class count
    f = facts_of({"loss": "1.1*0.97x100", "val/mae": "0.9*0.98x20"})
    assert f["infer"]["task"] == "regression"
    assert "num_classes" not in f["infer"]
    f = facts_of({"loss": "1.1*0.97x100"})
    assert "num_classes" not in f.get("infer", {})


def test_an_accuracy_compiled_on_a_regression_marks_no_classifier():
    # every accuracy ~0 while the loss halved: Keras accuracy on continuous targets
    f = facts_of({"loss": "2.3*0.95x100", "train/accuracy": "0.0x100"})
    assert f.get("infer", {}).get("task") is None


@pytest.mark.parametrize(
    "parts",
    [
        {"train/segment_loss": "2.3026*0.97x100", "train/price_loss": "1.3*0.97x100"},  # Keras two heads
        {"train/loss@train_cls": "2.3026*0.97x100", "train/loss@train_reg": "1.3*0.97x100"},  # loss/train_cls
    ],
)
def test_a_summed_loss_names_no_class_count(parts):
    # CE at ln 10 plus an MSE of 1.3: the total 3.6 reads as ln 38 when taken for one head's loss
    total = {"loss": "3.6026*0.97x100", "val/accuracy": "0.1+0.04x20"}
    alone = facts_of(total)["infer"]
    assert alone["num_classes"] == 37 or alone["num_classes"] == 38
    inf = facts_of({**total, **parts})["infer"]
    assert inf["task"] == "classification" and inf["loss_parts"] == 2
    assert not {"num_classes", "loss_first_lnk", "loss_last_lnk", "ln_c"} & set(inf)


@pytest.mark.parametrize(
    "other",
    ["train/running_loss", "train/loss@train_avg", "train/loss@Train_epoch", "train/loss@train_step", "train/vl_loss"],
)
def test_statistics_of_the_loss_are_no_parts(other):
    # the loss itself at another cadence or as a mean (loss/train_avg), or a validation loss
    f = facts_of({"loss": "2.3026x100 ~0.005", other: "2.3026x100", "val/accuracy": "0.1x20 ~0.03"})
    assert f["infer"]["num_classes"] == 10 and "loss_parts" not in f["infer"]


def test_the_first_epoch_mean_is_marked_as_such():
    f = facts_of({"loss": "2.3026x30 ~0.003", "val/accuracy": "0.1x30 ~0.03"}, units={"loss": "epoch"})
    assert f["infer"]["num_classes_from"] == "first epoch loss"
    assert f["infer"]["loss_first_early"] is False


def test_a_stated_class_count_is_kept_apart_from_the_inferred_one():
    f = facts_of({"loss": "2.3026x100 ~0.005", "val/accuracy": "0.1x20 ~0.03"}, {"data": {"num_classes": 12}})
    assert f["chance"]["num_classes"] == 12  # what the run states
    assert f["infer"]["num_classes"] == 10  # what the first loss suggests


def test_validation_size_from_the_accuracy_quantum():
    vals = " ".join(f"{k / 50:.4f}" for k in (10, 20, 27, 31, 35, 38, 40, 41, 43, 44))
    f = facts_of({"loss": "2.3*0.95x100", "val/accuracy": vals})
    assert f["infer"]["n_val"] == 50


def test_a_healthy_log_whose_first_loss_is_ln_c_is_not_flagged_at_chance():
    from traindx.engine import diagnose_run
    from traindx.rules.loader import load_rulebook

    case = Case(
        name="healthy",
        series={"loss": "2.3026*0.98x300 ~0.02", "val/loss": "2.2*0.9x30 ~0.01", "val/accuracy": "0.1+0.03x30 ~0.01"},
        every={"val/loss": 10, "val/accuracy": 10},
        fires=False,
    )
    d = diagnose_run(case_run(case), load_rulebook())
    codes = {s.code for s in d.symptoms}
    assert not codes & {"LOSS021", "ACC009", "LOSS011", "ACC001"}
    stuck = Case(
        name="stuck",
        series={"loss": "2.3026x300 ~0.003", "val/loss": "2.3026x30 ~0.001", "val/accuracy": "0.1x30 ~0.02"},
        every={"val/loss": 10, "val/accuracy": 10},
        fires=True,
    )
    d = diagnose_run(case_run(stuck), load_rulebook())
    assert {"LOSS021", "ACC009"} <= {s.code for s in d.symptoms}


def test_a_collapse_to_the_uniform_guess_names_the_class_count_over_a_first_loss():
    """qa_real41 Dropout 0.95 run: the first epoch loss 4.83 sits near ln 125 (any first loss
    above ~2 nats is near some ln k), the loss then collapses onto ln 10 beside an accuracy of
    0.11: the two agreeing marks name 10 classes and the collapse."""
    f = facts_of(
        {"loss": "4.83*0.8x5 2.303x15 ~0.002", "val/loss": "2.3026x20 ~0.0002", "val/accuracy": "0.113x20"},
        units={"loss": "epoch", "val/loss": "epoch", "val/accuracy": "epoch"},
    )["infer"]
    assert f["collapsed"] and f["collapse_k"] == 10.0 and f["num_classes"] == 10.0
    assert f["loss_first_ratio"] > 2.0


def test_a_loss_frozen_between_chance_levels_or_an_accuracy_far_above_chance_is_no_collapse():
    off = facts_of(
        {"loss": "4.8*0.9x5 2.45x15 ~0.002", "val/loss": "2.45x20 ~0.0002", "val/accuracy": "0.113x20"},
        units={"loss": "epoch", "val/loss": "epoch", "val/accuracy": "epoch"},
    )["infer"]
    assert not off["collapsed"]
    learned = facts_of(
        {"loss": "4.8*0.8x5 2.303x15 ~0.002", "val/loss": "2.3026x20 ~0.0002", "val/accuracy": "0.6x20"},
        units={"loss": "epoch", "val/loss": "epoch", "val/accuracy": "epoch"},
    )["infer"]
    assert not learned["collapsed"] and learned.get("num_classes") != 10.0


def test_a_binary_accuracy_at_one_half_beside_a_loss_at_ln3_names_no_three_classes():
    f = facts_of(
        {"loss": "1.47*0.9x5 1.0986x15 ~0.002", "val/loss": "1.0990x20 ~0.0002", "val/accuracy": "0.495x20"},
        units={"loss": "epoch", "val/loss": "epoch", "val/accuracy": "epoch"},
    )["infer"]
    assert not f["collapsed"] and f.get("num_classes") != 3.0
