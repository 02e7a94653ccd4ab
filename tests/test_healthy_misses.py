"""What a "healthy" verdict did not rule out: measured per input kind from held-out answers
(benchmarks/healthy_misses.py), shipped in rulebook/calibration.yaml, listed by the engine on
a healthy verdict only, and said by every report format."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from pydantic import ValidationError

import traindx
from traindx.report.html import render_html
from traindx.report.markdown import render_markdown
from traindx.report.text import render_text
from traindx.rules.loader import builtin_dir, load_rulebook
from traindx.rules.model import HealthyMiss

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import healthy_misses  # noqa: E402

HEALTHY_LOG = ROOT / "fixtures/logs/torch_tb/healthy_mlp_clean"
HEALTHY_ADAPTER = ROOT / "fixtures/logs/torch_mon/healthy_mlp_clean"
FAULTY_LOG = ROOT / "fixtures/logs/torch_tb/lr_too_high_mlp_oscillate"


def _o(kind: str, cause: str, said: bool, run: str, benign: bool = False) -> SimpleNamespace:
    return SimpleNamespace(input_kind=kind, cause=cause, healthy_said=said, run=run, benign=benign)


def test_shares_are_means_over_fields_of_the_faulty_runs_called_healthy() -> None:
    # 20 leakage runs from logs: 15 called healthy in one field, 5 in the other -> 0.5
    a = [_o("logs", "data_leakage", i < 15, f"r{i}") for i in range(20)]
    b = [_o("logs", "data_leakage", i < 5, f"r{i}") for i in range(20)]
    # healthy runs and benign faults are not counted; a fault below MIN_RUNS is not listed
    extra = [_o("logs", "healthy", True, f"h{i}") for i in range(30)]
    extra += [_o("logs", "data_leakage", True, f"b{i}", benign=True) for i in range(30)]
    extra += [_o("logs", "class_imbalance", True, f"c{i}") for i in range(healthy_misses.MIN_RUNS - 1)]
    # a fault almost never missed is not listed either
    extra += [_o("torch_adapter", "lr_too_high", i == 0, f"t{i}") for i in range(40)]
    rows = healthy_misses.misses({"data": a + extra, "model": b + extra})
    assert rows == [("logs", "data_leakage", 0.5, 20)]


def test_rows_sorted_by_kind_then_largest_share() -> None:
    outs = [_o("logs", c, i < k, f"{c}{i}") for c, k in (("x_cause", 8), ("y_cause", 16)) for i in range(20)]
    outs += [_o("jax_adapter", "z_cause", i < 10, f"z{i}") for i in range(20)]
    rows = healthy_misses.misses({"data": outs})
    assert [(k, c) for k, c, _, _ in rows] == [("jax_adapter", "z_cause"), ("logs", "y_cause"), ("logs", "x_cause")]


def test_write_replaces_the_block_and_the_rows_validate(tmp_path: Path) -> None:
    path = tmp_path / "calibration.yaml"
    path.write_text((builtin_dir() / "calibration.yaml").read_text())
    rows = [("logs", "data_leakage", 0.75, 40), ("keras_adapter", "class_imbalance", 0.3, 20)]
    healthy_misses.write(rows, path)
    healthy_misses.write(rows, path)  # idempotent: the block is replaced, not added twice
    text = path.read_text()
    assert text.count("healthy_misses:\n") == 1
    got = yaml.safe_load(text)["settings"]["healthy_misses"]
    assert [HealthyMiss(**r).cause for r in got] == ["data_leakage", "class_imbalance"]
    assert "confidence" in yaml.safe_load(text)["settings"]  # the rest of the file kept


def test_a_share_outside_zero_one_is_rejected() -> None:
    with pytest.raises(ValidationError):
        HealthyMiss(kind="logs", cause="data_leakage", share=1.2, runs=10)


def test_the_shipped_rulebook_lists_measured_misses_for_logs() -> None:
    book = load_rulebook()
    logs = [m for m in book.healthy_misses if m.kind == "logs"]
    assert logs, "calibration.yaml ships no healthy_misses for bare logs"
    ids = {c.id for c in book.causes}
    assert all(m.cause in ids and m.runs >= healthy_misses.MIN_RUNS for m in book.healthy_misses)


def test_a_healthy_log_lists_what_it_did_not_rule_out_largest_first() -> None:
    book = load_rulebook()
    d = traindx.diagnose(HEALTHY_LOG, rulebook=book)[0]
    assert d.verdict == "healthy"
    shipped = sorted((m.share for m in book.healthy_misses if m.kind == "logs"), reverse=True)
    assert [m.missed for m in d.not_ruled_out] == shipped[: len(d.not_ruled_out)]
    assert 0 < len(d.not_ruled_out) <= 5
    for out in (render_text(d), render_markdown([d]), render_html([d])):
        assert "not ruled out" in out and d.not_ruled_out[0].cause in out
    assert "the adapter records what shows them" in render_text(d)


def test_the_list_is_per_input_kind_and_only_under_a_healthy_verdict() -> None:
    book = load_rulebook()
    only_logs = book.model_copy(update={"healthy_misses": [HealthyMiss(kind="logs", cause="data_leakage", share=0.9, runs=50)]})
    d = traindx.diagnose(HEALTHY_ADAPTER, rulebook=only_logs)[0]
    assert d.verdict == "healthy" and d.framework
    assert d.not_ruled_out == [] and "not ruled out" not in render_text(d)
    bad = traindx.diagnose(FAULTY_LOG, rulebook=only_logs)[0]
    assert bad.verdict == "findings" and bad.not_ruled_out == []
    assert "not ruled out" not in render_text(bad)
