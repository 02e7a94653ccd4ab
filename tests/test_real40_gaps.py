"""Issue 10: misses of the unseen forum batch fixtures/qa_real40, fixed in general form, on
the recorded runs that showed them and their fixed twins.

* ACC010 (predicts one class: accuracy frozen with a recall of 0) is never healthy - the
  3 %-positive unweighted-BCE run had it fire and was cleared at p(healthy) 43 %;
* a loss that starts positive and then runs below 0 without bound (BCEWithLogits on labels
  coded 1/2) is no negated loss: LOSS002 no longer calls its fall through 0 an explosion,
  loss_sign_flipped's "falls steadily below 0" (x4) no longer counts it, and labels_corrupted,
  which explains LOSS006 at its corpus rate, is scored - loss_sign_flipped 60 % before.
"""

from __future__ import annotations

from pathlib import Path

import traindx

QA = Path(__file__).resolve().parent.parent / "fixtures"
FAILURES = QA / "qa_real40" / "logs" / "torch_machine_failures_3pct_unweighted_bce_recall_zero_print"
CANCER = QA / "qa_real40" / "logs" / "torch_cancer_outcome_coded_1_2_bcewithlogits_tqdm_postfix_monitor"
IRIS = QA / "qa_real39" / "logs" / "torch_iris_one_output_bcewithlogits_three_classes_keras_style_print_monitor"


def test_a_model_that_answers_one_class_is_never_healthy():
    d = traindx.diagnose(FAILURES / "buggy")[0]
    assert "ACC010" in {s.code for s in d.symptoms}
    assert not d.healthy and d.causes[0].id == "class_imbalance"


def test_its_fixed_twin_stays_healthy():
    d = traindx.diagnose(FAILURES / "fixed")[0]
    assert d.healthy and "ACC010" not in {s.code for s in d.symptoms}


def test_a_positive_loss_running_below_zero_is_not_read_as_a_flipped_sign():
    d = traindx.diagnose(CANCER / "buggy")[0]
    codes = {s.code for s in d.symptoms}
    assert "LOSS006" in codes and "LOSS002" not in codes
    top3 = [c.id for c in d.causes[:3]]
    assert top3[0] != "loss_sign_flipped" and "wrong_loss_function" in top3
    says = [e.says for c in d.causes if c.id == "loss_sign_flipped" for e in c.evidence]
    assert not any("falls steadily" in s for s in says)


def test_labels_corrupted_is_scored_where_the_loss_runs_below_zero_from_a_positive_start():
    d = traindx.diagnose(CANCER / "buggy", learned=False)[0]
    lc = [c for c in d.causes if c.id == "labels_corrupted"]
    assert lc and any("labels outside the range" in e.says for e in lc[0].evidence)


def test_bce_on_three_class_ids_stays_wrong_loss_function():
    assert traindx.diagnose(IRIS / "buggy")[0].causes[0].id == "wrong_loss_function"
