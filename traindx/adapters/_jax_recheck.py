"""The JAX Recorder's second look at the output activation it read from the first telemetry row.

The Recorder decides the output activation from the first row's outputs (their range and share
of exact zeros) when the step's graph does not name it. One row can mislead: raw logits may sit
in (0, 1) at initialisation, and a ReLU output may give fewer than 5 % exact zeros before the
model learns to push the negative targets' predictions to 0. Later rows settle it."""

from __future__ import annotations

from typing import Any

import numpy as np

from traindx.adapters._jax_pipeline import _Layout

#: rows that must show the ReLU signature before a 'linear' output is read again as 'relu'
RELU_ROWS = 3


def relu_rows(lo: np.ndarray, hi: np.ndarray, zero: np.ndarray) -> int:
    """How many telemetry rows show a ReLU output: the smallest output exactly 0, a positive
    largest one, and more than 5 % of the outputs exactly 0. Returns -1 when any row has a
    negative output (no ReLU makes one), so the caller can stop looking."""
    lo, hi, zero = (np.asarray(a, dtype=np.float64) for a in (lo, hi, zero))
    if np.any(lo < 0.0):
        return -1
    return int(np.sum((lo == 0.0) & (hi > 0.0) & (zero > 0.05)))


class RecheckMixin:
    """Re-reads of the output activation over the telemetry rows (mixed into the Recorder)."""

    _out_act: str | None
    _probs: str | None
    _relu_seen: int
    context: Any

    def _recheck_output(self, lay: _Layout, t: np.ndarray) -> None:
        self._recheck_sigmoid(lay, t)
        self._recheck_relu(lay, t)

    def _recheck_sigmoid(self, lay: _Layout, t: np.ndarray) -> None:
        """A 'sigmoid' read from the first row's outputs in (0, 1) is withdrawn once any later
        row leaves [0, 1]: a sigmoid's outputs never do (saturated ones reach 0 or 1 at most),
        raw logits that sat in (0, 1) at initialisation do as they train. The output is then
        'linear' and the binary accuracy of the rows from here on takes the logits' threshold."""
        c = lay.col
        if self._out_act != "sigmoid" or "_out_min" not in c:
            return
        if not (np.any(t[:, c["_out_min"]] < 0.0) or np.any(t[:, c["_out_max"]] > 1.0)):
            return
        ctx = self.context
        self._out_act = ctx.model.output_activation = "linear"
        if self._probs == "sigmoid":
            self._probs = None
        ctx.notes[:] = [n for n in ctx.notes if n != "output activation 'sigmoid' inferred from the output values"]
        if lay.plan and "_acc_thr0" in c:
            lay.plan = [(tag, c["_acc_thr0"] if i == c["_acc_thr05"] else i, add) for tag, i, add in lay.plan]
            lay.plan_cols = None

    def _recheck_relu(self, lay: _Layout, t: np.ndarray) -> None:
        """A 'linear' read from the first row's outputs becomes 'relu' once RELU_ROWS rows show
        the ReLU signature (``relu_rows``) and no row so far had a negative output: a linear
        layer's outputs are not exactly 0 for a real share of a batch, row after row. Not where
        the step's graph named the output (the graph is the better witness)."""
        c = lay.col
        if self._out_act != "linear" or "_out_min" not in c or self._relu_seen < 0:
            return
        graph = lay.meta.get("step_graph")
        if graph is not None and graph.output is not None:
            return
        n = relu_rows(t[:, c["_out_min"]], t[:, c["_out_max"]], t[:, c["_out_frac_zero"]])
        self._relu_seen = -1 if n < 0 else self._relu_seen + n
        if self._relu_seen >= RELU_ROWS:
            ctx = self.context
            self._out_act = ctx.model.output_activation = "relu"
            ctx.notes.append("output activation 'relu' inferred from the output values")
