"""Flushing of the torch Monitor: buffered per-step values and telemetry move to the host in
one transfer, become event-file records, and are folded into the run context (a mixin of
:class:`traindx.adapters.torch.Monitor`)."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from traindx.adapters import _torch_overlap as _overlap
from traindx.adapters._common import add_counts, class_limit, fatal_message
from traindx.adapters._common.activations import finite_activation_values, note_left_out
from traindx.adapters._common.carry import fold_carry_counts
from traindx.adapters._common.classweights import minority_weight_ratio
from traindx.adapters._torch_moments import from_moments


def _lr_rows(lrs: list[list], nl: int) -> np.ndarray:
    """Steps x groups learning rates as float64: numpy converts a block of floats at once
    (~20x faster); rates numpy does not take (a tensor that needs its grad, on a device)
    are converted one by one with ``float``."""
    try:
        out = np.asarray(lrs, dtype=np.float64)
        if out.shape == (len(lrs), nl):
            return out
    except (TypeError, ValueError, RuntimeError):
        pass
    return np.asarray([[float(v) for v in lr] for lr in lrs], dtype=np.float64).reshape(len(lrs), nl)


class FlushMixin:
    """Buffers -> host -> events and context; state lives on the Monitor."""

    def _flush(self, force: bool = False, final: bool = False, disk: bool = False) -> None:
        """Move the buffers to the host (one transfer), write events, fold the context."""
        w = self._writer
        if w is None:
            return
        with torch.no_grad():
            host = self._to_host()
        losses, gnorms, tel = host
        self._write_steps(losses, gnorms)
        for (s, tags, _, acts), v in zip(self._b_tel, tel, strict=True):
            vals = dict(zip(tags, v[: len(tags)], strict=True))
            pos = len(tags)
            for atags, n, kind, width in acts:  # activation moments -> mean, std, fraction
                vals.update(zip(atags, from_moments(v[pos : pos + width], n, kind), strict=True))
                pos += width
            vals, left_out = finite_activation_values(vals)
            note_left_out(self.context.notes, left_out)
            self._fold(s, vals)
            w.add(s, {k: x for k, x in vals.items() if k[0] != "_"})
        for s, hv in self._b_host:
            self._fold(s, hv)
            w.add(s, {k: x for k, x in hv.items() if k[0] != "_"})
        self._fold_targets()
        try:  # parameters unfrozen since the last flush that no optimizer holds
            self._recheck_missing()
        except Exception:  # noqa: BLE001, S110 - a fact not known; the monitor goes on
            pass
        self._reach_flush()
        if self._reach.steps:  # which parameters got a gradient on some observed step
            self._reach.nonzero |= self._reach_sum[: self._n_params].cpu().numpy() != 0
            self._reach.fold(self.context)
        for b in (
            self._b_steps,
            self._b_loss,
            self._b_gn,
            self._b_lr,
            self._b_tel,
            self._b_host,
            self._b_tgt,
        ):
            b.clear()
        self._gn_rows = 0
        self.context.model.training_mode = self._training
        if self._modal_checked:
            self.context.flags["mode_layers"] = float(len(self._modal))
            self.context.flags["mode_layers_checked"] = float(self._modal_checked)
            self.context.flags["mode_layers_eval_share"] = round(self._modal_eval / self._modal_checked, 4)
        if final:
            self._set_final_note(self.context, "traindx monitor: ", self._cad.note(self._step))
            self.context.flags.update(self._ftgt.finish() or {})  # a short run: the rows it had
        if force or disk:
            _overlap.record(self)
            w.write_context(self.context)
            w.flush()
            self._disk_at = time.perf_counter() + self._flush_secs

    def _write_steps(self, losses: list[float], gnorms: np.ndarray) -> None:
        """Per-step events in step order, each run of steps with the same tags encoded in one
        numpy pass: (loss, grad_norm, lr...) when every step took the gradient norm, else
        (loss, lr...) for every step and (grad_norm) events for the steps that took it."""
        w = self._writer
        steps = [s for s, _ in self._b_steps]
        walls = [t for _, t in self._b_steps]
        n = len(steps)
        lrs = self._b_lr
        taken = np.asarray([r is not None for r in self._b_gn], dtype=bool)  # (a norm may be NaN)
        together = bool(taken.all())
        has = [lv is not None for lv in losses]  # None: the step had no loss (step(None))
        with_loss = all(has)
        i = 0
        while i < n:
            nl = len(lrs[i]) if lrs else 0
            j = i + 1
            while j < n and (len(lrs[j]) if lrs else 0) == nl:
                j += 1
            tags = (("train/loss",) if with_loss else ()) + (("train/grad_norm",) if together else ()) + tuple(
                "train/lr" if k == 0 else f"train/lr@pg{k}" for k in range(nl))  # fmt: skip
            cols = [np.asarray(losses[i:j], dtype=np.float64)] if with_loss else []
            if together:
                cols.append(gnorms[i:j])
            if nl:
                cols.append(_lr_rows(lrs[i:j], nl))
            if tags:
                w.add_rows(steps[i:j], walls[i:j], tags, np.column_stack(cols))  # type: ignore[union-attr]
            i = j
        if not with_loss and any(has):
            idx = [k for k, h in enumerate(has) if h]
            w.add_rows([steps[k] for k in idx], [walls[k] for k in idx], ("train/loss",),  # type: ignore[union-attr]
                       np.asarray([losses[k] for k in idx], dtype=np.float64).reshape(-1, 1))  # fmt: skip
        if not together and taken.any():
            idx = np.flatnonzero(taken).tolist()
            w.add_rows([steps[k] for k in idx], [walls[k] for k in idx], ("train/grad_norm",),  # type: ignore[union-attr]
                       gnorms[taken].reshape(-1, 1))  # fmt: skip
        if self._pending_fatal is None and not self._fatal_warned:
            # the first step whose loss (first) or gradient norm is not finite
            for k, lv in enumerate(losses):
                gn = gnorms[k]
                if lv is not None and not math.isfinite(lv):
                    self._pending_fatal = (steps[k], fatal_message("loss", lv))
                    break
                if taken[k] and not math.isfinite(gn):
                    self._pending_fatal = (steps[k], fatal_message("grads", float(gn)))
                    break

    def _reach_flush(self) -> None:
        """Add the buffered rows of steps with every gradient to ``_reach_sum`` (read only
        as ``!= 0``: a sum of non-negative norms is zero exactly when each is, in any order)."""
        rows = self._reach_rows
        if not rows:
            return
        buf = self._gn_buf
        if len(rows) == rows[-1] - rows[0] + 1:  # consecutive (the usual case): a slice
            self._reach_sum.add_(buf[rows[0] : rows[-1] + 1].sum(0))
        else:
            self._reach_sum.add_(buf[torch.tensor(rows, device=buf.device)].sum(0))
        rows.clear()

    def _to_host(self) -> tuple[list[float], np.ndarray, list[list[float]]]:
        """Losses, global gradient norms (NaN where not taken) and telemetry vectors, with
        one device-to-host transfer for what is on an accelerator."""
        dev_losses = [v for v in self._b_loss if isinstance(v, torch.Tensor)]
        pieces: list[torch.Tensor] = []
        if dev_losses:
            pieces.append(torch.stack(dev_losses).float())
        pieces += [v for _, _, v, _ in self._b_tel]
        values: list[float] = []
        if pieces:
            dev = pieces[0].device
            # most pieces are already flat on that device: no reshape or copy call for them
            values = torch.cat([p if p.dim() == 1 and p.device == dev else p.reshape(-1).to(dev)
                                for p in pieces]).tolist()  # fmt: skip
        it = iter(values[: len(dev_losses)])
        losses = [next(it) if isinstance(v, torch.Tensor) else v for v in self._b_loss]
        rows = self._gn_buf[: self._gn_rows].cpu().numpy().astype(np.float64)
        totals = np.sqrt(np.square(rows).sum(axis=1))
        gnorms = np.full(len(self._b_gn), np.nan)
        taken = [i for i, r in enumerate(self._b_gn) if r is not None]
        gnorms[taken] = totals
        pos = len(dev_losses)
        tel = []
        for _, tags, _, acts in self._b_tel:
            width = len(tags) + sum(a[3] for a in acts)
            tel.append(values[pos : pos + width])
            pos += width
        return losses, gnorms, tel

    def _fold(self, s: int, vals: dict[str, float]) -> None:
        """Fold one telemetry step's values into the context (moments, flags)."""
        flags = self.context.flags
        if "train/input_mean" in vals:
            self._moments.merge(vals["_in_n"], vals["train/input_mean"], vals["train/input_std"],
                                vals["train/input_min"], vals["train/input_max"])  # fmt: skip
            mo, d = self._moments, self.context.data
            if mo.n:
                d.input_mean, d.input_std, d.input_min, d.input_max = (
                    mo.mean,
                    mo.std,
                    mo.min,
                    mo.max,
                )
        if "_ik_sum" in vals:  # the inputs of a telemetry step or of the step after one
            self._repeats.see(s, (vals["_ik_n"], vals["_ik_min"], vals["_ik_max"]), (vals["_ik_sum"], vals["_ik_sq"]))
            self._repeats.fold(flags)
        if "train/nonfinite@inputs" in vals:
            self._input_nonfinite += vals["train/nonfinite@inputs"]
            flags["input_nonfinite"] = float(self._input_nonfinite)
        if "_acc" in vals:
            self._fold_carry(s, vals["_acc"])

    def _fold_carry(self, s: int, pre: float) -> None:
        """Did the first backward after a step add onto the gradient left there (``pre``, the
        watched parameter's summed |grad| before it; NaN is not reset either)? Flags
        ``grads_carried_over`` (the share of the checked steps where it did: 1 when the loop
        never resets gradients, about 1 - 1/k when it resets them every k steps, 0 for a loop
        that resets them, legitimate accumulation included) and ``grad_accumulating``. Once the
        optimizer is seen stepping, only backwards that follow one of its steps count (a loop
        calling mon.step per micro-batch adds to the gradient on purpose until it steps)."""
        after = self._acc_after.pop(s, True)
        carried = not pre == 0.0
        if s == 0 and not carried:
            return  # the first step has no step before it to carry over from
        self._acc_n[after][0 if carried else 1] += 1
        hits, clean = self._acc_n[True] if self._opt_seen else [a + b for a, b in zip(*self._acc_n.values(), strict=True)]
        fold_carry_counts(self.context.flags, hits, clean)

    def _fold_targets(self) -> None:
        """Class counts of the buffered targets (one bincount per flush)."""
        if not self._b_tgt or not self._count_targets:
            return
        tgts = self._b_tgt
        t = torch.cat(tgts if all(x.dim() == 1 for x in tgts) else [x.reshape(-1) for x in tgts])
        zero_one = t.is_floating_point() or t.dtype == torch.bool  # 0/1 labels, not ids
        # a binary loss read from the graph (no loss_fn=): float targets count as two classes
        # only when they are exactly 0/1 (one sync per flush)
        graph_binary = self._task is None and self.context.flags.get("loss_task") == "binary"
        if t.is_floating_point():
            if self._task != "binary" and not self._label_rate and not graph_binary:
                self._count_targets = False  # float targets: not class labels
                return
            if graph_binary and not bool(((t == 0) | (t == 1)).all()):
                self._count_targets = False  # soft or smoothed targets: no class counts
                return
            t = t > 0.5
        d = self.context.data
        if not t.numel():
            return
        # Class ids only: integer targets below the number of classes (given, else the
        # output width), at most MAX_CLASSES - one max() per flush bounds the bincount.
        lim = class_limit(self._user_classes, self.context.model.output_units)
        top = lim if t.is_complex() else int(t.max())
        if top >= lim:
            self._count_targets = False
            self._class_counts = np.zeros(0, dtype=np.int64)
            d.class_counts = None
            if self._user_classes is None and self._task != "classification" and not self._label_rate:
                d.num_classes = None
            self.context.notes.append(f"targets reach {top}: not class ids below {lim}, so no class counts were kept")
            return
        # Negative labels (ignore_index) land in bucket 0, dropped (no boolean mask, no sync).
        counts = torch.bincount((t.long() + 1).clamp_(min=0)).cpu().numpy()[1:]
        self._class_counts = add_counts(self._class_counts, counts)
        if self._label_rate:  # multi-label: not the classes of one label
            c = self._class_counts
            if zero_one and c.size:
                self.context.flags["label_positive_share"] = float(c[1:].sum() / max(c.sum(), 1))
            return
        d.class_counts = self._class_counts.tolist()
        if (cw := getattr(self, "_loss_class_w", None)) and (r := minority_weight_ratio(cw, d.class_counts)):
            self.context.flags["loss_minority_weight_ratio"] = r
        if d.num_classes is None and self._task == "classification":
            d.num_classes = len(d.class_counts)
        elif d.num_classes is None and graph_binary:
            d.num_classes = 2  # as a binary loss_fn= gives it
