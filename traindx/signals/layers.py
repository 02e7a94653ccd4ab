"""Facts over per-layer series (adapter telemetry): dead units, saturation, gradient flow."""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.arrays import median
from traindx.ranks import is_rank_scope
from traindx.schema import Run
from traindx.signals.robust import tail
from traindx.signals.widths import output_layers

EPS = 1e-30


def _tail_median(values: np.ndarray) -> float:
    v = tail(values, 0.25, 1, 10_000)
    v = v[np.isfinite(v)]
    return float(median(v)) if v.size else float("nan")


def _layer_series(run: Run, metric: str, statistic: str = "value"):
    """The per-layer series of ``metric`` on the training split (another rank's copy is no layer)."""
    for s in run.series.values():
        k = s.key
        if (k.metric == metric and k.scope != "global" and k.split == "train" and k.statistic == statistic
                and not is_rank_scope(k.scope)):  # fmt: skip
            yield s


def _per_layer(
    run: Run, metric: str, statistic: str = "value", at=_tail_median, skip: frozenset[int] = frozenset()
) -> dict[str, float]:
    """``at`` of each layer's series, leaving out the telemetry steps in ``skip``."""
    out = {}
    for s in _layer_series(run, metric, statistic):
        if skip:
            keep = np.array([st not in skip for st in np.asarray(s.steps).tolist()], dtype=bool)
            out[s.key.scope] = at(np.asarray(s.values, dtype=float)[keep]) if keep.any() else float("nan")
        else:
            out[s.key.scope] = at(s.values)
    return {k: v for k, v in out.items() if np.isfinite(v)}


def _silent_steps(run: Run) -> frozenset[int]:
    """Telemetry steps at which no layer had any gradient (every per-layer norm is 0): a step
    with nothing to learn (a hinge/triplet loss satisfied by the whole batch, a fully masked
    batch) says nothing about one layer's gradient flow. Returned only when some late step
    did have gradient: a network whose gradient is zero everywhere at every late step keeps
    its zeros."""
    per: dict[int, bool] = {}
    for s in _layer_series(run, "grad_norm"):
        for st, v in zip(np.asarray(s.steps).tolist(), np.asarray(s.values, dtype=float).tolist(), strict=False):
            if np.isfinite(v):
                per[st] = per.get(st, False) or v > 0.0
    silent = frozenset(st for st, live in per.items() if not live)
    late = sorted(per)[len(per) - max(1, round(0.25 * len(per))):] if per else []
    return silent if any(per[st] for st in late) else frozenset()


def _first_finite(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v[0]) if v.size else float("nan")


def _blown_steps(run: Run) -> frozenset[int]:
    """Telemetry steps whose global weight norm is not finite: a layer's activation statistics
    there come from NaN/inf weights (a ReLU outputs 0 for -inf, every unit reads as dead), not
    from the layer (issue 10; the adapters leave them out since, older recordings hold them)."""
    for s in run.series.values():
        k = s.key
        if k.metric == "weight_norm" and k.scope == "global" and k.split == "train" and k.statistic == "value":
            v = np.asarray(s.values, dtype=float)
            return frozenset(np.asarray(s.steps)[~np.isfinite(v)].tolist())
    return frozenset()


def _act_per_layer(run: Run, metric: str, blown: frozenset[int]) -> dict[str, float]:
    """:func:`_per_layer` of an activation fraction over the samples that were finite: not at
    the ``blown`` steps, nor where the layer's own activation mean is not finite."""
    bad_mean = {s.key.scope: frozenset(np.asarray(s.steps)[~np.isfinite(np.asarray(s.values, dtype=float))].tolist())
                for s in _layer_series(run, "act_mean")}  # fmt: skip
    if not blown and not any(bad_mean.values()):
        return _per_layer(run, metric)
    out = {}
    for s in _layer_series(run, metric):
        skip = blown | bad_mean.get(s.key.scope, frozenset())
        keep = np.array([st not in skip for st in np.asarray(s.steps).tolist()], dtype=bool)
        v = _tail_median(np.asarray(s.values, dtype=float)[keep]) if keep.any() else float("nan")
        if np.isfinite(v):
            out[s.key.scope] = v
    return out


def _logged_share(run: Run, metric: str) -> dict[str, float]:
    """A share the log states for the whole network (a hand CSV's ``dead_frac``), under the
    name it was logged as, where no adapter recorded it per layer."""
    for s in run.series.values():
        k = s.key
        if k.metric == metric and k.scope == "global" and k.split == "train" and k.statistic == "value":
            v = _tail_median(np.asarray(s.values, dtype=float))
            return {s.original_name or metric: v} if np.isfinite(v) else {}
    return {}


def layer_facts(run: Run) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    blown = _blown_steps(run)
    dead = _act_per_layer(run, "act_frac_zero", blown) or _logged_share(run, "act_frac_zero")
    if dead:
        worst = max(dead, key=dead.__getitem__)
        facts["dead_frac_max"] = dead[worst]
        facts["dead_layer"] = worst
        facts["dead_layers"] = sum(v > 0.9 for v in dead.values())
    sat = _act_per_layer(run, "act_frac_saturated", blown)
    outs = [sat.pop(k) for k in _output_layers(run) if k in sat]
    if outs:  # a confident classifier's sigmoid/softmax output sits in its tails by design
        facts["out_saturated_frac"] = max(outs)
    if sat:
        worst = max(sat, key=sat.__getitem__)
        facts["saturated_frac_max"] = sat[worst]
        facts["saturated_layer"] = worst
    silent = _silent_steps(run)  # per-layer gradient facts over the steps that had gradient somewhere
    grads = _per_layer(run, "grad_norm", skip=silent)
    if len(grads) >= 2:
        names = list(grads)  # insertion order follows the model's layer order
        first, last = grads[names[0]], grads[names[-1]]
        facts["grad_first_over_last"] = first / max(last, EPS)
        facts["grad_zero_layers"] = sum(v <= 0.0 for v in grads.values())
        # layers whose gradient is zero late in the run but was not at the first record: the
        # graph reached them, the gradient stopped later (saturated outputs, dead units)
        start = _per_layer(run, "grad_norm", at=_first_finite, skip=silent)
        facts["grad_died_layers"] = sum(v <= 0.0 and start.get(k, 0.0) > 0.0 for k, v in grads.items())
        facts["grad_min"] = min(grads.values())
        live = _live_stack([grads[k] for k in names])
        if live is not None:
            facts["grad_live_first_over_last"], facts["grad_live_rising_share"] = live
    upd = _per_layer(run, "update_ratio")
    if upd:
        vals = np.array(list(upd.values()))
        facts["update_ratio_median"] = float(median(vals))
        facts["update_ratio_max"] = float(vals.max())
        facts["update_zero_layers"] = int(np.sum(vals <= 0.0))
    rows = _global(run, "output_row_sum")
    if rows is not None:
        facts["row_sum_dev"] = abs(rows - 1.0)
    pred = _global(run, "pred_class_frac", "max", to_end=True)
    if pred is not None:
        facts["pred_class_frac_max"] = pred
    return facts


def _live_stack(norms: list[float]) -> tuple[float, float] | None:
    """``(first live over last, rising share)``: the first non-zero per-layer gradient norm
    over the last layer's, and the share of consecutive live layers whose norm grows toward
    the output - where the layers with exactly zero gradient (if any) all come first and at
    least two are live. A gradient that shrinks by a steady factor on its way back until
    float32 rounds it to exactly 0 at the input end (a deep tanh/sigmoid stack) reads as a
    small ratio with a rising share near 1, which a first-over-last ratio of 0 hides. None
    for any other pattern (a zero layer between live ones is a cut, not a fade)."""
    k = next((i for i, v in enumerate(norms) if v > 0.0), None)
    if k is None or any(v <= 0.0 for v in norms[k:]) or len(norms) - k < 2:
        return None
    live = norms[k:]
    rising = sum(b > a for a, b in zip(live, live[1:], strict=False)) / (len(live) - 1)
    return live[0] / max(live[-1], EPS), float(rising)


def _output_layers(run: Run) -> list[str]:
    """The names of the model's output layers as the adapter recorded them
    (:func:`traindx.signals.widths.output_layers`); none without a recorded model."""
    model = getattr(run.context, "model", None) if run.context is not None else None
    return [layer.name for layer in output_layers(getattr(model, "layers", None) or [])]


def _global(run: Run, metric: str, statistic: str = "value", to_end: bool = False) -> float | None:
    """The tail median of a global training series; with ``to_end``, None unless its samples
    reach the end of training (:func:`_covers_end`; a sampled statistic of the predictions
    read as the end's: one whose samples stop early says nothing of the end)."""
    s = run.get(metric, "train", "global", statistic)
    if s is None or not len(s) or (to_end and not _covers_end(run, s)):
        return None
    v = _tail_median(s.values)
    return v if np.isfinite(v) else None


def _covers_end(run: Run, s: Any) -> bool:
    """Whether ``s``'s last step lies in the last quarter of the training steps (those of the
    training loss and global gradient norm in the same unit; True when there are none), or no
    further from the end than its own widest gap (a short run sampled every 10 steps, ending
    at step 29: its next sample would have come after the end)."""
    ends = [r.steps for r in (run.get("loss"), run.get("grad_norm")) if r is not None and len(r) and r.unit == s.unit]
    if not ends:
        return True
    first, last = min(int(e[0]) for e in ends), max(int(e[-1]) for e in ends)
    gap = int(np.diff(s.steps).max()) if len(s) >= 2 else 0
    return last - int(s.steps[-1]) <= max(0.25 * (last - first), gap)
