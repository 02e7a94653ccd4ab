"""Telemetry steps of the torch Monitor: per-module gradient and weight norms, update
ratios, activation statistics, output, input and target checks (a mixin of
:class:`traindx.adapters.torch.Monitor`; all under ``torch.no_grad()``)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from traindx.adapters import _torch_stats as ts
from traindx.adapters._common import note_broadcast

SHORT_BATCH = 4  # a batch with under 1/SHORT_BATCH of the usual targets is "short"
_INPUT_TAGS = ("train/input_mean", "train/input_std", "train/input_min", "train/input_max")
_KEY_TAGS = ["_ik_sum", "_ik_sq", "_ik_min", "_ik_max", "_ik_n"]  # input_key's order (the same-batch check)


def flat_values(pieces: list[torch.Tensor]) -> torch.Tensor:
    """The pieces' values in one float32 vector on the first piece's device. A piece that
    already is one (an activation's moments, a per-module norm row) goes in as it is: a
    deep net's telemetry step has a piece per hooked module, and three no-op conversions
    of each (reshape, float, to) cost more than the concatenation (the same values)."""
    dev = pieces[0].device
    f32 = torch.float32
    return torch.cat([p if p.dim() == 1 and p.dtype is f32 and p.device == dev else p.reshape(-1).float().to(dev)
                      for p in pieces])  # fmt: skip


class TelemetryMixin:
    """Everything a telemetry step records; state lives on the Monitor."""

    def _module_sq(self, norms: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Per-module sums of squared per-parameter norms."""
        sq = torch.zeros(len(self._groups.names), dtype=norms.dtype, device=norms.device)
        return sq.index_add_(0, index.to(norms.device), norms * norms)

    def _telemetry(self, s: int, grads: list[Any], present: list[torch.Tensor], norms: list[torch.Tensor],
                   inputs: Any, tgt: torch.Tensor | None, outputs: Any, full: bool) -> float | None:  # fmt: skip
        """Record a telemetry step (``full``) or only the input checks; returns the global
        weight norm when it is not finite (a fatal fault), else None."""
        wbad = None
        tags: list[str] = []
        vals: list[torch.Tensor] = []
        acts: list[tuple[list[str], int, int, int]] = []
        moments: list[torch.Tensor] = []
        host: dict[str, float] = {}
        g = self._groups
        x = self._input_view(inputs)
        if x is not None and x.numel():
            self._in_pair = s + 1  # the next step's inputs too, unless it records them itself
        if x is not None or tgt is not None:
            nf = None
            if x is not None and x.numel():
                summ = ts.summary_and_key(x)
                tags += [*_INPUT_TAGS, "_in_nf", "_in_n", *_KEY_TAGS]
                vals.append(summ)
                nf = summ[4]
            # every input of a multi-input model (issue 10), and the targets; integer or empty
            # tensors add nothing (their count is 0: three operations less on every sample)
            for t in [*ts.other_tensors(inputs), *([tgt] if tgt is not None else [])]:
                if t.is_floating_point() and t.numel():
                    c = ts.nonfinite_count(t)
                    nf = c if nf is None else nf + c.to(nf.device)
            if nf is None:
                nf = torch.zeros((), device=(x if x is not None else tgt).device)  # type: ignore[union-attr]
            tags.append("train/nonfinite@inputs")
            vals.append(nf)
        if full:
            if norms:
                stacked = torch.stack(norms)
                if len(present) == len(grads):
                    self._grad_seen.update(range(len(self._grad_tags)))
                    tags += self._grad_tags
                    vals.append(self._module_sq(stacked, g.index).sqrt())
                else:  # a module none of whose parameters has a gradient (None) this step, after
                    # it had one - a branch not taken - has no gradient norm: not written, not 0.
                    # One that never had one (the graph does not reach it) is written as 0.
                    of = [m for m, gr in zip(g.module_of, grads, strict=True) if gr is not None]
                    now = set(of)
                    self._grad_seen |= now
                    has = [m for m in range(len(self._grad_tags)) if m in now or m not in self._grad_seen]
                    tags += [self._grad_tags[m] for m in has]
                    sq = self._module_sq(stacked, torch.tensor(of, device=g.index.device))
                    vals.append(sq.index_select(0, torch.tensor(has, device=sq.device)).sqrt())
            elif g.params and s >= 2:  # no gradient at all (the first steps may lack them)
                self._reach.add(False, False)
            wtot = None
            if g.params:
                wsq = self._module_sq(torch.stack(self._norms(g.params)), g.index)
                wrow = torch.cat([wsq, wsq.sum(0, keepdim=True)]).sqrt()  # per module, then the total
                wtot = wrow[-1]
                tags += self._weight_tags
                vals.append(wrow)
                self._snap = torch._foreach_mul(g.params, 1.0)  # a copy, compared at the next step
                self._snap_w, self._snap_step = wrow, s
            # One sync per telemetry step, for what must be known now: non-finite weights are
            # fatal, and non-finite gradient norms say which gradients to count.
            check = [x for x in (wtot, torch.isfinite(stacked).all() if norms else None) if x is not None]
            if check:
                got = torch.stack([c.to(torch.float32) for c in check]).tolist()
                if wtot is not None and not math.isfinite(got[0]):
                    wbad = got[0]
                if norms:  # the values are counted only in the gradients whose norm is not finite
                    bad = (~torch.isfinite(stacked)).nonzero().reshape(-1).tolist() if got[-1] == 0.0 else []
                    host["train/nonfinite@grads"] = float(sum(
                        int(present[i].numel() - torch.count_nonzero(torch.isfinite(present[i]))) for i in bad))  # fmt: skip
            for name, (m, n, kind) in self._act_pending.items():
                acts.append((self._act_tags[name], n, kind, m.numel()))
                moments.append(m)
            out = ts.first_tensor(outputs) if outputs is not None else self._out
            if out is not None:
                self._output_telemetry(out, tgt, tags, vals)
            if self._loss_shapes is not None:
                self._check_broadcast(*self._loss_shapes)
                self._loss_shapes = None
            elif (
                out is not None
                and tgt is not None
                and self._elementwise
                and not isinstance(self.loss_fn, nn.Module)
                and not self._loss_reshaped
            ):
                self._check_broadcast(tuple(out.shape), tuple(tgt.shape))
        if vals or moments:
            self._b_tel.append((s, tags, flat_values(vals + moments), acts))
        if host:
            self._b_host.append((s, host))
        return wbad

    def _input_view(self, inputs: Any) -> torch.Tensor | None:
        x = ts.first_tensor(inputs)
        if x is not None and self._in_cols is not None and x.dim() == 2 and x.shape[1] == self._in_width:
            x = x.index_select(1, self._in_cols.to(x.device))  # integer-code columns left out
        return x

    def _pair_inputs(self, s: int, inputs: Any) -> None:
        """The inputs of the step after a telemetry step, keyed as the telemetry step's are
        (:func:`_torch_stats.input_key`, hidden tags, not written): was it fed the same batch?
        (flag inputs_same_share)"""
        x = self._input_view(inputs)
        if x is not None and x.numel():
            self._b_tel.append((s, _KEY_TAGS, ts.input_key(x).float(), []))

    def _finish_update_ratio(self) -> None:
        """‖w_now − w_snapshot‖ / ‖w_snapshot‖ per module, recorded at the snapshot's step."""
        snap, self._snap = self._snap, None
        with torch.no_grad():
            torch._foreach_sub_(snap, self._groups.params)  # our copy becomes w_before - w_now
            dsq = self._module_sq(torch.stack(self._norms(snap)), self._groups.index)
            del snap
            w = self._snap_w  # per-module weight norms and the total, at the snapshot
            assert w is not None
            ratio = torch.cat([dsq, dsq.sum(0, keepdim=True)]).sqrt_().div_(w.clamp_min(1e-30))
            self._b_tel.append((self._snap_step, self._update_tags, ratio.float(), []))

    def _output_telemetry(
        self, out: torch.Tensor, tgt: torch.Tensor | None, tags: list[str], vals: list[torch.Tensor]
    ) -> None:
        cdim = ts.class_dim(out, tgt)
        if self._out_act is None:
            self._decide_output(out, cdim)
        self._output_stats(out, tgt, cdim, tags, vals)

    def _output_stats(
        self, out: torch.Tensor, tgt: torch.Tensor | None, cdim: int, tags: list[str], vals: list[torch.Tensor]
    ) -> None:
        """Append the output statistics and the training accuracy (where it is defined)."""
        classify = self._task in (None, "classification") or self._probs is not None
        # Fractions of a batch's rows (accuracy, largest predicted class) from a batch with
        # under a quarter of the usual batch's targets - an epoch's short last batch - have at
        # least twice the others' sampling error (a third of 3 rows is one row): not recorded.
        short = tgt is not None and tgt.numel() * SHORT_BATCH < self._tgt_most
        # the predicted classes, once for both (argmax of the float copy is argmax of out)
        pred = out.detach().argmax(cdim) if out.dim() >= 2 and out.shape[cdim] >= 2 else None
        for tag, v in ts.output_stats(out, self._probs, cdim, pred).items():
            if tag == "train/output_row_sum" or (classify and not short):
                tags.append(tag)
                vals.append(v)
        if tgt is not None and not short:
            acc = ts.accuracy(out, tgt, self._task, cdim, self._out_act, pred)
            if acc is not None:
                tags.append("train/accuracy")
                vals.append(acc)

    def _sample_outputs(self, s: int, outputs: Any, tgt: torch.Tensor | None) -> None:
        """A coverage sample's output statistics (largest predicted-class share, softmax row
        sums) and training accuracy, as a telemetry step records them: where the budget makes
        telemetry steps rare (a tiny model), these alone follow the predictions to the end of
        training."""
        out = ts.first_tensor(outputs) if outputs is not None else self._out
        if out is None:
            return
        tags: list[str] = []
        vals: list[torch.Tensor] = []
        self._output_stats(out, tgt, ts.class_dim(out, tgt), tags, vals)
        if vals:
            self._b_tel.append((s, tags, flat_values(vals), []))

    def _decide_output(self, out: torch.Tensor, cdim: int) -> None:
        """The output activation: the activation module run last, or what the values show."""
        leaf = self._out_last_leaf
        m = self.context.model
        width = int(out.shape[cdim]) if out.dim() >= 2 else 1
        m.output_units = width
        if leaf is not None and ts.is_activation(leaf):
            act = ts.ACTIVATIONS[ts.kind_of(leaf)]
        elif leaf is not None and self._out_is_leaf and ts.kind_of(leaf) in ts.AFFINE_KINDS:
            # the output IS the last Linear/conv's own output tensor: no functional activation
            # ran after it, whatever values its first batch of logits happens to take
            act = "linear"
        else:
            task = self._task
            tf = self._tfacts
            if task is None and width == 1 and tf.values and not tf.binary:
                task = "regression"  # one output, targets other than 0/1: not a sigmoid's
            act = ts.infer_activation(out, cdim, task) if out.numel() else "linear"
            if act != "linear":
                self.context.notes.append(
                    f"output activation '{act}' inferred from the output values (a functional call)"
                )
        self._out_act = m.output_activation = act
        if act in ("softmax", "log_softmax") or (
            act == "sigmoid" and self._task == "classification"
        ):
            self._probs = act
        d = self.context.data
        if d.num_classes is None and width >= 2 and self._task == "classification":
            d.num_classes = width
        if d.num_classes is None and self._task == "binary" and width == 1:
            d.num_classes = 2

    def _check_broadcast(self, a: tuple[int, ...], b: tuple[int, ...]) -> None:
        if not self._elementwise:
            return
        try:
            torch.broadcast_shapes(a, b)
        except RuntimeError:
            note_broadcast(self.context, a, b, False)
        else:
            note_broadcast(self.context, a, b, True)

    def _on_seq(self, module: nn.Module, args: Any) -> None:
        """A layer with a ``batch_first`` setting (RNN, LSTM, GRU, MultiheadAttention,
        Transformer), the first time it runs: its setting and its input's shape."""
        name = self._seq_ids.pop(id(module), None)
        t = ts.first_tensor(args)
        if name is not None and t is not None and t.dim() == 3:
            self._seq_seen.append((name, bool(module.batch_first), tuple(t.shape)))

    def _seq_facts(self, batch: int) -> None:
        """Flags ``seq_batch_first`` (the setting of the model's first such layer, in module
        order) and ``seq_input_batch_axis``: which axis of its input has the loader's batch
        size (0 or 1; -1 where both or neither do). Facts only; the rulebook judges."""
        if not self._seq_seen:
            return
        order = {n: i for i, n in enumerate(n for n, _ in self.model.named_modules())}
        name, bf, shape = min(self._seq_seen, key=lambda e: order.get(e[0], len(order)))
        first, second = shape[0] == batch, shape[1] == batch
        f = self.context.flags
        f["seq_layer"] = name
        f["seq_batch_first"] = bf
        f["seq_input_batch_axis"] = 0.0 if first and not second else 1.0 if second and not first else -1.0

    def _first_step_facts(self, inputs: Any) -> None:
        d = self.context.data
        x = ts.first_tensor(inputs)
        if x is not None and x.dim() >= 1:
            d.batch_size = int(x.shape[0])
            d.input_dtype = str(x.dtype).removeprefix("torch.")
            self._seq_facts(d.batch_size)
        if self._fwd_last is not None and self._fwd_last != self._init_out:
            self._init_out = self._fwd_last  # the output layer is the last weight layer run
            self._set_init_flags()
        self._init_layers = set()
        params = self._groups.params
        if self._watch is not None and self._watch.grad is None:
            with_grad = [p for p in params if p.grad is not None]
            if with_grad:  # watch a parameter that does receive gradients
                self._watch = min(with_grad, key=lambda p: p.numel())
                self._disarm()
