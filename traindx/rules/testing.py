"""Run a rule's own cases: the harness behind the generated tests and ``traindx test-rules``.

Users test their own rule files the same way (``traindx test-rules DIR``), like sqlfluff's
shipped test helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traindx.engine import check, fact
from traindx.rules.model import Case, Requirement, Rulebook, Symptom
from traindx.rules.series_dsl import parse_series
from traindx.schema import CheckResult, Run, RunContext, Series, SeriesKey
from traindx.signals import compute_facts


def case_run(case: Case, name: str = "case") -> Run:
    run = Run(id=name, context=RunContext.model_validate(case.context))
    if run.context.hyperparameters:  # a configuration file's values, mapped as a reader maps them
        from traindx.readers.hparams import fill_lr
        from traindx.readers.hparams_facts import fill_context

        fill_lr(run.context)
        fill_context(run.context)
    run.checks = [CheckResult(name=n, status="passed", facts=f) for n, f in case.checks.items()]
    for i, (key_text, notation) in enumerate(case.series.items()):
        key = SeriesKey.parse(key_text)
        values = parse_series(notation, seed=i)
        every = case.every.get(key_text, 1)
        # every=k: points at steps k-1, 2k-1, ... (an evaluation at the end of each epoch)
        steps = (np.arange(values.size, dtype=np.int64) + 1) * every - 1
        run.add(Series(key=key, steps=steps, values=values, unit=case.units.get(key_text, "step")))
    return run


@dataclass
class CaseResult:
    symptom: str
    case: str
    expected: bool
    got: bool | None
    onset: int | None
    needs: list[str]
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.message

    @property
    def id(self) -> str:
        return f"{self.symptom}_{self.case}"


def run_case(sym: Symptom | Requirement, case: Case) -> CaseResult:
    facts = compute_facts(case_run(case, f"{sym.code}_{case.name}"))
    got, needs, error = check(sym.condition, facts)
    onset = fact(facts, sym.onset) if sym.onset else None
    res = CaseResult(sym.code, case.name, case.fires, got, onset, needs)
    if error:
        res.message = f"not evaluated: error {error}"
    elif got is None:
        res.message = f"not evaluated: needs {', '.join(needs)}"
    elif got != case.fires:
        shown = {p: fact(facts, p) for p in sym.shows}
        if isinstance(sym, Requirement):
            verb = "must hold but does not" if case.fires else "must not hold but does"
        else:
            verb = "must fire but did not" if case.fires else "must not fire but did"
        res.message = f"{verb}; {sym.when!r}; facts {shown}"
    elif case.fires and case.onset is not None and onset != case.onset:
        res.message = f"onset {onset}, expected {case.onset}"
    return res


def run_all(book: Rulebook) -> list[CaseResult]:
    rules: list[Symptom | Requirement] = [*book.symptoms, *book.requirements]
    return [run_case(s, c) for s in rules for c in s.cases]
