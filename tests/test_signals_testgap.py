"""Test against validation on every bounded quality metric both splits logged (GEN008's third arm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.api import read
from traindx.schema import Run, Series, SeriesKey
from traindx.signals import compute_facts
from traindx.signals.testgap import val_test_quality_gap

QA = Path(__file__).parent.parent / "fixtures" / "qa_real33" / "logs" / "lightning_fraud_oversampled_before_random_split_csvlogger"


def _run(**series: list[float]) -> Run:
    run = Run(id="r")
    for key, values in series.items():
        run.add(Series(key=SeriesKey.parse(key.replace("__", "/")), steps=np.arange(len(values)), values=np.array(values)))
    return run


def test_the_largest_gap_over_metrics_logged_on_both_splits() -> None:
    run = _run(val__recall=[0.8, 1.0], test__recall=[0.5], val__accuracy=[0.9, 0.97], test__accuracy=[0.93],
               test__precision=[0.1])  # precision on test only: nothing to compare it with
    got = val_test_quality_gap(run)
    assert got["quality_gap_n"] == 2 and abs(got["quality_gap_max"] - 0.5) < 1e-9


def test_no_pair_no_fact_and_non_fractions_are_skipped() -> None:
    assert val_test_quality_gap(_run(val__recall=[0.8], train__recall=[0.9])) == {}
    assert val_test_quality_gap(_run(val__accuracy=[81.0], test__accuracy=[50.0])) == {}  # percent, not a share
    assert val_test_quality_gap(_run(val__recall=[float("nan")], test__recall=[0.5])) == {}


def test_a_lightning_csv_whose_test_recall_disagrees_with_validation() -> None:
    buggy = compute_facts(read(QA / "buggy")[0])["test"]
    fixed = compute_facts(read(QA / "fixed")[0])["test"]
    assert buggy["quality_gap_max"] > 0.25 > fixed["quality_gap_max"]
