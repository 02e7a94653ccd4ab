"""aux.pos_frozen and MET009 (issue 10, qa_begin48): a one-class F1/precision/recall at one value
at every evaluation is a model whose answers never changed - the softmax-over-the-batch run that
logged only ``precision_val`` (0.100 at all 30 evaluations) was called healthy; its fixed run is not flagged."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.api import diagnose
from traindx.schema import Run, Series, SeriesKey
from traindx.signals.auxmetrics import aux_facts

PAIR = (Path(__file__).resolve().parent.parent / "fixtures" / "qa_begin48" / "logs"
        / "torch_beginner_digits_sequential_logsoftmax_dim0_nllloss_np_save_perdida_precision_val_monitor")  # fmt: skip


def run_with(metric: str, values: list[float]) -> Run:
    run = Run(id="frozen")
    run.add(Series(key=SeriesKey(metric="loss", split="train"), steps=np.arange(30),
                   values=2.6 * 0.97 ** np.arange(30)))  # fmt: skip
    run.add(Series(key=SeriesKey(metric=metric, split="val"), steps=np.arange(len(values)),
                   values=np.asarray(values, dtype=float)))  # fmt: skip
    return run


def test_a_frozen_precision_is_frozen_and_a_moving_or_zero_or_high_one_is_not() -> None:
    assert aux_facts(run_with("precision", [0.1] * 30))["pos_frozen"] is True
    assert aux_facts(run_with("precision", [0.1] * 29 + [0.12]))["pos_frozen"] is False
    assert aux_facts(run_with("f1", [0.0] * 30))["pos_frozen"] is False  # MET003's, not this
    assert aux_facts(run_with("recall", [0.97] * 30))["pos_frozen"] is False  # converged early
    assert aux_facts(run_with("precision", [0.1] * 4))["pos_frozen"] is False  # too few points


def test_the_softmax_over_the_batch_run_is_not_healthy_and_its_fix_is() -> None:
    buggy = diagnose(PAIR / "buggy")[0]
    assert not buggy.healthy and "MET009" in {s.code for s in buggy.symptoms}
    assert diagnose(PAIR / "fixed")[0].healthy
