"""The headline: the one line a diagnosis opens with, composed from what the engine found
(the worst alarm and its onset, the top cause or the group the data cannot separate, the
requirement a "healthy" lacks, or what was not read), the aside a "healthy" on a log with
no reference level for its loss carries, and the faults a "healthy" did not rule out (every
report format says them in these words). Wording only: nothing here changes a verdict."""

from __future__ import annotations

from traindx.diagnosis import CauseResult, ConfusableGroup, Diagnosis, SymptomResult
from traindx.schema import Run
from traindx.signals import Facts


def no_reference(facts: Facts) -> str:
    """What a "healthy" cannot judge on a log with no reference level for its loss (no accuracy
    or quality metric, no class count: a regression, reconstruction or multi-label loss): a
    plateau at the trivial predictor's level looks like a fit. Report wording, not an alarm."""
    from traindx.learned import input_kind

    known = ("acc", "val_acc", "quality", "val_quality", "chance")
    if input_kind(facts) != "logs" or any(g in facts for g in known) or facts.get("infer", {}).get("num_classes"):
        return ""
    return ("; no reference level for this loss (no accuracy, class count or baseline logged): a plateau at the "
            "trivial predictor's level cannot be told from a fit - attach the adapter, or log R^2 or a baseline's loss")  # fmt: skip


def headline(
    run: Run, alarms: list[SymptomResult], causes: list[CauseResult], missing: list[str], group: ConfusableGroup | None,
    note: str = "",
) -> str:
    if not alarms and not run.series and not run.checks:
        if run.ingest.unmapped:
            names = ", ".join(run.ingest.unmapped[:8])
            return f"no recognizable series (names seen: {names}); map them with --map NAME=loss"
        unreadable = sum(p.kind == "unreadable" for p in run.ingest.problems)
        if unreadable:
            return f"no data read: {unreadable} file(s) could not be read"
        return "no data yet: the run's files hold no points (a run that just started?)"
    if missing:
        return f"insufficient data: {missing[0]}{note}"
    if not alarms and not run.series:
        ran = sum(c.status != "skipped" for c in run.checks)
        return f"healthy: {ran} preflight checks found no fault ({len(run.checks) - ran} skipped)"
    if not alarms:
        n = sum(len(s) for s in run.series.values())
        if note:
            return f"no confident fault ({len(run.series)} series, {n} points){note}"
        return f"healthy: no sign of a training fault ({len(run.series)} series, {n} points)"
    worst = alarms[0]
    top = f"; most likely {causes[0].id} ({causes[0].probability:.0%})" if causes else ""
    if group:
        top = f"; most likely one of {' / '.join(group.causes)} ({group.probability:.0%}), which these data cannot separate"
    at = f" from {worst.onset_unit} {worst.onset_step}" if worst.onset_step is not None else ""
    return f"{worst.summary.rstrip('.')}{at}{top}"


def not_ruled_out(d: Diagnosis) -> str:
    """What a "healthy" may hide, as measured: the faults such a call missed most often."""
    shares = ", ".join(f"{m.cause} {m.missed:.0%}" for m in d.not_ruled_out)
    src, tail = ("the adapter's record", "") if d.framework else ("logs alone", "; the adapter records what shows them")
    return (f"faults a healthy call from {src} missed most often (share of held-out labelled runs with each): "
            f"{shares}{tail}")
