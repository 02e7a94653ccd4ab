"""The preflight program suite (fixtures/preflight): each buggy program's cause is ranked
first in at least 90 % of them, and no healthy program gets a warning."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "preflight"))

import run_all  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def test_suite_is_large_and_covers_many_causes():
    progs = run_all.programs()
    causes = {p.stem.split("__")[0] for p in progs}
    assert len([p for p in progs if not p.stem.startswith("healthy")]) >= 30
    assert len([p for p in progs if p.stem.startswith("healthy")]) >= 15
    assert len(causes - {"healthy"}) >= 15


def test_right_cause_first_and_healthy_programs_clean():
    rows = [run_all.run_one(p) for p in run_all.programs()]
    bug = [r for r in rows if r["cause"] != "healthy"]
    ok = [r for r in rows if r["cause"] == "healthy"]
    wrong = [(r["program"], r["top"]) for r in bug if not r["ok"]]
    assert sum(r["ok"] for r in bug) >= 0.9 * len(bug), wrong
    assert all(r["ok"] for r in ok), [(r["program"], r["verdict"], r["symptoms"]) for r in ok if not r["ok"]]
    for r in rows:  # a check that cannot run says so; the suite's models all allow every check
        assert all(st != "skipped" for name, (st, _) in r["checks"].items() if name not in ("batch", "gradcheck", "lr", "modes")), r
