"""The JAX Recorder's pipeline: steps kept on the device, fetched in blocks, decoded into canonical rows and written."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from traindx.adapters._common import (
    fatal_message,
)
from traindx.adapters._common.activations import finite_activation_block, note_left_out
from traindx.adapters._jax_stats import (
    Stats,
)

# --------------------------------------------------------------------------- Recorder


class _Layout:
    """How the rows of one kind of record turn into events (decided at their first fetch).

    Columns: the entries of the ``Stats`` vector (``n_stats``), then scalars given apart
    (a loss passed to ``log``, a dict's values)."""

    def __init__(self, tags: tuple[str, ...], meta: tuple[tuple[str, Any], ...], extra: tuple[str, ...] = ()):
        self.n_stats = len(tags)
        self.tags = tags + extra
        self.meta = dict(meta)
        self.col: dict[str, int] = {}
        for i, t in enumerate(self.tags):
            if i >= self.n_stats or t not in self.col:  # a loss given apart wins
                self.col[t] = i
        self.plan: list[tuple[str, int, float]] | None = None  # (tag, column, value added)
        self.plan_cols: tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None = None  # the plan as arrays
        self.prev_w: np.ndarray | None = None  # weight norms and sums at the last telemetry row
        self.steps: list[tuple[str, int]] = self.step_tags()
        self.cls = [i for t, i in self.col.items() if t.startswith("_cls")]  # class-count columns
        self.wnames = [t[6:] for t in self.col if t.startswith("_wsum@")]  # layers with weight sums

    def step_tags(self) -> list[tuple[str, int]]:
        """Series written every step: loss, global gradient norm, lr, scalars given apart."""
        first = int(self.meta.get("per_step", 0))
        out = {t: self.col[t] for t in self.tags[:first] if not t.startswith("_")}
        for t in self.tags[self.n_stats :]:
            out[t] = self.col[t]
        return list(out.items())


def _first_fatal(lay: _Layout, steps: np.ndarray, m: np.ndarray) -> tuple[int, str] | None:
    """The first step of a fetched matrix whose loss is not finite, or whose global weight or
    gradient norm is not finite while the loss is (on rows that computed them): fatal."""
    c = lay.col
    per_step = int(lay.meta.get("per_step", 0))
    tel = m[:, c["_tel"]] > 0.5 if "_tel" in c else np.zeros(len(steps), dtype=bool)
    found: list[tuple[int, int, str]] = []  # (row, rank, what): the loss first at a step
    for rank, (tag, kind) in enumerate((("train/loss", "loss"), ("train/grad_norm", "grads"),
                                        ("train/weight_norm", "weights"))):  # fmt: skip
        if tag not in c:
            continue
        v = m[:, c[tag]]
        rows = ~np.isfinite(v)
        if kind != "loss" and not (c[tag] < per_step or c[tag] >= lay.n_stats):
            rows &= tel  # computed on telemetry rows only (NaN elsewhere)
        bad = np.flatnonzero(rows)
        if bad.size:
            found.append((int(bad[0]), rank, fatal_message(kind, float(v[bad[0]]))))
    if not found:
        return None
    row, _, what = min(found)
    return int(steps[row]), what


def _is_ready(batch: list[tuple[list[tuple[int, float]], Any, list[Any]]]) -> bool:
    """Whether every device array of a dispatched batch is computed (no waiting)."""
    for _, _, stacked in batch:
        for s in stacked:
            for a in s if isinstance(s, list) else (s,):
                if isinstance(a, jax.Array) and not a.is_ready():
                    return False
    return True


class _HostList(list):
    """A batch column of arrays that live in host memory (the CPU backend): no transfer."""


def _on_host(a: jax.Array) -> bool:
    try:
        return all(d.platform == "cpu" for d in a.devices())
    except Exception:  # noqa: BLE001 - a deleted or unusual array: take the general path
        return False


@jax.jit
def _stack(*arrays: jax.Array) -> jax.Array:
    """``jnp.stack`` as one dispatch (compiled once per count and shape)."""
    return jnp.stack(arrays)


def _act_kind(name: str, lo: float, hi: float, zero: float) -> int:
    """0: mean/std only; 1: ReLU-like (fraction zero); 2: tanh-like; 3: sigmoid-like
    (fraction saturated). From the name when it says, else from the first values."""
    low = name.lower()
    if any(k in low for k in ("relu", "relu6", "hard_swish")):
        return 1
    if "tanh" in low:
        return 2
    if "sigmoid" in low:
        return 3
    if any(k in low for k in ("gelu", "silu", "swish", "elu", "softplus", "linear", "dense", "conv", "logits")):
        return 0
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0
    if lo == 0.0 and (hi > 1.0 or zero > 0.0):
        return 1
    if lo >= 0.0 and hi <= 1.0:
        return 3
    if lo >= -1.0 and hi <= 1.0 and lo < 0.0:
        return 2
    return 0


class PipelineMixin:
    """Recorder's device-to-disk pipeline (a mix-in: the state lives on the Recorder)."""

    # ------------------------------------------------------------------ buffering

    def _keep(self, step: int, stats: Any, loss: Any) -> None:
        if isinstance(stats, Stats):
            # the tags and meta of one jitted function's Stats are the same objects every
            # step (its output tree's static data): the layout is found by their identity,
            # without building or hashing a tuple of hundreds of tags per step
            ident = (id(stats.tags), id(stats.meta), loss is not None)
            hit = self._by_id.get(ident)
            if hit is None or hit[0] is not stats.tags or hit[1] is not stats.meta:
                hit = self._by_id[ident] = (stats.tags, stats.meta, self._layout((stats.tags, stats.meta, loss is not None)))
            lay = hit[2]
            arrays: tuple[Any, ...] = (stats.values,) if loss is None else (stats.values, loss)
        elif isinstance(stats, Mapping):
            names = tuple(stats)
            lay = self._layout(("dict", names, loss is not None))
            arrays = tuple(stats[n] for n in names) + ((loss,) if loss is not None else ())
        elif stats is None and loss is not None:
            lay, arrays = self._layout(("loss",)), (loss,)
        else:
            raise TypeError(f"log() takes the Stats of telemetry() or a dict of scalars, not {type(stats).__name__}")
        self._buf.append((step, time.time(), lay, arrays))
        self._steps += 1
        timed = time.monotonic() - self._last_dispatch >= self._flush_secs
        if timed or len(self._buf) >= self.fetch_every:
            self._dispatch()
            self._flush_wanted |= timed
            while len(self._pending) > 1:  # the batch before this one is ready by now
                self._collect(self._pending.pop(0))
        w = self._writer
        if w is not None and (self._flush_wanted or w.due()):
            # On time as well as on steps: a batch dispatched because flush_secs passed is
            # written as soon as its host copy is done (not at the writer's own next due
            # time, up to flush_secs later), and once flush_secs have passed every batch
            # whose copy is done is, so a crash (kill -9) loses at most the steps of the last
            # flush_secs or so; one not done yet waits (the loop never waits on the device)
            # and is looked at again at the next log.
            while self._pending and _is_ready(self._pending[0]):
                self._collect(self._pending.pop(0))
            if not self._pending:
                self._write_disk()
                self._flush_wanted = False

    def _layout(self, key: Any) -> _Layout:
        lay = self._layouts.get(key)
        if lay is None:
            lay = self._layouts[key] = self._new_layout(key)
        return lay

    def _new_layout(self, key: Any) -> _Layout:
        from traindx.names import map_name

        if key[0] == "loss":
            return _Layout((), (), ("train/loss",))
        loss = ("train/loss",) if key[2] else ()
        if key[0] == "dict":
            names = []
            for n in key[1]:
                k = map_name(n)
                names.append(str(k) if k is not None else f"train/{n}")
            return _Layout((), (), tuple(names) + loss)
        return _Layout(key[0], key[1], loss)

    def _dispatch(self) -> None:
        """Stack the buffered arrays (one op per layout and array position) and start their
        host copy; the batch is read (:meth:`_collect`) one batch later, by when it is ready."""
        buf, self._buf = self._buf, []
        self._last_dispatch = time.monotonic()
        if not buf:
            return
        groups: dict[_Layout, list[Any]] = {}
        for r in buf:
            g = groups.get(r[2])
            if g is None:
                groups[r[2]] = [r]
            else:
                g.append(r)
        batch = []
        for lay, rows in groups.items():
            cols = list(zip(*(r[3] for r in rows), strict=True))
            stacked: list[Any] = []
            for col in cols:
                if all(isinstance(a, jax.Array) for a in col):
                    if _on_host(col[0]):
                        # CPU arrays are host memory already: read one by one at collection
                        # (as cheap as one stack's dispatch, and no stack compiled per count)
                        stacked.append(_HostList(col))
                        continue
                    # one stacked buffer per layout (one transfer), its copy started now
                    if len(col) > 1 and len({a.shape for a in col}) == 1:
                        # counts padded to a power of 2 (the last array repeated, dropped on
                        # the host): batches cut on time have any count, and _stack compiles
                        # once per count
                        pad = (1 << (len(col) - 1).bit_length()) - len(col)
                        s = _stack(*col, *([col[-1]] * pad))
                    else:
                        s = list(col)
                    if isinstance(s, jax.Array):
                        s.copy_to_host_async()
                else:
                    s = [a if isinstance(a, jax.Array) else np.asarray(a) for a in col]
                stacked.append(s)
            batch.append(([(r[0], r[1]) for r in rows], lay, stacked))
        self._pending.append(batch)

    def _drain(self) -> None:
        self._dispatch()
        while self._pending:
            self._collect(self._pending.pop(0))

    def _collect(self, batch: list[tuple[list[tuple[int, float]], Any, list[Any]]]) -> None:
        """One ``device_get`` of a dispatched batch; decode it and write it in step order."""
        host = [[[np.asarray(x) for x in s] if isinstance(s, _HostList) else s for s in stacked]
                for _, _, stacked in batch]  # fmt: skip
        host = jax.device_get(host)
        blocks: list[tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]] = []
        for (rows, lay, _), h in zip(batch, host, strict=True):
            n = len(rows)
            mats = []
            for j, a in enumerate(h):
                a = np.asarray(np.stack([np.asarray(x) for x in a]) if isinstance(a, list) else a, dtype=np.float64)
                a = a[:n]  # without the padding rows of _dispatch
                if j == 0 and lay.n_stats:  # Stats vectors; pmap/vmap add axes: keep the first replica
                    mats.append(a.reshape(n, -1, a.shape[-1])[:, 0, :])
                else:  # scalars given apart (a non-scalar loss: its mean)
                    mats.append(a.reshape(n, -1).mean(axis=1, keepdims=True))
            m = np.concatenate(mats, axis=1) if len(mats) > 1 else mats[0]
            steps = np.asarray([r[0] for r in rows], dtype=np.int64)
            walls = np.asarray([r[1] for r in rows], dtype=np.float64)
            blocks += self._decode(lay, steps, walls, m)
        self._write_blocks(blocks)

    def _write_blocks(self, blocks: list[tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]]) -> None:
        """Write column blocks: each tag's points merged in step order (a tag written out of
        order would supersede its later points on reading), tags with the same steps
        encoded together (one vectorized call per distinct set of steps)."""
        seen: dict[str, int] = {}
        for _, _, tags, _ in blocks:
            for tag in tags:
                seen[tag] = seen.get(tag, 0) + 1
        streams: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        whole: list[tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]] = []
        for steps, walls, tags, mat in blocks:
            if all(seen[t] == 1 for t in tags):  # no tag of it elsewhere: written as it is
                whole.append((steps, walls, tags, mat))
                continue
            for j, tag in enumerate(tags):
                streams.setdefault(tag, []).append((steps, walls, mat[:, j]))
        groups: dict[bytes, tuple[np.ndarray, np.ndarray, list[str], list[np.ndarray]]] = {}
        for tag, parts in streams.items():
            if len(parts) == 1:
                st, wl, v = parts[0]
            else:
                st = np.concatenate([p[0] for p in parts])
                order = np.argsort(st, kind="stable")
                st, wl = st[order], np.concatenate([p[1] for p in parts])[order]
                v = np.concatenate([p[2] for p in parts])[order]
            g = groups.setdefault(st.tobytes(), (st, wl, [], []))
            g[2].append(tag)
            g[3].append(v)
        out = [(st, wl, tuple(tags), np.stack(vals, axis=1)) for st, wl, tags, vals in groups.values()] + whole
        w = self._writer
        assert w is not None
        for st, wl, tags, mat in sorted(out, key=lambda g: int(g[0][0]) if g[0].size else 0):
            if st.size and tags:
                w.add_rows(st.tolist(), wl.tolist(), tags, mat)

    # ------------------------------------------------------------------ decoding

    def _decode(self, lay: _Layout, steps: np.ndarray, walls: np.ndarray, m: np.ndarray,
                ) -> list[tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]]:  # fmt: skip
        """Column blocks (steps, wall times, tags, values) of one layout's fetched matrix:
        the per-step series, then the telemetry rows; folds the context on the way."""
        n = len(steps)
        st = lay.steps
        tags = [t for t, _ in st]
        cols = [m[:, i] for _, i in st]
        if "train/lr" not in lay.col and self._lr is not None:
            lr = self._lr_values(steps)
            if lr is not None:
                tags.append("train/lr")
                cols.append(lr)
        blocks = [(steps, walls, tuple(tags), np.stack(cols, axis=1) if cols else np.zeros((n, 0)))]
        if not self._fatal_warned and self._fatal is None:
            self._fatal = _first_fatal(lay, steps, m)
        if "train/nonfinite@inputs" in lay.col:
            nf = m[:, lay.col["train/nonfinite@inputs"]]
            self._input_nonfinite += float(np.nansum(nf))
            self.context.flags["input_nonfinite"] = float(self._input_nonfinite)
        if "_inck_n" in lay.col:  # the same inputs at adjacent steps? (flag inputs_same_share)
            self._repeats.see_rows(steps, m[:, [lay.col[t] for t in ("_inck_n", "_inck_mean", "_inck_ms")]])
            self._repeats.fold(self.context.flags)
        tel = m[:, lay.col["_tel"]] > 0.5 if "_tel" in lay.col else np.zeros(n, dtype=bool)
        if "_skp0" in lay.col:  # the applied step against the gradient (flag step_grad_cos)
            self.context.flags.update(self._stepdir.see(lay.col, steps[tel], m[tel]))
        if self.every is not None:
            tel &= steps % self.every == 0
        idx = np.flatnonzero(tel)
        if not idx.size:
            return blocks
        t = m[idx]
        if lay.plan is None:
            lay.plan = self._plan(lay, t[0])
        t = self._update_applied(lay, t)
        self._fold(lay, t, steps[idx])
        if lay.plan:
            if lay.plan_cols is None:
                lay.plan_cols = (np.asarray([p[1] for p in lay.plan], dtype=np.intp),
                                 np.asarray([p[2] for p in lay.plan], dtype=np.float64), tuple(p[0] for p in lay.plan))  # fmt: skip
            pc, add, ptags = lay.plan_cols
            act, left_out = finite_activation_block(steps[idx], walls[idx], ptags, t[:, pc] + add)
            note_left_out(self.context.notes, left_out)
            blocks += act
        return blocks

    def _lr_values(self, steps: np.ndarray) -> np.ndarray | None:
        lr = self._lr
        if callable(lr):  # at the inner optimizer's count (optax.MultiSteps: one per k micro-steps)
            try:
                return np.asarray(lr(steps // self._lr_every), dtype=np.float64).reshape(-1)
            except Exception:  # noqa: BLE001 - a schedule that is not vectorized
                return np.asarray([float(lr(int(s) // self._lr_every)) for s in steps], dtype=np.float64)
        return np.full(steps.shape, float(lr), dtype=np.float64)

    def _plan(self, lay: _Layout, row: np.ndarray) -> list[tuple[str, int, float]]:
        """Which columns become which tags, decided from the first telemetry row."""
        c = lay.col
        plan: list[tuple[str, int, float]] = []
        for tag, i in c.items():
            if tag.startswith("_") or i < int(lay.meta.get("per_step", 0)) or i >= lay.n_stats:
                continue
            if tag in ("train/pred_class_frac:max",):
                continue
            plan.append((tag, i, 0.0))
        # activation statistics: fraction zero (ReLU-like) or saturated (tanh, sigmoid)
        for tag, i in c.items():
            if not tag.startswith("_az@"):
                continue
            name = tag[4:]
            kind = self._act_kind.get(name)
            if kind is None:
                kind = self._act_kind[name] = _act_kind(name, row[c[f"_amin@{name}"]], row[c[f"_amax@{name}"]], row[i])
            if kind == 1:
                plan.append((f"train/act_frac_zero@{name}", i, 0.0))
            elif kind in (2, 3):
                plan.append((f"train/act_frac_saturated@{name}", c[f"_at@{name}" if kind == 2 else f"_as@{name}"], 0.0))
        if "_out_min" in c:
            self._decide_output(lay, row)
            classify = self._task in (None, "classification") or self._probs is not None
            # sigmoids need not sum to 1; log-probabilities sum to 1 once exponentiated
            dev = "_out_lsedev" if self._probs == "log_softmax" else "_out_rowdev"
            if dev in c and self._probs in ("softmax", "log_softmax"):
                plan.append(("train/output_row_sum", c[dev], 1.0))
            if "train/pred_class_frac:max" in c and classify:
                plan.append(("train/pred_class_frac:max", c["train/pred_class_frac:max"], 0.0))
            if "_acc" in c and classify:
                plan.append(("train/accuracy", c["_acc"], 0.0))
            elif "_acc_thr0" in c and (self._task == "binary" or (self._task is None and row[c["_label_binary"]] > 0.5)):
                thr = "_acc_thr05" if self._out_act in ("sigmoid", "softmax") else "_acc_thr0"
                plan.append(("train/accuracy", c[thr], 0.0))
            self._check_broadcast(lay)
        return plan

    def _write_disk(self) -> None:
        w = self._writer
        if w is None:
            return
        w.write_context(self.context)
        w.flush()
