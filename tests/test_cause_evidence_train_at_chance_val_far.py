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


# qa_jax50's flax.linen BatchNorm MLP trained at batch size 1 and logged per step: each logged
# loss is one example's, so it strays up to 4 % under ln 3 (LOSS047's 1 % band misses it), yet it
# ends at chance (LOSS021) without ever falling 15 % (LOSS024) while the eval-mode validation
# loss stands 1.5e4-2.7e4 (GEN005) - the same reading; distribution_shift is refuted by it
JAX_PAIR = ROOT / "fixtures/qa_jax50/logs/jax_linen_wine_bn_mlp_batch_size_1_batch_stats_trainstate_sgd_momentum_key_value_text_log"


def test_per_step_losses_at_batch_one_read_alike():
    buggy = diagnose(JAX_PAIR / "buggy", learned=False)[0]
    codes = {s.code for s in buggy.symptoms}
    assert {"LOSS021", "LOSS024", "GEN005"} <= codes and "LOSS047" not in codes
    assert buggy.causes[0].id == "batch_size_bad"
    assert _item(JAX_PAIR / "buggy")
    shift = next(c for c in buggy.causes if c.id == "distribution_shift")
    assert any(e.says.startswith("the training loss never left chance") for e in shift.evidence)


def test_the_jax_fixed_run_raises_nothing():
    fixed = diagnose(JAX_PAIR / "fixed")[0]
    assert fixed.healthy
    assert not _item(JAX_PAIR / "fixed")
