"""The run's plan and settings that its files state (issue 10's "facts the logs hold that no rule
reads"): a planned ``max_steps`` against the epoch count, gradient accumulation, and a weight
decay of order 1 beside a plateau.

* ``ctx.max_steps`` from a configuration (HF ``TrainingArguments`` logged by its MLflow / W&B
  callback, ``max_train_steps`` of accelerate scripts); HF's and Lightning's -1 state nothing;
* ``ctx.steps_per_epoch`` from ``trainer_state.json`` (``global_step / epoch``: optimizer
  steps, what max_steps counts);
* ``ctx.max_steps_epochs``: the epochs max_steps allows, read by too_few_epochs' evidence
  when it is below the epoch count (max_steps overrides the epochs);
* ``ctx.grad_accum_steps``: the micro-batches per optimizer step a config states;
* CTX019 on the optimizer steps per epoch a trainer counted (trainer_state.json);
* CTX009 on a weight decay >= 0.5 whose loss stopped improving (a real W&B run);
* ``ctx.has_attention`` and lr_schedule_bad's evidence for Adam over attention layers at a
  peak LR >= 1e-3 from the first step (no warm-up).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import traindx
from traindx.engine import check
from traindx.readers.hparams_facts import fill_context
from traindx.rules.loader import load_rulebook
from traindx.schema import Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts, context_facts, max_steps_epochs

BOOK = load_rulebook()
QA = Path(__file__).resolve().parents[1] / "fixtures"
CUT = "max_steps {ctx.max_steps} ended training"


def _filled(hp: dict) -> tuple[RunContext, dict[str, str]]:
    ctx = RunContext(hyperparameters=hp)
    return ctx, fill_context(ctx)


@pytest.mark.parametrize(
    ("hp", "max_steps"),
    [({"max_steps": 500}, 500), ({"args.max_train_steps": 1000}, 1000), ({"max_steps": -1}, None),
     ({"max_steps": 0}, None), ({"max_steps": "-1"}, None), ({"eval.max_steps": 50}, None)],
)  # fmt: skip
def test_a_configured_max_steps(hp, max_steps):
    ctx, skipped = _filled(hp)
    assert ctx.max_steps == max_steps
    assert not skipped  # -1 / 0 say "by the epoch count": nothing wrong, nothing stated


def test_a_max_steps_that_is_no_count_is_skipped():
    ctx, skipped = _filled({"max_steps": "lots"})
    assert ctx.max_steps is None and "max_steps" in skipped


def test_the_adapters_max_steps_wins():
    ctx = RunContext(max_steps=30, hyperparameters={"max_steps": 90})
    fill_context(ctx)
    assert ctx.max_steps == 30 and "max_steps" not in str(ctx.flags.get("from_config"))


@pytest.mark.parametrize(
    ("hp", "k"),
    [({"gradient_accumulation_steps": 4}, 4.0), ({"trainer.accumulate_grad_batches": 8}, 8.0),
     ({"gradient_accumulation_steps": 1}, None), ({"gradient_accumulation_steps": 2, "accum_iter": 4}, None)],
)  # fmt: skip
def test_gradient_accumulation_stated(hp, k):
    ctx, _ = _filled(hp)
    assert ctx.flags.get("grad_accum_steps") == k  # two different counts: which one is unknown


@pytest.mark.parametrize(
    ("ctx", "epochs"),
    [
        ({"max_steps": 30, "steps_per_epoch": 50}, 0.6),  # the optimizer steps of an epoch
        ({"max_steps": 30, "data": {"n_train": 1600, "batch_size": 32}}, 0.6),  # loader batches
        ({"max_steps": 30, "data": {"n_train": 1600, "batch_size": 32}, "flags": {"grad_accum_steps": 2.0}}, 1.2),
        ({"max_steps": 30, "data": {"n_train": 1600, "batch_size": 32}, "flags": {"grad_accumulating": True}}, None),
        ({"max_steps": 30}, None),
        ({"steps_per_epoch": 50}, None),
    ],
)
def test_the_epochs_max_steps_allows(ctx, epochs):
    assert max_steps_epochs(RunContext.model_validate(ctx)) == epochs


def _run(loss: np.ndarray, context: dict) -> Run:
    run = Run(id="case", context=RunContext.model_validate(context))
    steps = np.arange(loss.size, dtype=np.int64)
    run.add(Series(key=SeriesKey.parse("loss"), steps=steps, values=loss, unit="step"))
    return run


def _cut_fires(run: Run) -> bool | None:
    cause = next(c for c in BOOK.causes if c.id == "too_few_epochs")
    (rule,) = [r for r in cause.evidence if r.says.startswith(CUT)]
    ok, _needs, err = check(rule.condition, compute_facts(run))
    assert err is None, err
    return ok


FALLING = 1.1 * 0.99 ** np.arange(30.0)  # still falling at the end
FITTED = np.concatenate([1.1 * 0.8 ** np.arange(15.0), np.full(15, 1.1 * 0.8**15)])  # fell 96 %, flat


def test_max_steps_before_the_epoch_count_is_too_few_epochs_evidence():
    assert _cut_fires(_run(FALLING, {"epochs": 8, "max_steps": 30, "steps_per_epoch": 50})) is True


@pytest.mark.parametrize(
    ("loss", "ctx"),
    [
        (FALLING, {"epochs": 8, "max_steps": 400, "steps_per_epoch": 50}),  # max_steps = the epochs' steps
        (FITTED, {"epochs": 8, "max_steps": 30, "steps_per_epoch": 50}),  # cut, but it had fitted
        (FALLING, {"epochs": 8, "max_steps": 30}),  # the epoch length unknown
    ],
)
def test_max_steps_evidence_stays_quiet(loss, ctx):
    assert _cut_fires(_run(loss, ctx)) is not True


def test_the_fix_names_the_runs_own_max_steps():
    run = _run(FALLING, {"epochs": 8, "max_steps": 30, "steps_per_epoch": 50})
    (d,) = traindx.diagnose(run)
    cause = next(c for c in d.causes if c.id == "too_few_epochs")
    assert any(CUT.split(" {")[0] in e.says and "30" in e.says for e in cause.evidence)
    assert any("max_steps=30 stops training after 0.6 epoch(s)" in f.text for f in cause.fixes)


@pytest.mark.slow
def test_real_hf_trainer_runs_state_their_plan(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("mlflow")
    from hf_plan_runs import write_hf_runs

    root = write_hf_runs(tmp_path)
    facts = {}
    for name in ("cut", "full", "accum"):
        for run in traindx.read(root / name):
            kind = "state" if run.id == name else "mlflow"
            facts[name, kind] = context_facts(run)
    # trainer_state.json: max_steps, the epoch count it implies (ceil) and global_step / epoch
    cut, full, accum = facts["cut", "state"], facts["full", "state"], facts["accum", "state"]
    assert (cut["max_steps"], cut["steps_per_epoch"], cut["epochs"], cut["max_steps_epochs"]) == (6, 10, 1, 0.6)
    assert (full["max_steps"], full["steps_per_epoch"], full["max_steps_epochs"]) == (80, 10, 8.0)
    assert (accum["max_steps"], accum["steps_per_epoch"], accum["max_steps_epochs"]) == (40, 5, 8.0)
    # the MLflow callback's params: every TrainingArguments value, the user's 8 epochs
    cut_ml, full_ml, accum_ml = facts["cut", "mlflow"], facts["full", "mlflow"], facts["accum", "mlflow"]
    assert (cut_ml["epochs"], cut_ml["max_steps"]) == (8, 6)
    assert "max_steps" not in full_ml and full_ml["epochs"] == 8  # max_steps=-1: the epochs decide
    assert accum_ml["grad_accum_steps"] == 2.0 and "grad_accum_steps" not in full_ml


@pytest.mark.parametrize(("run", "fires"), [("buggy", True), ("fixed", False)])
def test_weight_decay_1_beside_a_plateau_on_a_real_wandb_run(run, fires):
    """torch Adam(weight_decay=1.0) on a GRU forecaster, W&B offline: the config's decay is
    read and the loss, after falling 40 % by epoch 2, stays flat (the fixed run: 1e-5)."""
    pytest.importorskip("wandb")
    (d,) = traindx.diagnose(QA / "qa_fresh23/logs/torch_wandb_gru_forecast_adam_l2_1" / run)
    assert ("CTX009" in {s.code for s in d.symptoms}) is fires


WARM = "attention layers trained with"


def _warmup_fires(
    lr: np.ndarray, loss: np.ndarray, layers: list[str], optimizer: str = "adamw", flags: dict | None = None
) -> bool | None:
    ctx = {"framework": "torch", "optimizer": {"name": optimizer}, "flags": flags or {},
           "model": {"layers": [{"name": n, "type": "Linear", "params": 10} for n in layers]}}  # fmt: skip
    run = _run(loss, ctx)
    run.add(Series(key=SeriesKey.parse("lr"), steps=np.arange(lr.size, dtype=np.int64), values=lr, unit="step"))
    cause = next(c for c in BOOK.causes if c.id == "lr_schedule_bad")
    (rule,) = [r for r in cause.evidence if r.says.startswith(WARM)]
    ok, _needs, err = check(rule.condition, compute_facts(run))
    assert err is None, err
    return ok


GPT = ["transformer.h.0.attn.c_attn", "transformer.h.0.mlp.c_fc", "score"]
STALLED = 0.69 - 0.001 * np.arange(30.0)  # fell 4 %
CONSTANT = np.full(30, 3e-3)


def test_adam_on_attention_at_a_high_lr_without_warmup_is_schedule_evidence():
    assert _warmup_fires(CONSTANT, STALLED, GPT) is True


@pytest.mark.parametrize(
    ("lr", "loss", "layers", "optimizer"),
    [
        (np.r_[np.linspace(1e-5, 3e-3, 10), np.full(20, 3e-3)], STALLED, GPT, "adamw"),  # warmed up
        (CONSTANT, STALLED, ["fc1", "fc2", "out"], "adamw"),  # no attention layer
        (np.full(30, 3e-4), STALLED, GPT, "adamw"),  # a usual transformer LR
        (CONSTANT, 0.69 * 0.9 ** np.arange(30.0), GPT, "adamw"),  # it learned
        (CONSTANT, STALLED, GPT, "sgd"),
    ],
)
def test_warmup_evidence_stays_quiet(lr, loss, layers, optimizer):
    assert _warmup_fires(lr, loss, layers, optimizer) is not True


def test_a_stated_warmup_is_believed_over_an_lr_first_logged_after_it():
    assert _warmup_fires(CONSTANT, STALLED, GPT, flags={"warmup_steps": 0.0}) is True
    assert _warmup_fires(CONSTANT, STALLED, GPT, flags={"warmup_steps": 100.0}) is False
    assert _warmup_fires(CONSTANT, STALLED, GPT, flags={"warmup_ratio": 0.1}) is False


@pytest.mark.parametrize(("run", "fires"), [("buggy_adapter", True), ("fixed_adapter", False)])
def test_a_real_hf_gpt2_run_at_a_constant_3e3_without_warmup(run, fires):
    """The HF callback's record of GPT-2 (2 blocks) fine-tuned with AdamW at a constant 3e-3,
    warm-up 0 (fixed: the same peak after 60 warm-up steps): layers ``transformer.h.*.attn.c_attn``."""
    facts = compute_facts(traindx.read(QA / "qa_fresh23/logs/hf_gpt2_cls_lr_3e3_no_warmup" / run)[0])
    assert facts["ctx"]["has_attention"] is True and facts["lr"]["max"] >= 0.0029
    cause = next(c for c in BOOK.causes if c.id == "lr_schedule_bad")
    (rule,) = [r for r in cause.evidence if r.says.startswith(WARM)]
    assert check(rule.condition, facts)[0] is fires


def test_a_trainer_state_of_two_steps_per_epoch_reads_as_few_full_batch_steps():
    """HF Trainer with gradient_accumulation_steps=64 over 100 batches an epoch (qa_fresh): its
    trainer_state.json says global_step 20 at epoch 10, two optimizer steps an epoch; the fix
    lowers the accumulation instead of advising more of it."""
    path = QA / "qa_fresh/logs/hf_grad_accum_exceeds_epoch"
    (run,) = traindx.read(path / "buggy")
    assert run.context.steps_per_epoch == 2 and run.context.max_steps == 20
    (d,) = traindx.diagnose(run)
    assert "CTX019" in {s.code for s in d.symptoms}
    fixes = [f.text for c in d.causes if c.id == "batch_size_bad" for f in c.fixes]
    assert fixes and fixes[0].startswith("The trainer takes 2 optimizer step(s) per epoch")
    (fixed,) = traindx.read(path / "fixed")
    assert fixed.context.steps_per_epoch == 100  # no accumulation: 1000 steps in 10 epochs


def test_stated_accumulation_makes_the_steps_per_epoch_the_optimizers():
    """The HF callback's record of the same run: 100 loader batches an epoch (n_train 1600,
    batch 16) but gradient_accumulation_steps 64, so the optimizer steps an epoch are the
    callback's count (1), not n_train / batch_size; without accumulation (the fixed run) the
    two agree."""
    path = QA / "qa_fresh/logs/hf_grad_accum_exceeds_epoch"
    (run,) = traindx.read(path / "buggy_adapter")
    ctx = context_facts(run)
    assert ctx["grad_accum_steps"] == 64.0 and ctx["steps_per_epoch"] == run.context.steps_per_epoch == 1
    (d,) = traindx.diagnose(run)
    assert "CTX019" in {s.code for s in d.symptoms}
    (fixed,) = traindx.read(path / "fixed_adapter")
    assert context_facts(fixed)["steps_per_epoch"] == 100


def test_accumulation_divides_the_loader_batches_when_no_count_was_recorded():
    ctx = RunContext.model_validate({"data": {"n_train": 1600, "batch_size": 16}, "flags": {"grad_accum_steps": 4.0}})
    assert context_facts(Run(id="r", context=ctx))["steps_per_epoch"] == 25
