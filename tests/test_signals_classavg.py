"""A class-averaged metric (balanced accuracy, macro-F1) against the plain accuracy: synthetic
series for the arithmetic, and the Q&A class_imbalance pairs that logged one (each buggy run
fires ACC016, its fixed run not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.engine import diagnose_run
from traindx.readers import read
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, Series, SeriesKey
from traindx.signals.classavg import class_avg_facts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _run(**series: list[float]) -> Run:
    run = Run(id="t", source="test")
    for name, values in series.items():
        split, metric = name.split("__")
        steps = np.arange(len(values))
        run.add(Series(key=SeriesKey(metric=metric, split=split), steps=steps, values=np.asarray(values, float)))
    return run


def test_errors_on_the_small_classes_give_a_large_error_ratio():
    d = class_avg_facts(_run(val__accuracy=[0.94, 0.95, 0.978], val__balanced_accuracy=[0.33, 0.5, 0.727]))
    assert d["avg_gap"] == pytest.approx(0.251)
    assert d["avg_err_ratio"] == pytest.approx(0.273 / 0.022)


def test_errors_spread_over_the_classes_give_a_ratio_near_one():
    d = class_avg_facts(_run(val__accuracy=[0.6, 0.7, 0.8], val__f1_macro=[0.58, 0.69, 0.79]))
    assert d["avg_err_ratio"] == pytest.approx(1.05)


def test_training_metric_read_against_validation_only_without_a_same_split_pair():
    d = class_avg_facts(_run(val__accuracy=[0.856] * 4, train__f1_macro=[0.31] * 4))
    assert d["avg_gap"] == pytest.approx(0.546)
    same = class_avg_facts(_run(val__accuracy=[0.9] * 4, val__f1_macro=[0.85] * 4, train__f1_macro=[0.3] * 4))
    assert same["avg_gap"] == pytest.approx(0.05)


def test_nothing_without_three_common_evaluations_or_out_of_range():
    assert class_avg_facts(_run(val__accuracy=[0.9, 0.95], val__balanced_accuracy=[0.4, 0.5])) == {}
    assert class_avg_facts(_run(val__accuracy=[90.0, 95.0, 97.0], val__balanced_accuracy=[40.0, 50.0, 60.0])) == {}
    assert class_avg_facts(_run(val__accuracy=[0.9, 0.95, 0.97])) == {}


@pytest.mark.parametrize("root,pair", [
    ("qa_fresh42", "kj_gaussian_quantiles_3pct_minority_no_class_weight_history_json_jax"),
    ("qa_fresh38", "torch_imbalanced_3class_weighted_sampler_class_counts_not_inverse_nested_jsonl"),
    ("qa_fresh26", "torch_gru_tickets_ce_weight_counts_not_inverse"),
])
def test_acc016_on_the_buggy_imbalance_runs_not_the_fixed(root: str, pair: str):
    book = load_rulebook()

    def codes(which: str) -> set[str]:
        (run,) = read(FIXTURES / root / "logs" / pair / which)
        return {s.code for s in diagnose_run(run, book).symptoms}

    assert "ACC016" in codes("buggy")
    assert "ACC016" not in codes("fixed")


def test_a_one_class_f1_is_read_as_the_two_class_macro_f1():
    # 4 % positives: accuracy 0.969 beside a positive-class F1 of 0.361 (qa_mixed42's hastie run)
    d = class_avg_facts(_run(val__accuracy=[0.960, 0.965, 0.969], val__f1=[0.0, 0.214, 0.361]))
    assert d["avg_last"] == pytest.approx(0.672, abs=2e-3)
    assert d["avg_gap"] >= 0.2 and d["avg_err_ratio"] >= 3.0
    # the class-weighted fix: F1 0.543 beside 0.949 stays under ACC016's gap
    fixed = class_avg_facts(_run(val__accuracy=[0.93, 0.95, 0.949], val__f1=[0.44, 0.6, 0.543]))
    assert fixed["avg_gap"] < 0.2


def test_a_one_class_f1_near_the_accuracy_or_inconsistent_with_it():
    close = class_avg_facts(_run(val__accuracy=[0.7, 0.75, 0.8], val__f1=[0.68, 0.74, 0.79]))
    assert close["avg_gap"] < 0.05
    # an F1 whose true positives would exceed the accuracy cannot be one class's F1 of this split
    assert class_avg_facts(_run(val__accuracy=[0.1, 0.1, 0.1], val__f1=[0.95, 0.95, 0.95])) == {}
    # a macro- or weighted-F1 is not read as one class's
    assert class_avg_facts(_run(val__accuracy=[0.9] * 3, val__f1_weighted=[0.3] * 3)) == {}


@pytest.mark.parametrize("raw", ["val_bal_acc", "val_bal_accuracy", "val_macro_acc", "val_macro_avg_recall",
                                 "val_macro_avg_f1", "val_avg_class_acc", "val_class_avg_acc"])
def test_class_averaged_names_as_the_readers_map_them(raw):
    # the readers expand a trailing 'acc' (val_bal_acc -> bal_accuracy): qa_wild47's tickets run
    # logged val_bal_acc 0.47 beside val_acc 0.95 and was called healthy, the metric unread
    from traindx.names import map_name

    key = map_name(raw)
    assert key is not None and key.split == "val"
    d = class_avg_facts(_run(val__accuracy=[0.94, 0.95, 0.95], **{f"val__{key.metric}": [0.2, 0.3, 0.47]}))
    assert d["avg_last"] == pytest.approx(0.47)


@pytest.mark.parametrize("metric", ["per_class_accuracy", "mean_recall", "micro_f1", "weighted_f1"])
def test_not_class_averaged(metric):
    assert class_avg_facts(_run(val__accuracy=[0.94, 0.95, 0.95], **{f"val__{metric}": [0.2, 0.3, 0.47]})) == {}
