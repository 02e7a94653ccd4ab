"""Evidence that says "not this cause" where a symptom has another reading (rules33):

* the update/weight ratio (UPD001) under strong weight decay: the decay shrinks the weights
  every step, so the ratio grows because the weights are small, not the steps; the weight
  norm falling steadily is the tell of too_much_regularization;
* a validation loss frozen at 0 (LOSS016): a loss that does not depend on the outputs (a
  categorical cross-entropy over one unit) has nothing to fit; the frozen value says nothing
  about lost updates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.engine import check
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts

ROOT = Path(__file__).resolve().parent.parent
BOOK = load_rulebook()
MF = ROOT / "fixtures" / "qa_fresh28" / "logs" / "torch_mf_ratings_adam_weight_decay_1_npz"
CCE1 = ROOT / "fixtures" / "qa" / "logs" / "keras_categorical_ce_one_unit" / "buggy"
SHRANK = "the update/weight ratio ("
FELL = "the weight norm fell steadily"
ZERO = "the validation loss is {val_loss.last} at every evaluation"


def _rule(cause_id: str, says_start: str):
    cause = next(c for c in BOOK.causes if c.id == cause_id)
    # the frozen-beside-noisy item (a training loss that only scatters) opens with ZERO's words too
    rules = [r for r in cause.evidence if r.says.startswith(says_start) and "only scatters" not in r.says]
    assert len(rules) == 1, [r.says for r in cause.evidence]
    return rules[0]


def _fired(cause_id: str, says_start: str, facts: dict) -> bool | None:
    ok, _needs, err = check(_rule(cause_id, says_start).condition, facts)
    assert err is None, err
    return ok


def _run(series: dict[str, np.ndarray], context: dict | None = None) -> Run:
    run = Run(id="case", context=RunContext.model_validate(context or {}))
    for key_text, values in series.items():
        steps = (np.arange(values.size, dtype=np.int64) + 1) * 20 - 1
        run.add(Series(key=SeriesKey.parse(key_text), steps=steps, values=np.asarray(values, dtype=float), unit="step"))
    return run


def _ratio_run(weight_decay: float, weight_norm: np.ndarray, optimizer: str = "adam") -> dict:
    n = weight_norm.size
    return compute_facts(_run({
        "loss": np.linspace(1.4, 2.4, n), "train/weight_norm": weight_norm,
        "train/update_ratio@emb": np.full(n, 0.18), "train/update_ratio@bias": np.full(n, 0.2),
    }, {"optimizer": {"name": optimizer, "lr": 0.01, "weight_decay": weight_decay}}))  # fmt: skip


def test_the_ratio_is_no_lr_evidence_where_strong_decay_shrank_the_weights():
    falling = 9.4 * 0.98 ** np.arange(60.0)  # -70 %
    facts = _ratio_run(1.0, falling)
    assert _fired("lr_too_high", SHRANK, facts) is True
    assert _fired("too_much_regularization", FELL, facts) is True
    # coupled decay of 0.05 shrinks too; AdamW's decoupled 0.05 is the usual setting
    assert _fired("lr_too_high", SHRANK, _ratio_run(0.05, falling, "sgd")) is True
    assert _fired("lr_too_high", SHRANK, _ratio_run(0.05, falling, "adamw")) is False
    # usual decay, or weights that grow as a fitting model's do: the ratio stays LR evidence
    assert _fired("lr_too_high", SHRANK, _ratio_run(1e-5, falling)) is False
    growing = 9.4 * 1.02 ** np.arange(60.0)
    assert _fired("lr_too_high", SHRANK, _ratio_run(1.0, growing)) is False
    assert _fired("too_much_regularization", FELL, _ratio_run(1.0, growing)) is False


def test_weight_decay_1_matrix_factorisation_is_too_much_regularization_first():
    import traindx

    buggy = traindx.diagnose(MF / "buggy_adapter")[0]
    assert buggy.causes[0].id == "too_much_regularization"
    lr = next(c for c in buggy.causes if c.id == "lr_too_high")
    assert any(e.says.startswith(SHRANK) and e.weight < 0 for e in lr.evidence)
    fixed = traindx.diagnose(MF / "fixed_adapter")[0]
    assert not any(e.says.startswith((SHRANK, FELL)) for c in fixed.causes for e in c.evidence)


def test_a_loss_frozen_at_zero_is_read_as_a_blind_loss_not_a_lost_update():
    from traindx.api import read

    facts = compute_facts(read(CCE1)[0])
    assert _fired("updates_not_applied", ZERO, facts) is True
    assert _fired("wrong_loss_function", ZERO, facts) is True
    # a validation loss frozen at 2.30 (a model that never changes) is not this reading
    frozen = compute_facts(_run({"loss": np.full(100, 2.3), "val/loss": np.full(15, 2.302585)}))
    assert _fired("updates_not_applied", ZERO, frozen) is False
    assert _fired("wrong_loss_function", ZERO, frozen) is False


def _frozen_jax(frozen_by_optimizer: bool) -> Run:
    n = 40
    return _run({
        "loss": 0.69 + 0.01 * np.sin(np.arange(n)), "val/loss": np.full(n, 0.6931),
        "grad_norm": np.full(n, 0.4), "train/update_ratio@dense_0": np.zeros(n), "train/update_ratio@dense_1": np.zeros(n),
    }, {"framework": "jax", "flags": {"frozen_by_optimizer": frozen_by_optimizer},
        "model": {"num_params": 1000, "num_trainable": 1000}})  # fmt: skip


def test_a_model_frozen_in_its_optax_chain_is_frozen_parameters_not_a_lost_update():
    """JAX has no trainable flag: optax.set_to_zero over every parameter is the JAX form of
    requires_grad=False / trainable=False (gradients_not_flowing in the vocabulary)."""
    from traindx.engine import diagnose_facts

    def ranked(frozen: bool) -> list[str]:
        run = _frozen_jax(frozen)
        d = diagnose_facts(run, compute_facts(run), BOOK.model_copy(update={"learned": False}))
        ids = [c.id for c in d.causes]
        return ids

    frozen, lost = ranked(True), ranked(False)
    assert frozen.index("gradients_not_flowing") < frozen.index("updates_not_applied")
    assert lost.index("updates_not_applied") < lost.index("gradients_not_flowing")
