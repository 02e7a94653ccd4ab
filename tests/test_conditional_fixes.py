"""Fixes with a ``when``: offered only on a run whose facts meet the condition. A loop that
sums many batches' losses before one optimizer step (CTX022, flag forwards_per_step) gets
"divide the summed loss" before "lower the LR"; a plain loop does not."""

from __future__ import annotations

from pathlib import Path

import pytest

import traindx
from traindx.engine import fixes_for
from traindx.rules.checks import first_problem
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Cause
from traindx.rules.testing import case_run

DIVIDE = "Divide the summed loss"


@pytest.fixture(scope="module")
def book():
    return load_rulebook()


def _case(book, name):
    sym = next(s for s in book.symptoms if s.code == "CTX022")
    return case_run(next(c for c in sym.cases if c.name == name))


def test_summed_loss_fix_where_ctx022_fires(book):
    d = traindx.diagnose(_case(book, "one_step_per_epoch"))[0]
    assert "CTX022" in {s.code for s in d.symptoms}
    by_id = {c.id: c for c in d.causes}
    for cid in ("lr_too_high", "batch_size_bad"):
        fixes = [f.text for f in by_id[cid].fixes]
        assert DIVIDE in fixes[0] and "45 training forward passes" in fixes[0], cid
        assert len(fixes) >= 1 + sum(f.when is None for f in book.cause(cid).fixes)  # the unconditional ones follow
    assert by_id["lr_too_high"].fixes[1].text.startswith("Lower the learning rate")


def test_no_summed_loss_fix_in_a_plain_loop(book):
    d = traindx.diagnose(_case(book, "plain_loop"))[0]
    assert "CTX022" not in {s.code for s in d.symptoms}
    for c in d.causes:
        assert all(DIVIDE not in f.text for f in c.fixes), c.id
    lr = next(c for c in d.causes if c.id == "lr_too_high")
    assert lr.fixes[0].text.startswith("Lower the learning rate")
    # a fact the run does not have drops the conditional fix, never raises (a condition on the
    # fact's absence, ``!has(ctx.clipnorm)``, holds)
    got = fixes_for(book.cause("lr_too_high"), {})
    assert sum(f.when is None for f in book.cause("lr_too_high").fixes) <= len(got) < len(book.cause("lr_too_high").fixes)
    assert all(DIVIDE not in f.text for f in got)


def _cause(fixes):
    return Cause.model_validate({"id": "lr_too_high", "prior": 0.1, "explains": {"LOSS002": 2.0}, "fixes": fixes})


def test_a_cause_needs_an_unconditional_fix():
    only_conditional = _cause([{"text": "x", "when": "ctx.forwards_per_step >= 16.0"}])
    assert first_problem(only_conditional) == (("fixes",), "every fix has a `when`: a cause needs one fix offered on any run")
    assert first_problem(_cause([{"text": "x", "when": "ctx.forwards_per_step >= 16.0"}, {"text": "y"}])) is None
    with pytest.raises(ValueError, match="does not parse"):
        _cause([{"text": "x", "when": "ctx.lr >"}])


def test_real_run_summing_an_epoch_of_losses():
    """A real torch run (fixtures/qa_real): the loop sums 45 batches' losses, steps once per
    epoch and diverges; its fixed twin steps per batch."""
    logs = Path(__file__).resolve().parents[1] / "fixtures/qa_real/logs/torch_loss_summed_backward_per_epoch"
    (buggy,) = traindx.read(logs / "buggy_adapter")
    d = traindx.diagnose(buggy)[0]
    top = d.causes[0]
    assert top.id in ("lr_too_high", "batch_size_bad") and DIVIDE in top.fixes[0].text
    (fixed,) = traindx.read(logs / "fixed_adapter")
    assert all(DIVIDE not in f.text for c in traindx.diagnose(fixed)[0].causes for f in c.fixes)


@pytest.mark.parametrize("cid", ["lr_too_high", "exploding_gradients"])
def test_no_clipping_advice_where_the_configuration_clips(book, cid):
    """HF's max_grad_norm defaults to 1.0: "clip the gradient norm" under a run that clips
    contradicts it (issue 10: fixes consistent with the run's own numbers)."""
    clip = [f.text for f in fixes_for(book.cause(cid), {"ctx": {"clipnorm": 1.0}})]
    none = [f.text for f in fixes_for(book.cause(cid), {})]
    assert any("lip" in t for t in none), none
    assert not any("lip the" in t or "clip the" in t for t in clip), clip
    assert clip  # an unconditional fix is still offered
