"""The Keras callback's probe telemetry: when to probe, the compiled engine, the LR and batch size, unpacking."""

from __future__ import annotations

import math
import time
from typing import Any

import keras
import numpy as np

from traindx.adapters import _keras_stats as ks
from traindx.adapters._common import (
    Cadence,
    fold_reach,
)
from traindx.adapters._common.activations import finite_activation_values, note_left_out
from traindx.adapters._keras_write import stock_train_step

MAX_PENDING = 512  # batch records processed mid-epoch once this many are waiting
MIN_SAMPLES = 32  # per-layer samples a fit of known length gets (telemetry steps included)
MIN_GAP = 4  # the fewest steps between two of them


def keras_cadence(every: int | None) -> Cadence:
    """The adapters' cadence with a 5 % budget (a probe forward/backward costs more than the
    torch monitor's norms), ``every`` growing at most 4x per decision (so a noisy first
    window is revisited soon), at most two epochs (``cap``, set once the epoch length is
    known: at least one telemetry step every other epoch, whatever the probe costs), and
    the step time measured for steps dispatched ahead of the device (JAX): epoch
    boundaries are pauses, the wait for the device is not the callback's time.

    Coverage: once fit's planned length N (epochs x steps per epoch) is known
    (``planned``), a per-layer *sample* is taken every ``max(MIN_GAP, N // 32)`` steps
    between telemetry steps: a fit of at least ``32 * MIN_GAP`` steps gets 32 evenly spread
    per-layer samples, a shorter one one every ``MIN_GAP`` steps. The sample is the cheap
    part of a telemetry step: the weights' norms and a snapshot (the per-layer weight norms,
    and the update ratios one step later), no probe forward/backward. With the probe (the
    same rows, to keep the series comparable) the floor cost 20-30 % on 2-epoch fits of
    the digits models of benchmarks/overhead_keras.py (a probe costs a few training steps).
    Small weights are read to the host and reduced with numpy there (``Engine.on_host``:
    nothing traced for the samples). No floor on JAX, where a sample waits for the device
    (``_StaticContext._plan``)."""
    cad = Cadence(every, budget=0.05, grow=4, async_steps=True, min_samples=MIN_SAMPLES)
    cad.min_gap = MIN_GAP
    return cad


class _ProbeTelemetry:
    """DiagnosisCallback's probe telemetry (a mix-in: the state lives on the callback)."""

    def _tags(self) -> None:
        g = self._groups
        model = self._model
        pos = {id(v): i for i, v in enumerate(g.variables)}
        self._grad_group = [
            g.group_of[pos[id(v)]] if id(v) in pos else -1 for v in model.trainable_variables
        ]
        self._grad_groups = sorted({i for i in self._grad_group if i >= 0})
        self._weight_tags = [f"train/weight_norm@{n}" for n in g.names]
        self._update_tags = [f"train/update_ratio@{n}" for n in g.names]

    def _build_engine(self) -> None:
        """The probe sub-model (layer outputs) and the compiled functions."""
        model = self._model
        ctx = self.context
        assert ctx is not None
        acts: list[tuple[str, Any, int]] = []
        sub = None
        single = True
        try:
            single = len(model.outputs) == 1
        except Exception:  # noqa: BLE001
            single = True
        if self._activations and self._probe is not None and single:
            try:
                cand = ks.act_layers(model)
                outs, kept = [], []
                for name, layer, kind in cand:
                    try:
                        outs.append(layer.output)
                        kept.append((name, layer, kind))
                    except Exception:  # noqa: BLE001 - shared layer: no single output
                        continue
                if kept:
                    sub = keras.Model(inputs=model.inputs, outputs=outs + [model.outputs[0]])
                    acts = kept
            except Exception:  # noqa: BLE001 - subclassed model: no layer outputs
                sub, acts = None, []
            if sub is None:
                ctx.notes.append(
                    "activation statistics unavailable (not a Functional/Sequential model)"
                )
        if sub is not None:
            n_act = len(acts)

            def fwd(x: Any) -> tuple[list[Any], Any]:
                outs = sub(x, training=False)
                return list(outs[:n_act]), outs[n_act]
        else:

            def fwd(x: Any) -> tuple[list[Any], Any]:
                return [], model(x, training=False)

        self._act_tags = []
        for name, _, kind in acts:
            self._act_tags += [f"train/act_mean@{name}", f"train/act_std@{name}"]
            if kind == 1:
                self._act_tags.append(f"train/act_frac_zero@{name}")
            elif kind:
                self._act_tags.append(f"train/act_frac_saturated@{name}")
        layout = None
        y = self._probe[1] if self._probe is not None else None
        has_loss = getattr(model, "_compile_loss", None) is not None and y is not None
        if self._probe is not None:
            units = ctx.model.output_units or 0
            act = ctx.model.output_activation
            # probabilities: a softmax, or sigmoids a classification loss takes as probabilities
            probs = act == "softmax" or (act == "sigmoid" and ctx.data.task == "classification"
                                         and ctx.loss.expects == "probabilities")  # fmt: skip
            classify = ctx.data.task in (None, "classification") or probs
            out_stats = []
            if units >= 2 and single:
                if probs:
                    out_stats.append("train/output_row_sum")
                if classify:
                    out_stats.append("train/pred_class_frac:max")
            layout = ks.ProbeLayout(len(model.trainable_variables) if has_loss else 0,
                                    [(n, k) for n, _, k in acts], probs, units, out_stats)  # fmt: skip
            self._out_undecided = act is None
        self._engine = ks.Engine(model, self._groups.variables, fwd, layout, has_loss)
        if self._probe is not None:
            x, y = self._probe
            self._probe_t = (keras.tree.map_structure(keras.ops.convert_to_tensor, x),
                             keras.tree.map_structure(keras.ops.convert_to_tensor, y) if y is not None else None)  # fmt: skip

    # ------------------------------------------------------------------ per batch

    def _batch_begin(self, batch: int, t0: float) -> None:
        s = self._epoch_base + batch
        self._step = s + 1
        if not self._model_ready and not self._ensure_model():
            return
        if self._epoch_first:
            self._epoch_first = False
            self._read_lr()
            self._lr_points[s] = self._lr_at(s)
        if s == 1 and self._batch_size is None:
            self._read_batch_size()
        cad = self._cad
        tel = s >= cad.next
        # coverage: a per-layer sample between telemetry steps (fit's planned length known)
        sample = not tel and cad.planned is not None and cad.sample_due(s)
        # JAX with host statistics: the update ratio's weights are copied behind the running
        # steps and read at the next telemetry step or flush, not waited for at this one
        behind = self._engine is not None and self._engine.backend == "jax" and self._engine.on_host()
        if (tel or sample or (self._snap is not None and not behind)) and self._engine is not None:
            w = time.perf_counter()
            self._engine.wait()  # the training's device time, not the callback's
            self._excl += time.perf_counter() - w
        if self._snap is not None and s > self._snap_step:
            self._warmed("delta", self._finish_update_ratio)
        if tel:
            self._warmed("telemetry", self._telemetry, s)
            cad.advance(s, self._own + (time.perf_counter() - t0) - self._excl)
        elif sample:
            self._warmed("sample", self._telemetry, s, False)
            cad.sampled(s)
        with self._lock:
            waiting = len(self._records)
        if waiting >= MAX_PENDING:
            self._process_records(final=False)
        if self._writer is not None and self._writer.due():
            self._flush(disk=True)

    def _warmed(self, name: str, fn: Any, *args: Any) -> None:
        """Run ``fn``; its first call (which compiles functions) is a one-off cost, kept out of
        the per-step overhead the cadence adapts to."""
        if name in self._warm:
            fn(*args)
            return
        t = time.perf_counter()
        try:
            fn(*args)
        finally:
            self._warm.add(name)
            d = time.perf_counter() - t
            self._excl += d
            self._setup_s += d

    def _read_batch_size(self) -> None:
        """The batch size: the loss tracker's sample count after the first step. Only Keras' own
        train_step weights that update by the batch's rows; a custom train_step updates the
        tracker with whatever it passes (Keras' documented ``m.update_state(loss)`` counts 1 a
        step), so there the batch size stays unknown (the ``batch_size=`` argument gives it)."""
        if not stock_train_step(self._model):
            return
        tracker = getattr(self._model, "_loss_tracker", None)
        count = getattr(tracker, "count", None)
        if count is None or self._engine is None:
            return
        n = self._engine.read_metric_var(count)
        if n and n > 0:
            self._batch_size = int(round(n))
            ctx = self.context
            assert ctx is not None
            if ctx.data.batch_size is None:
                ctx.data.batch_size = self._batch_size

    def _read_lr(self) -> None:
        """The learning rate variable at the start of an epoch (a callback may have set it)."""
        opt = self._opt
        if opt is None or self._schedule is not None:
            return
        lr = getattr(opt, "_learning_rate", None)
        try:
            if hasattr(lr, "value") and self._engine is not None:
                self._lr_value = ks.host_float(lr.value)
            elif callable(lr):
                self._lr_value = ks.host_float(lr())
            else:
                self._lr_value = float(lr)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001
            self._lr_value = None
        # a rate variable that changed between epochs: a callback moves it (Keras'
        # LearningRateScheduler, ReduceLROnPlateau, a hand-written one) - the context says
        # so, as it names a LearningRateSchedule object
        first, ctx = self._lr_first, self.context
        if first is None:
            self._lr_first = self._lr_value
        elif ctx is not None and ctx.optimizer.schedule is None and self._lr_value not in (None, first):
            ctx.optimizer.schedule = "callback"

    def _lr_at(self, s: int) -> float:
        if self._schedule is not None:
            try:
                v = self._schedule(keras.ops.convert_to_tensor(self._iter0 + s, "int64"))
                return ks.host_float(v)
            except Exception:  # noqa: BLE001
                return math.nan
        return self._lr_value if self._lr_value is not None else math.nan

    def _telemetry(self, s: int, with_probe: bool = True) -> None:
        """Weights (norms and a snapshot) and the probe, at the weights before step ``s``;
        without the probe on a coverage sample."""
        eng = self._engine
        if eng is None:
            return
        self._collect_delta()
        g = self._groups
        values: dict[str, float] = {}
        probe = self._probe_t if eng.layout is not None and with_probe else None
        sq, snap, vec = eng.telemetry(probe)
        if eng.one_off:  # a compile: kept out of the per-step overhead the cadence adapts to
            self._excl += eng.one_off
            self._setup_s += eng.one_off
            eng.one_off = 0.0
        if g.variables:
            wsq = np.bincount(np.asarray(g.group_of), weights=sq, minlength=len(g.names))
            values.update(zip(self._weight_tags, np.sqrt(wsq).tolist(), strict=True))
            values["train/weight_norm"] = float(np.sqrt(wsq.sum()))
            self._snap = snap
            self._snap_wsq, self._snap_step = wsq, s
        self._lr_points[s] = self._lr_at(s)
        if vec is not None:
            values.update(self._unpack(vec, s))
            values.update(self._probe_input)
        values, left_out = finite_activation_values(values)
        if self.context is not None:
            note_left_out(self.context.notes, left_out)
        self._pending_rows.append((s, time.time(), values))
        self._check_state(s, values)

    def _grad_norms(self, sq: np.ndarray, bad: np.ndarray, s: int, *, per_layer: bool) -> dict[str, float]:
        """Global (and per-layer) gradient norms from per-variable squared norms (-1: no
        gradient) and non-finite counts; from step 2 (the first steps may legitimately lack
        gradients) which variables got one is folded into the context."""
        present = sq >= 0
        out = {"train/grad_norm": float(np.sqrt(sq[present].sum())) if present.any() else 0.0}
        if float(bad.sum()) > 0 or not np.all(np.isfinite(sq[present])):
            out["train/nonfinite@grads"] = float(bad.sum())
        if not per_layer:
            return out
        names = self._groups.names
        gsq, has = np.zeros(len(names)), np.zeros(len(names), dtype=bool)
        for i, gi in enumerate(self._grad_group):
            if gi >= 0 and present[i]:
                gsq[gi] += sq[i]
                has[gi] = True
        for gi in self._grad_groups:
            if has[gi]:
                out[f"train/grad_norm@{names[gi]}"] = float(np.sqrt(gsq[gi]))
        if s >= 2 and self.context is not None:
            fold_reach(self, self.context, sq, self._grad_group, names)
        return out

    def _unpack(self, vec: np.ndarray, s: int) -> dict[str, float]:
        eng = self._engine
        assert eng is not None and eng.layout is not None
        lay = eng.layout
        out: dict[str, float] = {}
        pos = 1
        n = lay.n_grads
        if n:
            out.update(self._grad_norms(vec[pos : pos + n], vec[pos + n : pos + 2 * n], s, per_layer=True))
            pos += 2 * n
        k = len(self._act_tags)
        out.update(zip(self._act_tags, vec[pos : pos + k].tolist(), strict=True))
        pos += k
        out.update(zip(lay.out_stats, vec[pos : pos + len(lay.out_stats)].tolist(), strict=True))
        return out

    def _finish_update_ratio(self) -> None:
        """‖w_now − w_snapshot‖ / ‖w_snapshot‖ per layer, recorded at the snapshot's step; on
        JAX with host statistics the weights are copied now and compared by :meth:`_collect_delta`."""
        eng = self._engine
        snap, self._snap = self._snap, None
        if eng is None or snap is None:
            return
        wsq = self._snap_wsq
        assert wsq is not None
        now = eng.copy_behind()
        if now is not None:
            self._delta_pending = (now, snap, self._snap_step, wsq)
            return
        self._ratio_row(eng.delta(snap), self._snap_step, wsq)

    def _collect_delta(self) -> None:
        """Read a deferred update ratio (JAX) into its row."""
        pending, self._delta_pending = self._delta_pending, None
        if pending is not None and self._engine is not None:
            now, snap, step, wsq = pending
            self._ratio_row(self._engine.delta_sq(now, snap), step, wsq)

    def _ratio_row(self, dsq: np.ndarray, step: int, wsq: np.ndarray) -> None:
        g = self._groups
        dg = np.bincount(np.asarray(g.group_of), weights=dsq, minlength=len(g.names))
        ratio = np.sqrt(dg) / np.maximum(np.sqrt(wsq), 1e-30)
        values = dict(zip(self._update_tags, ratio.tolist(), strict=True))
        values["train/update_ratio"] = float(
            np.sqrt(dg.sum()) / max(float(np.sqrt(wsq.sum())), 1e-30)
        )
        self._pending_rows.append((step, time.time(), values))
