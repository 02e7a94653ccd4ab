"""Keras's printed epochs count the optimizer steps of an epoch: the ``n/total`` of an epoch's
complete bar (``verbose=2``'s one line, ``verbose=1``'s last state), Keras 2 and Keras 3 prints."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx


def _epochs(bar: str, epochs: int = 6) -> list[str]:
    lines: list[str] = []
    for e in range(1, epochs + 1):
        lines.append(f"Epoch {e}/{epochs}")
        lines.append(bar.format(loss=2.3 / e, val=2.4 / e))
    return lines


KERAS3_V2 = "300/300 - 11s - 37ms/step - accuracy: 0.5000 - loss: {loss:.4f} - val_accuracy: 0.5000 - val_loss: {val:.4f}"
KERAS2_V2 = "2/2 - 0s - loss: {loss:.4f} - accuracy: 0.4000 - val_loss: {val:.4f} - val_accuracy: 0.4000 - 95ms/epoch - 47ms/step"
KERAS3_V1 = "38/38 ━━━━━━━━━━━━━━━━━━━━ 0s 5ms/step - accuracy: 0.6000 - loss: {loss:.4f} - val_accuracy: 0.6000 - val_loss: {val:.4f}"


@pytest.mark.parametrize(("bar", "batches"), [(KERAS3_V2, 300), (KERAS2_V2, 2), (KERAS3_V1, 38)])
def test_an_epoch_s_complete_keras_bar_is_its_step_count(tmp_path: Path, bar: str, batches: int) -> None:
    (tmp_path / "stdout.log").write_text("\n".join(_epochs(bar)) + "\n", encoding="utf-8")
    (run,) = traindx.read(tmp_path)
    assert run.context.steps_per_epoch == batches
    assert run.context.flags.get("steps_counted") is True
    assert len(run.series["train/loss"]) == 6 and len(run.series["val/loss"]) == 6


def test_an_evaluate_bar_after_the_epochs_keeps_the_epochs_count(tmp_path: Path) -> None:
    lines = _epochs(KERAS3_V2) + ["10/10 - 0s - 3ms/step - accuracy: 0.5000 - loss: 0.4000"]
    (tmp_path / "stdout.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (run,) = traindx.read(tmp_path)
    assert run.context.steps_per_epoch == 300


def test_epochs_of_different_totals_leave_the_count_unknown(tmp_path: Path) -> None:
    lines = _epochs(KERAS3_V2)  # a generator of varying length: 300 batches, then 200
    lines = [ln.replace("300/300", "200/200") if i % 4 == 3 else ln for i, ln in enumerate(lines)]
    (tmp_path / "stdout.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (run,) = traindx.read(tmp_path)
    assert run.context.steps_per_epoch is None


REAL35 = Path(__file__).resolve().parent.parent / "fixtures/qa_real35/logs/kb_quality_scores_tanh_output_unit_targets_3_to_8_verbose2_tf"


def test_a_loss_per_epoch_is_not_read_as_steps_against_the_steps_per_epoch() -> None:
    # 40 epochs of 75 batches printed by verbose=2: epoch 40 is not step 40 of 3,000
    # (shared.at_most_three_epochs read it as 41/75 of an epoch)
    (run,) = traindx.read(REAL35 / "buggy")
    assert run.context.steps_per_epoch == 75 and run.series["train/loss"].unit == "epoch"
    (diag,) = traindx.diagnose(run, learned=False).runs
    says = [e.says for c in diag.causes for e in c.evidence]
    assert says and not [s for s in says if "three epochs or fewer" in s]
