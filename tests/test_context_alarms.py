"""benchmarks/context_alarms.py: adapter alarms split into context smells and curve alarms."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from context_alarms import (  # noqa: E402
    Row,
    adapter_codes,
    context_codes,
    context_gate,
    curve_gate,
    curves_alone,
    row,
    split,
)

from traindx.rules.loader import load_rulebook  # noqa: E402


@dataclass
class FakeRun:
    path: str
    cause: str
    facts: dict = field(default_factory=dict)
    input_kind: str = "torch_adapter"
    benign: bool = False


@pytest.fixture(scope="module")
def book():
    return load_rulebook()


def test_context_symptoms_are_the_adapter_ones_that_read_ctx_and_no_telemetry(book):
    ctx, adapter = context_codes(book), adapter_codes(book)
    assert {"CTX001", "CTX003", "CTX018", "CTX020"} <= ctx <= adapter
    assert "ACT001" in adapter and "ACT001" not in ctx  # per-layer telemetry
    assert "GRAD006" not in ctx  # reads the layers' gradients too
    assert "LOSS011" not in adapter  # a curve symptom that only reads ctx for an exclusion


def test_split():
    ctx = {"CTX003", "CTX018"}
    assert split(set(), ctx) == "none"
    assert split({"CTX003"}, ctx) == "context"
    assert split({"LOSS013"}, ctx) == "curve"
    assert split({"CTX003", "LOSS013"}, ctx) == "mixed"


def test_curves_alone_drops_what_only_an_adapter_records():
    facts = {"ctx": {"framework": "torch"}, "layers": {"dead_frac_max": 0.1}, "loss": {"drop": 0.9}}
    assert curves_alone(facts) == {"loss": {"drop": 0.9}}


def test_a_context_smell_with_no_curve_alarm_is_what_the_context_gate_clears(book):
    named = {g for s in book.symptoms for g in s.condition.groups}
    run = FakeRun("r", "model_too_small", {"ctx": {"framework": "torch", "min_hidden_width": 1}})
    r = row(book, named, run, context_codes(book), adapter_codes(book), logged=False)
    assert r.group == "context" and "CTX018" in r.alarms and r.severities == {"warning"}
    assert r.curve_alarms == set() and r.label == "faulty"
    assert context_gate(r) and not curve_gate(r)  # an adapter symptom fired: not the curve gate's


def test_gates_keep_errors_and_curve_trouble():
    base = dict(path="p", kind="torch_adapter", label="healthy", top=None)
    err = Row(group="context", alarms={"CTX004"}, severities={"error"}, **base)
    trouble = Row(group="context", alarms={"CTX003"}, severities={"warning"}, curve_alarms={"LOSS013"}, **base)
    assert not context_gate(err) and not context_gate(trouble)
    curve = Row(group="curve", alarms={"LOSS013"}, severities={"warning"}, curve_alarms={"LOSS013"},
                curve_verdict="healthy", **base)  # fmt: skip
    assert curve_gate(curve)
    assert not curve_gate(Row(**{**curve.__dict__, "curve_verdict": "findings"}))
    assert not curve_gate(Row(**{**curve.__dict__, "curve_alarms": set()}))  # context changed the alarms
