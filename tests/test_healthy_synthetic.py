"""False alarms: randomized healthy curves (noise, warm-up bumps, schedules, mild late
overfitting) must be reported healthy. The tools users have today alarm on about half of
healthy runs; this is the guard against that."""

from __future__ import annotations

from collections import Counter

from synthetic import healthy_run

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook


def test_no_false_alarms_on_randomized_healthy_runs():
    book = load_rulebook()
    fired: Counter[str] = Counter()
    alarms = 0
    for seed in range(300):
        d = diagnose_run(healthy_run(seed), book)
        if not d.healthy:
            alarms += 1
            fired.update(s.code for s in d.symptoms if s.severity != "info")
    assert alarms == 0, f"{alarms}/300 healthy runs alarmed: {dict(fired)}"
