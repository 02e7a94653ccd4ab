"""The torch Monitor's per-step record: loss, global norms, update ratios and the fused per-layer pass on telemetry steps."""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from traindx.adapters import _torch_stats as ts
from traindx.adapters._common import (
    fatal_message,
)
from traindx.adapters._common.losses import penalty_share
from traindx.adapters._torch_telemetry import flat_values

FLUSH_STEPS = 400  # per-step values move to the host at least this often (bounded memory)
SMALL_TARGETS = 1 << 16  # targets up to this size are class-counted in batches at flush
TARGET_BATCHES = 2  # batches whose targets give target_integer / target_distinct (one sync each)
LEVEL_BATCHES = 32  # batches whose targets give the trivial predictor's loss (trivial_*; one copy each)
EARLY_WATCH = 4  # the first steps whose watched gradient is checked for carry-over (besides telemetry steps)


class RecordMixin:
    """Monitor's per-step recording (a mix-in: the state lives on the Monitor)."""

    # ------------------------------------------------------------------ every step

    def _record(
        self, loss: Any, inputs: Any, targets: Any, outputs: Any, t0: float
    ) -> tuple[int, str] | None:
        s = self._step
        cad = self._cad
        tel = s == cad.next
        sample = not tel and cad.sample_due(s)  # coverage: per-layer norms, nothing else
        if self._snap is not None:
            self._finish_update_ratio()
            cad.charge()  # the last sample's update ratios: coverage cost, not an ordinary step's
        # Loss: a float on CPU (a CPU .item() costs less than keeping the tensor), else a
        # tensor on its device, moved to the host with the others at flush.
        fatal = None
        if s == 0:
            try:
                self._input_codes(inputs)
            except Exception:  # noqa: BLE001 - a fact not known; the monitor goes on
                self._in_cols = None
        if self._loss_kind_tries > 0:
            try:
                self._loss_kind(loss, inputs, targets)
            except Exception:  # noqa: BLE001 - a fact not known; the monitor goes on
                self._loss_kind_tries = 0
        lv: float | None = None  # the loss read on the host now (None: kept on its device, or no loss)
        if type(loss) is torch.Tensor and loss.is_cpu and loss.numel() == 1:  # the common case:
            lv = loss.item()  # (what the branch below gives, without its detach)
        elif isinstance(loss, torch.Tensor):
            lt = loss.detach()
            if lt.numel() != 1:
                lt = lt.float().mean()
            if lt.is_cpu:
                lv = lt.item()
            else:
                self._b_loss.append(lt if lt.dim() == 0 else lt.reshape(()))
                if self.on_fatal == "stop" and not bool(torch.isfinite(lt)):
                    fatal = (s, fatal_message("loss", lt.item()))
        elif loss is None:  # no loss this step (a trainer callback that saw none): not written
            self._b_loss.append(None)
        else:
            lv = float(loss)
        if lv is not None:
            self._b_loss.append(lv)
            if not math.isfinite(lv):
                fatal = (s, fatal_message("loss", lv))
        if s == 0 and self._loss_calls0 == 1 and self._loss_out0 is not None and isinstance(loss, torch.Tensor):
            self._penalty_share(loss)
        self._b_steps.append((s, self._wall0 + t0))
        opt = self.optimizer
        if opt is not None:
            lrs = [pg["lr"] for pg in opt.param_groups]
            self._b_lr.append(lrs)
            # _lr_facts does nothing when group 0's LR (a float) is the last step's
            if not (s and lrs and type(lrs[0]) is float and lrs[0] == self._lr_prev):
                try:
                    self._lr_facts(s)
                except Exception:  # noqa: BLE001, S110 - a fact not known; the monitor goes on
                    pass
        # Gradient norms: one fused norm over all gradients (per parameter); the global norm
        # is computed from them at flush. (grad_stride > 1 only when the adaptive cadence
        # finds even this too costly for the step time.)
        norms: list[torch.Tensor] = []
        grads: list[Any] = []
        present: list[torch.Tensor] = []
        self._grad_time = 0.0
        if tel or sample or s % cad.grad_stride == 0:
            tg = time.perf_counter()
            grads = [p.grad for p in self._groups.params]  # ~1 us per parameter tensor
            present = [g for g in grads if g is not None]
        if present:
            if present[0].requires_grad:  # backward(create_graph=True)
                with torch.no_grad():
                    norms = self._norms(present)
            else:
                norms = self._norms(present)
            row = self._gn_row_views[self._gn_rows]
            if len(norms) == self._n_params:
                torch.stack(norms, out=row)
            else:  # some gradients are None: zeros add nothing to the sum of squares
                row.zero_()
                torch.stack(norms, out=row[: len(norms)])
            # Non-finite gradients are fatal like a non-finite loss: checked here where the
            # norms are on the CPU (or with on_fatal="stop"), else at the next flush. On the
            # CPU the row is read through its numpy view (no torch operation): a float64 sum
            # of norms (>= 0) is finite exactly when each norm is, as the flush reads them.
            np_rows = self._gn_np_rows
            if fatal is None and not self._fatal_warned and (np_rows is not None or self.on_fatal == "stop"):
                if not math.isfinite(sum(np_rows[self._gn_rows].tolist()) if np_rows is not None else row.sum().item()):
                    fatal = (s, fatal_message("grads", math.sqrt(float(row.double().square().sum()))))
            if s >= 2:  # the first steps may legitimately lack gradients
                self._reach_step(row, grads, len(norms) == self._n_params)
            if sample:
                self._layer_sample(s, row, len(norms) == self._n_params)
                self._sample_acts(s)
            self._grad_time = time.perf_counter() - tg
            self._b_gn.append(self._gn_rows)
            self._gn_rows += 1
        else:
            self._b_gn.append(None)
            if sample:  # no gradient to sample: the schedule moves on (its inputs, outputs: below)
                self._cad.sampled(s)
        self._training = self.model.training
        tgt = targets if type(targets) is torch.Tensor else ts.first_tensor(targets)
        if tgt is not None:
            self._tgt_most = max(self._tgt_most, tgt.numel())  # a shape: no sync
        if tgt is not None and self._tfacts.batches < TARGET_BATCHES:
            self._target_facts(tgt)
        if tgt is not None and not self._ftgt.done:
            try:
                self._feature_target(inputs, tgt)
            except Exception:  # noqa: BLE001 - a fact not known; the monitor goes on
                self._ftgt.done = True
        if tgt is not None and self._tlevel_batches < LEVEL_BATCHES and not self._tlevel.full():
            self._level_facts(tgt)  # not for class ids (a cross-entropy: the chance facts)
        if tgt is not None and self._count_targets:
            if tgt.numel() <= SMALL_TARGETS:
                self._b_tgt.append(tgt.detach() if tgt.requires_grad else tgt)
            elif tel:
                self._b_tgt.append(tgt.detach().reshape(-1)[:SMALL_TARGETS])  # a sample
        if sample and self._out_act is not None:
            with torch.no_grad():
                self._sample_outputs(s, outputs, tgt)
        if tel or sample or fatal is not None:  # a sample: the input checks alone (full=False)
            with torch.no_grad():
                wbad = self._telemetry(s, grads, present, norms, inputs, tgt, outputs, full=tel)
            if wbad is not None and fatal is None and not self._fatal_warned:
                fatal = (s, fatal_message("weights", wbad))
        elif self._in_pair == s or s <= EARLY_WATCH:  # the step after one, or an early step:
            # its inputs alone, hidden (the same batch as the step before? a short run has few telemetry steps)
            with torch.no_grad():
                self._pair_inputs(s, inputs)
        if self._acc_pre is not None:  # the watched gradient before this step's first backward
            self._b_tel.append((s, ["_acc"], self._acc_pre.reshape(1), []))
            self._acc_after[s] = self._acc_after_opt
            self._acc_pre = None
        self._bwd_seen = False
        self._opt_steps = 0
        if tel and self._fwd_calls:
            self._count_forwards()
        self._fwd_calls = 0
        if self._modal:  # every dropout / batch-norm submodule in eval mode on this step (any()
            # stops at the first one in training mode: one attribute read on a healthy step)
            self._modal_checked += 1
            self._modal_eval += not any(m.training for m in self._modal)
        if tel:
            if s == 0:
                self._first_step_facts(inputs)
            cad.advance(s, self._own + (time.perf_counter() - t0))
        self._step = s + 1
        self._periodic_time = 0.0
        if len(self._b_steps) >= FLUSH_STEPS or t0 >= self._disk_at:
            tf = time.perf_counter()
            self._flush(disk=t0 >= self._disk_at)
            self._periodic_time = time.perf_counter() - tf
        if self._step == cad.next:
            self._arm()
        elif (self._activations or self._out_act is not None) and cad.sample_due(self._step):
            self._disarm()
            self._arm(sample=True)  # the next step is a coverage sample: its activations, its output
        elif self._armed or self._watch_armed:
            self._disarm()
        if self._step <= EARLY_WATCH:
            self._arm_watch()  # is the gradient carried over? (a run may diverge before telemetry)
        if tel or sample:
            self._act_pending.clear()
            self._out = None
        return fatal

    def _count_forwards(self) -> None:
        """Flag ``forwards_per_step``: the model's training-mode forward passes (grad
        enabled) between two recorded steps, median over the last 32 telemetry steps (the
        forward hook is armed for those). 1 in a plain loop, k when k micro-batches are
        accumulated into one optimizer step, the batches of an epoch when a loop sums the
        epoch's losses and steps once."""
        c = self._fwd_counts
        c.append(self._fwd_calls)
        del c[:-32]
        self.context.flags["forwards_per_step"] = float(sorted(c)[len(c) // 2])

    def _reach_step(self, row: torch.Tensor, grads: list[Any], aligned: bool) -> None:
        """Sum, per parameter, its gradient norms over the steps (one operation on the device,
        no sync; a sum of norms is non-zero when one was): a parameter used only on some
        steps (an expert, a head of one task) is seen on those. Which gradients exist (not
        None) is kept on the host, once per distinct pattern (a routed model has a few)."""
        if aligned:  # summed at flush (_reach_flush): one operation per flush, not per step
            self._reach_rows.append(self._gn_rows)
            if not self._reach_all:
                self._reach_all = True
                self._reach.add(False, True)
            return
        mask = tuple(gr is not None for gr in grads)
        idx = self._reach_idx.get(mask)
        if idx is None:
            if len(self._reach_idx) >= 64:  # patterns without end: stop looking at new ones
                return
            idx = torch.tensor([i for i, m in enumerate(mask) if m], dtype=torch.long, device=row.device)
            self._reach_idx[mask] = idx
            self._reach.add(False, mask)
        self._reach_sum.index_add_(0, idx, row[: idx.numel()])

    def _layer_sample(self, s: int, row: torch.Tensor, aligned: bool) -> None:
        """A coverage sample between telemetry steps: per-module gradient norms from this
        step's per-parameter norms (``row``, when every parameter has a gradient), per-module
        weight norms, and a snapshot of the weights (as a telemetry step takes), so the
        next step records this step's per-module update ratios; a few dozen operations and
        one copy of the weights, held for one step, against a telemetry step's hundreds (no
        hooks, no activation or output statistics)."""
        g = self._groups
        self._cad.sampled(s)
        with torch.no_grad():
            if aligned:
                self._grad_seen.update(range(len(self._grad_tags)))
                self._b_tel.append((s, self._grad_tags, self._module_sq(row, g.index).sqrt(), []))
            if g.params:
                snap = None
                if self._snap is None:  # a copy, compared at the next step (update ratios)
                    snap = self._snap = torch._foreach_mul(g.params, 1.0)
                # the norms of the copy just written (still in cache), the same values
                wsq = self._module_sq(torch.stack(self._norms(snap or g.params)), g.index)
                wrow = torch.cat([wsq, wsq.sum(0, keepdim=True)]).sqrt()  # per module, then the total
                self._b_tel.append((s, self._weight_tags, wrow, []))
                if snap is not None:
                    self._snap_w, self._snap_step = wrow, s

    def _sample_acts(self, s: int) -> None:
        """A coverage sample's activation statistics: the moments the forward hooks (armed
        for this step alone, see the end of ``_record``) left, as a telemetry step records them."""
        acts, moments = [], []
        for name, (m, n, kind) in self._act_pending.items():
            acts.append((self._act_tags[name], n, kind, m.numel()))
            moments.append(m)
        if moments:
            self._b_tel.append((s, [], flat_values(moments), acts))

    def _norms(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """L2 norm of each tensor (float32, on the first tensor's device)."""
        try:
            if self._all_f32:
                norms = list(torch._foreach_norm(tensors, 2))  # ~15 % faster than with dtype=
            else:
                norms = list(torch._foreach_norm(tensors, 2, dtype=torch.float32))
        except (RuntimeError, TypeError, NotImplementedError):  # sparse or unusual tensors
            norms = [(t.coalesce().values() if t.is_sparse else t).float().norm() for t in tensors]
        if not self._one_device:
            dev = tensors[0].device
            norms = [n.to(dev) for n in norms]
        return norms

    def _penalty_share(self, loss: torch.Tensor) -> None:
        """``reg_loss_share`` (as the Keras callback's): the part of the first stepped loss
        above the loss module's own value (one call of it in the step): a penalty added to
        the objective (L2 on the weights, an auxiliary term). One sync, at step 0 only."""
        try:
            got = torch.stack([loss.detach().float().mean(), self._loss_out0.float().reshape(())]).tolist()
        except Exception:  # noqa: BLE001 - a fact not known; the monitor goes on
            return
        share = penalty_share(*got)
        if share is not None:
            self.context.flags["reg_loss_share"] = share
