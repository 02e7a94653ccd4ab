"""A script that evaluates its held-out "test" set every epoch and logs no validation split
logged what a validation split is under another name: the "val" fact groups (gap, val_loss,
val_acc) read it (signals/pick.held_out). qa_begin42's 40-image digits run (train accuracy 1.0,
loss 0.008; test 0.77, 0.91) had no gap facts and was called healthy. Labelled corpus (every
input kind, 2,436 healthy runs): healthy warnings unchanged but ACC013 +1 (a generated 10-class
run whose test accuracy peaks at 0.37); faulty firings of GEN001/GEN004 +4/+3."""

from __future__ import annotations

from pathlib import Path

import traindx
from traindx.rules.model import Case
from traindx.rules.testing import case_run
from traindx.signals import compute_facts
from traindx.signals.pick import pick

DIGITS = (Path(__file__).resolve().parent.parent / "fixtures" / "qa_begin42" / "logs"
          / "kb_beginner_digits_40_examples_wide_net_fit_one_epoch_loop_accuracy_test_csv_tf")
UNITS = {k: "epoch" for k in ("loss", "accuracy", "test/loss", "test/accuracy", "val/loss")}


def _run(series: dict[str, str]):
    return case_run(Case(name="c", series=series, units={k: UNITS[k] for k in series}, fires=True))


def test_a_test_split_evaluated_every_epoch_stands_in_for_validation():
    run = _run({"loss": "2.3*0.85x40", "accuracy": "0.1+0.03x30 1.0x10",
                "test/loss": "2.2*0.95x20 0.87+0.002x20", "test/accuracy": "0.25+0.03x17 0.77x23"})
    assert pick(run, "loss", "val").key.split == "test"
    gap = compute_facts(run)["gap"]
    assert gap["acc_gap_last"] > 0.2 and gap["ratio_last"] > 10


def test_a_logged_validation_split_is_read_first():
    run = _run({"loss": "2.3*0.85x40", "val/loss": "2.2*0.9x40", "test/loss": "2.2*0.95x40"})
    assert pick(run, "loss", "val").key.split == "val"


def test_a_final_test_print_is_not_a_validation_curve():
    run = _run({"loss": "2.3*0.85x40", "test/loss": "0.9x2"})
    assert pick(run, "loss", "val") is None


def test_the_forty_image_run_is_no_longer_healthy():
    d = traindx.diagnose(DIGITS / "buggy")[0]
    assert not d.healthy and "GEN004" in {s.code for s in d.symptoms}
    assert "insufficient_data" in [c.id for c in d.causes[:3]]
    assert traindx.diagnose(DIGITS / "fixed")[0].healthy
