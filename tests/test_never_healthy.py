"""Runs that are broken in ways a training curve hides are never called healthy: validation
accuracy at chance while training learns, a NaN validation loss, test metrics that
disagree with validation. Read from real CSV logs as Keras' CSVLogger writes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traindx.api import diagnose


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    (path / "training.csv").write_text("\n".join(lines) + "\n")
    return path


def _epochs(
    n: int = 15, *, val_acc=None, val_loss=None, test=None
) -> tuple[list[str], list[list[object]]]:
    rng = np.random.default_rng(0)
    header = ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"] + (
        ["test_accuracy"] if test is not None else []
    )
    rows = []
    for e in range(n):
        acc = min(0.99, 0.3 + 0.05 * e)
        va = val_acc(e) if val_acc else min(0.96, 0.28 + 0.05 * e) + rng.normal(0, 0.005)
        vl = val_loss(e) if val_loss else round(2.3 * 0.83**e + 0.05, 4)
        row: list[object] = [e, round(acc, 4), round(2.3 * 0.8**e, 4), round(va, 4), vl]
        if test is not None:
            row.append(test if e == n - 1 else None)
        rows.append(row)
    return header, rows


def test_the_healthy_reference_is_healthy(tmp_path):
    (d,) = diagnose(_csv(tmp_path / "ok", *_epochs()))
    assert d.verdict == "healthy", (d.headline, [s.code for s in d.symptoms])


def test_validation_accuracy_at_chance_while_training_learns(tmp_path):
    rng = np.random.default_rng(1)
    (d,) = diagnose(
        _csv(
            tmp_path / "shuffled",
            *_epochs(
                val_acc=lambda e: 0.11 + rng.normal(0, 0.01),
                val_loss=lambda e: round(2.3 + 0.05 * e, 4),
            ),
        )
    )
    assert d.verdict == "findings"
    assert "GEN007" in {s.code for s in d.symptoms}
    # validation at chance while training learns: labels that do not match the inputs, or a
    # validation set from another distribution. The rules put labels_corrupted first; the
    # learned layer (rulebook/learned/logs.json) prefers distribution_shift here and keeps
    # labels_corrupted among the leads. The labelled corpus does not support the stricter
    # "labels_corrupted first" in general: of its 6 log-only runs where GEN007 fires, 2 are
    # distribution_shift, 2 overfitting, 1 labels_corrupted, 1 optimizer_choice. Session 49's
    # refit (8,779 runs, the checklist's third reading: evaluation in training mode) ranks
    # train_mode_not_set first beside them; what the test holds is the three leads of the
    # checklist, not their order, which the refit may move.
    ranked = [c.id for c in d.causes]
    leads = {"labels_corrupted", "distribution_shift", "train_mode_not_set"}
    assert ranked[0] in leads, ranked[:4]
    assert {"labels_corrupted", "distribution_shift"} <= set(ranked[:4]), ranked[:4]


def test_nan_validation_loss_is_a_finding(tmp_path):
    (d,) = diagnose(_csv(tmp_path / "nan", *_epochs(val_loss=lambda e: "nan")))
    assert d.verdict == "findings" and "GEN006" in {s.code for s in d.symptoms}


@pytest.mark.parametrize(("test_acc", "fires"), [(0.35, True), (0.95, False)])
def test_test_accuracy_far_from_validation(tmp_path, test_acc, fires):
    (d,) = diagnose(_csv(tmp_path / "test", *_epochs(test=test_acc)))
    assert ("GEN008" in {s.code for s in d.symptoms}) == fires, d.headline
    if fires:
        assert d.verdict == "findings"
        assert {"distribution_shift", "data_leakage"} >= {c.id for c in d.causes[:2]}
    else:
        assert d.verdict == "healthy"
