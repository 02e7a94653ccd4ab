"""Training loss at chance beside a validation loss far above it: batch-norm on batches of one
(gapsr48).

Keras fit(batch_size=1) with BatchNormalization: each example is its own batch statistic, so
every normalized unit is 0 and the training output a constant (loss ln 2 at every epoch), while
evaluation uses moving statistics - validation loss 2.3 -> 105. LOSS047 (every training loss
within 1 % of chance) with GEN005 (validation far above training from the first evaluation)
is batch_size_bad evidence (shared.train_at_chance_beside_val_far_above); qa_real48's log was
model_too_small 24 %.
"""

from __future__ import annotations

from pathlib import Path

from traindx.api import diagnose

ROOT = Path(__file__).resolve().parent.parent
PAIR = ROOT / "fixtures/qa_real48/logs/kb_moons_dense_batchnorm_fit_batch_size_1_verbose2_stdout_tf"
SAYS = "the training loss sits at chance"


def _item(path: Path) -> list[str]:
    d = diagnose(path, learned=False)[0]
    cause = next((c for c in d.causes if c.id == "batch_size_bad"), None)
    return [] if cause is None else [e.says for e in cause.evidence if e.says.startswith(SAYS)]


def test_batchnorm_batch_one_log_reads_as_train_and_inference_disagreeing():
    buggy = diagnose(PAIR / "buggy")[0]
    assert {"LOSS047", "GEN005"} <= {s.code for s in buggy.symptoms}
    assert buggy.causes[0].id == "batch_size_bad"
    assert _item(PAIR / "buggy")


def test_the_fixed_run_raises_nothing():
    fixed = diagnose(PAIR / "fixed")[0]
    assert fixed.healthy
    assert not _item(PAIR / "fixed")
