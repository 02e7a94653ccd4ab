"""A W&B history whose every row holds a training and a validation metric, at W&B's own row
count as the step, was logged once per evaluation: its rows are epochs (issue 10, qa_fresh44: a
Keras ``LambdaCallback`` calling ``wandb.log(logs)`` at each epoch's end logged 8 rows, read as 8
steps: "insufficient data: only 8 points", where 8 epochs pass the 5-epoch minimum)."""

from __future__ import annotations

from pathlib import Path

import pytest

from traindx.readers.wandb_log import rows_are_evaluations


def _rows(keys: dict[str, list[int]]) -> dict[str, list[tuple[int, float, float]]]:
    return {k: [(s, 1.0 / (s + 1), float(s)) for s in steps] for k, steps in keys.items()}


def test_one_row_per_epoch_with_validation_metrics():
    assert rows_are_evaluations(_rows({"loss": list(range(8)), "accuracy": list(range(8)),
                                       "val_loss": list(range(8)), "val_accuracy": list(range(8))}))


@pytest.mark.parametrize("keys", [
    {"loss": list(range(8))},                                              # no validation metric
    {"val_loss": list(range(8)), "val_accuracy": list(range(8))},          # no training one
    {"loss": list(range(100)), "val_loss": list(range(9, 100, 10))},        # per step, validated every 10
    {"loss": [0, 50, 100, 150], "val_loss": [0, 50, 100, 150]},            # step= given (a global step)
    {"loss": [0], "val_loss": [0]},                                        # one row
])
def test_per_step_or_partial_histories_stay_steps(keys):
    assert not rows_are_evaluations(_rows(keys))


FIXTURE = Path(__file__).parent.parent / "fixtures/qa_fresh44/logs/kb_char_grammar_next_char_gru_dense_tanh_logits_sparse_cce_from_logits_wandb_offline_tf"


@pytest.mark.skipif(not FIXTURE.exists(), reason="qa_fresh44 fixture absent")
def test_the_keras_lambda_callback_run_is_read_in_epochs():
    pytest.importorskip("wandb")
    from traindx.api import diagnose

    (d,) = diagnose(FIXTURE / "buggy").runs
    assert d.verdict != "insufficient_data", d.headline
