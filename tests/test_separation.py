"""Leading causes the evidence cannot separate are reported as one group, with what would
tell them apart derived from the facts the run did not record."""

from __future__ import annotations

import json
from pathlib import Path

from traindx.api import diagnose
from traindx.confidence import find, group_probability
from traindx.learned import input_kind
from traindx.rules.loader import load_rulebook

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
FLAT = "dying_relu_mlp_negbias"  # a loss that stays at ln(10): many causes fit a flat curve


def test_flat_loss_from_logs_is_one_group_with_what_would_separate_it():
    book = load_rulebook()
    (d,) = diagnose(LOGS / "torch_tb" / FLAT, rulebook=book)
    g = d.confusable
    assert g is not None and 2 <= len(g.causes) <= book.confusable_max
    assert g.causes == [c.id for c in d.causes[: len(g.causes)]]
    # the members' summed probability through the group map of the run's input kind and ranker
    # (traindx.confidence.group_probability; the sum itself where no map is fitted)
    members = sum(c.probability for c in d.causes[: len(g.causes)])
    kind = input_kind(d.facts)
    assert any(abs(g.probability - group_probability(members, find(book, kind, r))) < 1e-9 for r in ("rules", "learned"))
    assert d.causes[0].probability < book.confusable_mass
    # per-layer facts are what separates dying_relu / vanishing_gradients: not recorded here
    assert any("per-layer" in t for t in g.tell_apart), g.tell_apart
    assert "cannot separate" in d.headline and "cannot separate" in str(d)
    assert json.loads(d.to_json())["confusable"]["causes"] == g.causes


def test_recorded_facts_are_not_asked_for():
    (d,) = diagnose(LOGS / "torch_mon" / FLAT)
    assert d.causes
    if d.confusable is not None:
        assert not any("per-layer" in t for t in d.confusable.tell_apart), d.confusable


def test_a_probable_top_cause_stands_apart():
    book = load_rulebook()
    (d,) = diagnose(LOGS / "torch_tb" / FLAT, rulebook=book)
    loose = book.model_copy(update={"confusable_mass": d.causes[0].probability * 0.99})
    assert diagnose(LOGS / "torch_tb" / FLAT, rulebook=loose)[0].confusable is None


def test_group_size_counts_shares_among_the_listed_causes():
    from traindx.separation import group_size

    assert group_size([0.85, 0.1], 0.0, 0.8, 6) == 0  # the top stands apart
    assert group_size([0.5, 0.3, 0.1], 0.0, 0.8, 6) == 2
    assert group_size([0.3, 0.1, 0.05], 0.5, 0.8, 6) == 2  # 0.6 + 0.2 of the listed mass
    assert group_size([0.45, 0.02], 0.5, 0.8, 6) == 0  # 0.9 of the listed mass
    assert group_size([0.1] * 9, 0.1, 0.8, 6) == 6  # capped


def test_what_bears_on_most_of_the_group_is_named_first():
    """A low-probability member's evidence source (weight decay, for too_much_regularization)
    comes after the one that weighs the likeliest members (per-layer statistics, for
    vanishing_gradients and dying_relu), whatever the members' order of listing."""
    from traindx.diagnosis import CauseResult
    from traindx.separation import confusable_group

    book = load_rulebook()

    def group(probs: dict[str, float]):
        causes = [CauseResult(id=c, probability=p, log_odds=0.0) for c, p in probs.items()]
        return confusable_group(causes, book, {"loss": {"n_finite": 100}})

    def at(g, word: str) -> int:
        return next(i for i, t in enumerate(g.tell_apart) if word in t)

    g = group({"too_much_regularization": 0.3, "vanishing_gradients": 0.25, "dying_relu": 0.25})
    assert at(g, "per-layer") < at(g, "weight decay"), g.tell_apart
    # with regularization the likeliest by far, its own evidence source comes first
    g = group({"too_much_regularization": 0.6, "vanishing_gradients": 0.1, "dying_relu": 0.1})
    assert at(g, "weight decay") < at(g, "per-layer"), g.tell_apart


def test_a_check_that_decides_the_likeliest_member_outright_is_named_first():
    """A loss NaN from its first logged value: NaN in the data, exploding gradients and an
    overflowing op read the same from the logs (benchmarks/accuracy.py --per-cause: the
    largest log-only confusion). The data check (ratio 40 for nonfinite_in_data) is named
    before the gradient norm, which every member's weaker evidence reads."""
    from traindx.diagnosis import CauseResult
    from traindx.separation import confusable_group

    book = load_rulebook()
    probs = {"nonfinite_in_data": 0.37, "exploding_gradients": 0.14, "numerical_instability": 0.12, "lr_too_high": 0.07}
    causes = [CauseResult(id=c, probability=p, log_odds=0.0) for c, p in probs.items()]
    g = confusable_group(causes, book, {"loss": {"n_finite": 0, "has_nonfinite": True}})
    assert g is not None and g.causes == list(probs)
    first = g.tell_apart[:3]  # what a report shows
    assert any("NaN/inf" in t for t in first), first
    data = next(i for i, t in enumerate(g.tell_apart) if "NaN/inf" in t)
    grad = next(i for i, t in enumerate(g.tell_apart) if "gradient norm" in t)
    assert data < grad, g.tell_apart


def test_a_regression_is_not_asked_for_a_classifiers_facts():
    """A regression stuck at its target's variance (qa_jax47's friedman runs: shape_broadcast_bug,
    labels_corrupted, dying_relu, model_too_small, vanishing_gradients... in one group) was
    told "validation accuracy at each evaluation" and "training accuracy" would separate the
    group: a regression has neither. Where the logs (infer.task) or the adapter (ctx.task) show
    a regression, the rulebook's classification_facts are not asked for; a classifier still is."""
    from traindx.diagnosis import CauseResult
    from traindx.separation import confusable_group

    book = load_rulebook()
    probs = {"shape_broadcast_bug": 0.3, "labels_corrupted": 0.2, "dying_relu": 0.15, "model_too_small": 0.1,
             "too_much_regularization": 0.08, "vanishing_gradients": 0.07}  # fmt: skip
    causes = [CauseResult(id=c, probability=p, log_odds=0.0) for c, p in probs.items()]
    accuracy = ("accuracy", "classification metric", "number of classes")

    def asks(facts: dict) -> list[str]:
        g = confusable_group(causes, book, facts)
        assert g is not None
        return [t for t in g.tell_apart if any(w in t for w in accuracy)]

    loss = {"n_finite": 40, "drop": 0.05}
    assert asks({"loss": loss}), "a run of unknown task is asked for an accuracy"
    assert asks({"loss": loss, "infer": {"task": "classification"}})
    assert asks({"loss": loss, "infer": {"task": "regression"}}) == []
    assert asks({"loss": loss, "ctx": {"task": "regression"}}) == []
