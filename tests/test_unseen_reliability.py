"""benchmarks/unseen_reliability.py: the unseen batches' before-any-change rows, read back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("unseen_reliability", ROOT / "benchmarks" / "unseen_reliability.py")
ur = importlib.util.module_from_spec(spec)
sys.modules["unseen_reliability"] = ur
spec.loader.exec_module(ur)

TEXT = """# verdicts
| input | buggy top-1 | top-3 | called healthy | fixed flagged | wrong answers (max p) | wrong >= 80 % |
|---|---|---|---|---|---|---|
| logs | 4/20 | 9/20 | 7 | 1/20 | 10 (71 %) | 0 |

| pair | run | input | label | traindx top cause | verdict |
|---|---|---|---|---|---|
| a | buggy | logs | lr_too_high | lr_too_high 75% | top1 |
| a | fixed | logs | healthy | healthy | ok |
| b | buggy | logs | dying_relu | lr_too_low 82% | wrong |
| b | fixed | logs | healthy | lr_too_low 30% | FALSE ALARM |
| c | buggy | logs | data_leakage | healthy | missed (healthy) |
| c | buggy_adapter | keras_adapter | data_leakage | data_leakage 79% | top1 |
| d | buggy | logs | overfitting | (no verdict) | no verdict |
"""


def test_rows_are_the_run_table_only():
    rows = ur.parse(TEXT, "qa_x")
    assert [(r.pair, r.kind, r.verdict) for r in rows] == [
        ("a", "logs", "top1"), ("a", "logs", "ok"), ("b", "logs", "wrong"), ("b", "logs", "FALSE ALARM"),
        ("c", "logs", "missed"), ("c", "keras_adapter", "top1"), ("d", "logs", "no verdict")]
    assert rows[0].top == "lr_too_high" and rows[0].p == 0.75
    assert rows[4].top is None and rows[4].p is None


def test_summary_counts_and_reliability():
    s = ur.summary([r for r in ur.parse(TEXT, "qa_x") if r.kind == "logs"])
    assert (s["buggy"], s["top1"], s["top3"], s["called_healthy"], s["no_verdict_or_unread"]) == (4, 1, 1, 1, 1)
    assert (s["fixed"], s["false_alarms"], s["wrong_at_80"]) == (2, 1, 1)
    # one healthy call on a fixed run, one on a buggy run
    assert s["healthy_calls"] == 2 and s["healthy_calls_right"] == 0.5
    rel = s["reliability"]
    assert rel["answered"] == 2  # the two buggy runs given a cause
    # bins: 0.75 right (|1 - 0.75|), 0.82 wrong (|0 - 0.82|), each half the weight
    assert abs(rel["ece"] - (0.25 + 0.82) / 2) < 1e-3


def test_every_shipped_batch_parses():
    rows = ur.load()
    batches = {r.batch for r in rows}
    shipped = {p.parent.name for p in ROOT.glob("fixtures/qa_*/verdicts_before.md")}
    assert batches == shipped
    for b in batches:  # each batch has buggy and fixed rows
        kinds = {r.label == "healthy" for r in rows if r.batch == b}
        assert kinds == {True, False}, b


def test_a_kind_without_healthy_calls_still_prints():
    """qa_begin44 alone: its one Keras adapter pair was never called healthy, and the summary
    line formatted None as a percent (TypeError)."""
    s = ur.summary([r for r in ur.parse(TEXT, "qa_x") if r.kind == "keras_adapter"])
    assert s["healthy_calls"] == 0 and s["healthy_calls_right"] is None
    line = ur.headline("keras_adapter", s)
    assert "right - of 0" in line and "top-1 1 (100%)" in line


def test_confusions_split_pairs_from_healthy_calls():
    rows = ur.parse(TEXT, "qa_x") + ur.parse(TEXT.replace("| b | buggy | logs | dying_relu", "| e | buggy | logs | dying_relu"), "qa_y")
    c = ur.confusions([r for r in rows if r.kind == "logs"], 5)
    assert c["buggy"] == 8
    # the right answer, the fixed runs and the run with no verdict are no cell
    assert c["cells"] == [{"true": "dying_relu", "said": "lr_too_low", "n": 2}]
    assert c["called_healthy"] == [{"true": "data_leakage", "n": 2}]
    assert ur.confusions([r for r in rows if r.kind == "logs"], 0)["cells"] == []
