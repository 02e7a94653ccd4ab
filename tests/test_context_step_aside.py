"""The learned log-only layer steps aside for the rules only where a fired evidence item read
one of the run's context facts (traindx.rerank._unseen_context), not wherever a condition's
text names ``ctx.``: a guard on a fact the run lacks (``!has(ctx.loss_task) || ...``) weighed
the logs alone. benchmarks/fit_ranker.knows_rows applies the same test through
differential.Compiled.context_weighed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from traindx.diagnosis import Evidence
from traindx.engine import _score, check
from traindx.learned import load_model
from traindx.rerank import _unseen_context, knows, reads_context
from traindx.rules.loader import builtin_dir, load_rulebook
from traindx.rules.model import Cause

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

GUARD = "loss.tail_neg_frac > 0.5 && (!has(ctx.loss_task) || ctx.loss_task != 'multilabel')"


@pytest.mark.parametrize(
    ("when", "ctx", "reads"),
    [
        ("ctx.lr >= 0.5", {"lr": 3.0}, True),
        ("ctx.lr >= 0.5", {"batch_size": 32}, False),
        ("ctx['lr'] >= 0.5", {"lr": 3.0}, True),
        (GUARD, {}, False),
        (GUARD, {"lr": 3.0}, False),  # context present, but not the fact the guard names
        (GUARD, {"loss_task": "classification"}, True),
        ("'lr' in ctx", {"lr": 3.0}, True),  # the group read as a whole
        ("'lr' in ctx", {}, False),
        ("chance.acc_last_over_chance < 0.85", {"num_classes": 10}, True),  # levels of the class count
        ("loss.drop > 0.5", {"lr": 3.0}, False),
    ],
)
def test_a_condition_reads_the_context_facts_it_names_that_the_run_has(when, ctx, reads):
    assert reads_context(when, ctx) is reads


def _layer():
    m = load_model(builtin_dir() / "learned", "logs")
    assert m is not None and not any(f.startswith("ctx.") for f in m.features)
    return m


def test_a_ctx_guard_on_a_run_without_context_keeps_the_learned_layer():
    """A log-only run with no context facts whose fired evidence names ctx only in the
    multi-label guard is ranked by the layer; a configured LR 3 that a fired item reads
    leaves it to the rules (the text test stepped aside on both)."""
    m = _layer()
    code = next(f[4:] for f in m.features if f.startswith("sym:"))
    cause = Cause(id=next(c for c in m.classes if c != "healthy"), prior=0.1, explains={code: 2.0}, fixes=[{"text": "x"}])
    guard = Evidence(says="loss negative", fact=GUARD, value=True, weight=0.7, kind="evidence")
    lr = Evidence(says="configured LR 3 is very large", fact="ctx.lr >= 0.5", value=True, weight=1.1, kind="evidence")
    assert knows(m, {code}, [(2.0, cause, [guard])], {})
    assert knows(m, {code}, [(2.0, cause, [guard])], {"lr": 3.0})
    assert not knows(m, {code}, [(2.0, cause, [guard, lr])], {"lr": 3.0})
    assert not knows(m, {code}, [(2.0, cause, [guard])], {"loss_task": "classification"})
    assert knows(m, {code}, [(2.0, cause, [lr.model_copy(update={"weight": 0.0})])], {"lr": 3.0})  # shown, not weighed


def _facts(ctx: dict | None):
    """The facts of a real log-only run (a sweep run whose directory name says lr=3), with
    its context replaced by ``ctx`` when given (the chance levels dropped without a class count)."""
    from traindx.api import read
    from traindx.signals import compute_facts

    facts = compute_facts(read(ROOT / "fixtures" / "sweep" / "lr_bs" / "lr=3,bs=32")[0])
    if ctx is not None:
        facts["ctx"] = ctx
        if "num_classes" not in ctx:
            facts.pop("chance", None)
    return facts


@pytest.mark.parametrize("ctx", [None, {}, {"lr": 0.001}, {"batch_size": 32}], ids=["lr3", "none", "lr_small", "bs_only"])
def test_the_benchmarks_step_aside_where_the_engine_does(ctx):
    """differential.Compiled.context_weighed (what fit_ranker.knows_rows and accuracy.py use)
    agrees with the engine's test on the same facts and fired evidence."""
    from differential import Compiled

    book = load_rulebook()
    facts = _facts(ctx)
    sev = {s.code: s.severity for s in book.symptoms}
    fired = [s for s in book.symptoms if check(s.condition, facts).value]
    alarms = {s.code for s in fired if sev[s.code] != "info"}
    assert alarms, "the run must alarm for the layer to be asked"
    from traindx.engine import _symptom_result

    results = [_symptom_result(s, facts) for s in fired]
    scored = [(*_score(c, results, book, facts, []), c) for c in book.causes if alarms & set(c.explains)]
    scored = [(lo, c, ev) for lo, ev, c in scored]
    engine = _unseen_context(_layer(), scored, facts["ctx"])
    bench = Compiled.build(book, [facts]).context_weighed(0, facts["ctx"])
    assert engine == bench
    assert engine is (ctx is None)  # only the configured LR 3 is read by a fired item
