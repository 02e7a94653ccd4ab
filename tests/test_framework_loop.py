"""Issue 10 (qa_fresh39): logs written by a framework's own training loop (Keras' TensorBoard
callback, the HF Trainer's summary) make grad_not_zeroed unlikely: that loop resets the
gradients every step. Logs-only, the Keras multi-label run read grad_not_zeroed 58 %."""

from __future__ import annotations

import numpy as np

import traindx
from traindx.schema import Run, Series, SeriesKey
from traindx.signals import compute_facts
from traindx.signals.infer import framework_loop


def _run(names):
    run = Run(id="r")
    steps = np.arange(20)
    for i, (metric, split, original) in enumerate(names):
        vals = 2.0 * 0.9**steps + 0.1 * i
        run.add(Series(key=SeriesKey(metric=metric, split=split), steps=steps, values=vals, original_name=original))
    return run


KERAS_TB = [("loss", "train", "epoch_loss"), ("lr", "train", "epoch_learning_rate"), ("loss", "val", "epoch_loss")]
HAND = [("loss", "train", "train_loss"), ("loss", "val", "val_loss")]


def test_framework_loop_names():
    assert framework_loop(list(_run(KERAS_TB).series.values()))
    assert not framework_loop(list(_run(HAND).series.values()))
    assert compute_facts(_run(KERAS_TB))["run"]["framework_loop"] is True
    assert compute_facts(_run(HAND))["run"]["framework_loop"] is False


def test_grad_not_zeroed_is_weakened_by_a_framework_loop():
    """A rising loss (softmax + categorical CE on multi-hot targets) under Keras' TensorBoard
    names against the same numbers under a hand loop's names."""
    def p_grad(names):
        run = _run(names)
        for k, s in run.series.items():
            if s.key.metric == "loss":
                run.series[k] = s.model_copy(update={"values": 10.0 * 1.6 ** np.arange(20)})
        d = traindx.diagnose(run)[0]
        return next((c.probability for c in d.causes if c.id == "grad_not_zeroed"), 0.0)

    hand, keras_tb = p_grad(HAND), p_grad(KERAS_TB)
    assert hand > 0.0 and keras_tb < hand / 3
