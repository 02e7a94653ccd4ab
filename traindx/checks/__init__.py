"""Preflight checks: active tests run on the user's model before training.

A framework adapter (``traindx.adapters.torch.preflight``...) runs each check on copies of
the model and hands plain arrays to :mod:`traindx.checks.measures`, which turns them into
facts. The facts become the ``check`` fact group (``check.<name>_<fact>``) that the
rulebook's CHK symptoms read, so the same ranked :class:`~traindx.diagnosis.Diagnosis` comes
out as for a logged run. :func:`run_check` bounds and guards one check: an exception or a
missing input makes it "skipped: why", never a pass. Results written with :func:`save` to a
run directory (``preflight.json``) are read back by ``traindx diagnose`` with the telemetry.
"""

from __future__ import annotations

import functools
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from traindx.lazymodel import Field, LazyModel, new_list
from traindx.schema import CheckResult, Run, RunContext

PREFLIGHT_FILE = "preflight.json"
__all__ = ["PREFLIGHT_FILE", "CheckResult", "Skip", "check_facts", "diagnose_checks", "load", "run_check", "save"]


_F, _S, _B = float, str, bool
#: Every fact each check records (check.<name>_<fact>), with its type: the fact catalogue
#: (traindx.rules.catalogue) reads this, so rule files are checked against it at load.
CHECK_FACTS: dict[str, dict[str, type]] = {
    "data": {"n": _F, "dtype": _S, "nonfinite": _F, "abs_max": _F, "std_max": _F, "mean_absmax": _F,
             "token_ids": _B, "majority_share": _F, "n_classes_seen": _F, "val_shared_frac": _F,
             "normalized_in_model": _B},
    "init": {"loss": _F, "finite": _B, "prior": _F, "out_std": _F, "out_absmax": _F, "chance": _F, "ratio": _F},
    "output": {"activation": _S, "width": _F, "loss_expects": _S, "task": _S, "row_sum_dev": _F,
               "target_integer": _B, "target_distinct": _F, "label_max": _F, "label_min": _F, "target_onehot": _B},
    "grads": {"n_params": _F, "no_grad": _F, "nonfinite": _F, "frozen_in_optimizer": _F, "not_in_optimizer": _F, "example": _S},
    "batch": {"max_dev": _F, "rows_changed": _F},
    "gradcheck": {"n": _F, "bad_frac": _F, "median_rel_err": _F, "cos": _F},
    "overfit": {"steps": _F, "first": _F, "last": _F, "min": _F, "peak_ratio": _F, "up_frac": _F, "ratio": _F,
                "min_ratio": _F, "nonfinite_step": _F, "mode": _S, "params_changed": _B, "maximize": _B},
    "modes": {"eval_dev": _F, "train_eval_dev": _F, "has_dropout": _B, "has_norm": _B, "training": _B},
    "dummy": {"real": _F, "zero": _F, "start": _F, "real_drop": _F, "gain": _F, "on_val": _B},
    "lr": {"configured": _F, "suggested": _F, "blowup": _F, "never_fell": _B},
}  # fmt: skip


class Skip(Exception):
    """Raised by a check that cannot run; the message says why."""


def run_check(name: str, fn: Callable[[], tuple[Any, ...]]) -> CheckResult:
    """Run one check: ``fn`` returns (facts, one line) or (facts, line, series): curves as
    lists of numbers (non-finite values are kept as None). Any exception makes it skipped."""
    t0 = time.perf_counter()
    try:
        facts, line, *rest = fn()
    except Skip as e:
        return CheckResult(name=name, status="skipped", explanation=f"skipped: {e}", seconds=time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - a check never breaks the caller
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        why = f"{type(e).__name__}: {msg}" if msg else type(e).__name__
        return CheckResult(name=name, status="skipped", explanation=f"skipped: raised {why}", seconds=time.perf_counter() - t0)
    clean = {k: v for k, v in facts.items() if isinstance(v, bool | int | float | str)}
    series = {k: [float(x) if math.isfinite(float(x)) else None for x in v] for k, v in (rest[0] if rest else {}).items()}
    # status is set by the rulebook (judge_checks); "passed" until a CHK symptom reads it
    return CheckResult(name=name, status="passed", explanation=line, facts=clean, series=series, seconds=time.perf_counter() - t0)


def check_facts(checks: list[CheckResult]) -> dict[str, Any]:
    """The ``check`` fact group: each ran check's facts as ``<name>_<fact>``, plus counts."""
    out: dict[str, Any] = {}
    ran = [c for c in checks if c.status != "skipped"]
    for c in ran:
        out[f"{c.name}_ran"] = True
        for k, v in c.facts.items():
            out[f"{c.name}_{k}"] = float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    out["n_run"] = len(ran)
    out["n_skipped"] = len(checks) - len(ran)
    return out


_CHECK_FACT = re.compile(r"\bcheck\.([a-z0-9_]+)")


def judge_checks(checks: list[CheckResult], diagnosis: Any, book: Any) -> list[CheckResult]:
    """Status from the rulebook: a check failed when a CHK symptom that fired reads one of
    its facts (the symptom's summary is the explanation); else it passed."""
    names = sorted({c.name for c in checks}, key=len, reverse=True)
    failed: dict[str, list[str]] = {}
    for s in diagnosis.symptoms:
        sym = book.symptom(s.code)
        if sym is None or s.severity == "info":
            continue
        for fact in _CHECK_FACT.findall(sym.condition.source):
            owner = next((n for n in names if fact.startswith(n + "_")), None)
            item = f"{s.code} {s.summary}"
            if owner and item not in failed.setdefault(owner, []):
                failed[owner].append(item)
    out = []
    for c in checks:
        if c.status != "skipped" and c.name in failed:
            c = c.model_copy(update={"status": "failed", "explanation": f"{'; '.join(failed[c.name])} ({c.explanation})"})
        out.append(c)
    return out


def diagnose_checks(checks: list[CheckResult], context: RunContext, run_id: str = "preflight", book: Any = None) -> Any:
    """The Diagnosis of the checks alone (what ``preflight`` returns), with ``.checks``."""
    from traindx.engine import diagnose_run

    book = book or _shipped_book()
    run = Run(id=run_id, source="preflight", context=context, checks=checks)
    return diagnose_run(run, book)


@functools.lru_cache(maxsize=1)
def _shipped_book() -> Any:
    from traindx.rules.loader import load_rulebook

    return load_rulebook()


class PreflightRecord(LazyModel):
    """What ``preflight.json`` holds: the checks and the context seen at preflight."""

    checks: list[CheckResult] = Field(default_factory=new_list)
    context: RunContext = Field(default_factory=lambda: RunContext.model_construct())


def save(logdir: str | os.PathLike[str], checks: list[CheckResult], context: RunContext) -> Path:
    """Write ``preflight.json`` into ``logdir`` (atomically)."""
    d = Path(logdir)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{PREFLIGHT_FILE}.tmp"
    tmp.write_text(PreflightRecord(checks=checks, context=context).model_dump_json(indent=1))
    os.replace(tmp, d / PREFLIGHT_FILE)
    return d / PREFLIGHT_FILE


def load(path: str | os.PathLike[str]) -> PreflightRecord:
    return PreflightRecord.model_validate_json(Path(path).read_bytes())
