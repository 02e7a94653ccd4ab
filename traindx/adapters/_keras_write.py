"""The Keras callback's recording: batch records processed on the training thread, epoch logs, flushing, the fatal stop."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from traindx.adapters import _keras_stats as ks
from traindx.adapters._common import (
    fatal_message,
    note_fatal,
    warn,
)
from traindx.arrays import median

_SKIP_EPOCH_LOGS = {"learning_rate", "lr"}
#: first-epoch batches (of equal size) needed to tell running means from per-batch values
RUNNING_CHECK_BATCHES = 12


def running_means(m: np.ndarray) -> bool | None:
    """Whether batch logs ``m`` (batches 0, 1, ... of one epoch, equal sizes) are running means
    over the epoch, as a compiled ``train_step`` logs them (True), or each batch's own value
    (False: a custom ``train_step`` returning the raw batch loss); None: too few to tell.

    De-averaged, ``v_k = (k+1) m_k - k m_(k-1)`` are the batch values when ``m`` is a running
    mean, and their point-to-point differences spread the same early and late in the epoch.
    When ``m`` is itself per batch, ``v_k = m_k + k (m_k - m_(k-1))`` is the batch noise
    amplified k times: its differences spread about five times more in the last third of the
    epoch than in the first, and under a positive loss it goes negative.
    """
    m = np.asarray(m, dtype=np.float64)
    n = m.size
    if n < RUNNING_CHECK_BATCHES or not np.all(np.isfinite(m)):
        return None
    k = np.arange(n)
    v = (k + 1) * m - k * np.concatenate(([0.0], m[:-1]))
    if m.min() > 0 and v.min() < -0.05 * float(median(m)):
        return False
    d = np.abs(np.diff(v[1:]))
    t = d.size // 3
    early, late = float(median(d[:t])), float(median(d[-t:]))
    return not late > 4.0 * max(early, 1e-9 * float(median(np.abs(m))))


def stock_train_step(model: Any) -> bool:
    """Whether ``model`` trains with Keras' own ``train_step`` (the backend trainer's; no class
    of the user's overrides it). That step logs the loss and the compiled metrics as running
    means over the epoch, whatever the values look like: nothing is left to tell from them
    (:func:`running_means` reads a dispersion that grows within the first epoch - a model
    leaving a uniform start, a loss that diverges, batches of one - as per-batch values)."""
    fn = getattr(type(model), "train_step", None)
    mod = getattr(fn, "__module__", None)
    return isinstance(mod, str) and mod.startswith("keras.src.backend.")


#: Keras metric classes whose value is an accuracy, whatever name the user gave the metric
_ACCURACY_CLASSES = ("Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy")


def compiled_metrics(model: Any) -> list[tuple[str, str]]:
    """(class name, name) of the model's compiled metrics, Keras 3's ``CompileMetrics``
    container (``compile_metrics``) opened, the loss tracker left out."""
    out: list[tuple[str, str]] = []

    def walk(ms: Any, depth: int) -> None:
        for m in ms or ():
            sub = getattr(m, "metrics", None)
            if depth < 3 and isinstance(sub, (list, tuple)) and sub and sub is not ms:
                walk(sub, depth + 1)
            elif isinstance(getattr(m, "name", None), str) and m.name != "loss":
                out.append((type(m).__name__, m.name))

    walk(getattr(model, "metrics", None), 0)
    return out


def metric_aliases(metrics: list[tuple[str, str]]) -> dict[str, str]:
    """Log name -> canonical metric for compiled metrics whose *class* says what they are
    when their name does not (``BinaryAccuracy(name="bin_acc")`` logs ``bin_acc`` and
    ``val_bin_acc``, which no naming convention reads as an accuracy). Only a model with one
    accuracy-class metric (a multi-output model prefixes the names with the output's, and
    several accuracies would be ambiguous): a fact about the compiled model, not a guess."""
    found = [name for cls, name in metrics if cls in _ACCURACY_CLASSES]
    return {found[0]: "accuracy"} if len(found) == 1 else {}


def canonical(name: str, split: str, aliases: dict[str, str]) -> str | None:
    """The key of a logged metric: by its name (:func:`traindx.names.map_name`), else by the
    compiled metric's class (:func:`metric_aliases`); ``split`` is the split of a bare name
    (``val_`` names are validation in fit's epoch logs)."""
    from traindx.names import map_name

    key = map_name(name if split != "test" else f"test_{name}")
    if key is not None:
        return str(key)
    bare = name[4:] if split == "train" and name.startswith("val_") else name
    alias = aliases.get(bare)
    if alias is None:
        return None
    return f"{'val' if bare != name else split}/{alias}"


def _accuracy_key(logs: dict[str, Any], aliases: dict[str, str] | None = None) -> str | None:
    """The batch-log key of an accuracy metric (a running mean, like the loss), if any."""
    for k in logs:
        if k != "loss" and canonical(k, "train", aliases or {}) == "train/accuracy":
            return k
    return None


class _Recording:
    """DiagnosisCallback's recording and writing (a mix-in: the state lives on the callback)."""

    # ------------------------------------------------------------------ logs

    def _process_records(self, final: bool) -> int | None:
        """De-average the buffered batch logs of the current epoch into per-batch values.

        ``final`` (epoch end: Keras has finished every batch callback of the epoch) processes
        all records; otherwise only the run of consecutive batches from the last processed one,
        holding back the newest (Keras may deliver batch-end calls out of order from its worker
        thread, and the newest may be the epoch's smaller last batch). Returns the global step
        of the last record processed (None if none).
        """
        with self._lock:
            recs, self._records = self._records, []
        recs.sort(key=lambda r: (r[0], r[1]))
        recs = [
            r for r in recs if r[0] == self._epoch
        ]  # (earlier epochs were processed at their end)
        steps_known = (self.params or {}).get("steps")
        if len(self._running) < 2 and recs:
            self._check_running(recs, final)
        if not final:
            spe = int(getattr(self._model, "steps_per_execution", 1) or 1)
            n = 0
            expect = (self._prev_mean[0] + 1) if self._prev_mean is not None else 0
            while spe == 1 and n < len(recs) - 1 and recs[n][1] == expect:
                n += 1
                expect += 1
            with self._lock:
                self._records = recs[n:] + self._records
            recs = recs[:n]
        rows: list[tuple[int, float, dict[str, float]]] = []
        last_step = None
        for i, (_, batch, mean, acc, wall) in enumerate(recs):
            prev = self._prev_mean
            if steps_known:
                is_last = batch == steps_known - 1
            else:
                is_last = final and i == len(recs) - 1
            w_last = self._last_batch_weight(batch + 1) if is_last else 1.0
            # running mean m_b over batches 0..b (b full batches and one of weight w_last):
            # the chunk since the previous record p sums to (b + w) m_b - (p + 1) m_p
            tot = batch + w_last
            vals: dict[str, float] = {}
            if prev is None or not self._running.get("loss", True):
                vals["train/loss"] = mean
            if acc is not None and (prev is None or not self._running.get("acc", True)):
                vals["train/accuracy"] = acc
            if prev is not None:
                p, m_prev, a_prev = prev
                dk = (batch - p - 1) + w_last
                if self._running.get("loss", True):
                    vals["train/loss"] = (tot * mean - (p + 1) * m_prev) / dk
                if acc is not None and a_prev is not None and self._running.get("acc", True):
                    vals["train/accuracy"] = (tot * acc - (p + 1) * a_prev) / dk
            s = self._epoch_base + batch
            if self._reg_penalty is not None:  # the run's first logged loss
                self._reg_share(vals["train/loss"])
            rows.append((s, wall, vals))
            self._prev_mean = (batch, mean, acc)
            last_step = s
        self._pending_rows.extend(rows)
        if last_step is None and final and self._prev_mean is not None:
            last_step = self._epoch_base + self._prev_mean[0]
        return last_step

    def _check_running(self, recs: list, final: bool) -> None:
        """Tell from the epoch's batches 0, 1, ... (the smaller last one left out) whether the
        loss and accuracy logs are running means (:func:`running_means`) and record it in the
        context's flags ``loss_logs_running_mean`` / ``accuracy_logs_running_mean``."""
        run = []
        for r in recs:
            if r[1] != len(run):
                break
            run.append(r)
        if final and run:
            run = run[:-1]
        stock = stock_train_step(getattr(self, "model", None))
        for key, col, flag in (("loss", 2, "loss_logs_running_mean"), ("acc", 3, "accuracy_logs_running_mean")):
            if key in self._running or not run or run[0][col] is None:
                continue
            got = True if stock else running_means(np.array([r[col] for r in run], dtype=np.float64))
            if got is None:
                continue
            self._running[key] = got
            if self.context is not None:
                self.context.flags[flag] = got
                if not got:
                    self.context.notes.append(
                        f"the batch logs' {'loss' if key == 'loss' else 'accuracy'} is each batch's own value, "
                        "not Keras' running mean over the epoch (a custom train_step?): recorded as logged"
                    )

    def _last_batch_weight(self, k: int) -> float:
        """Size of an epoch's last batch relative to the others (1 when unknown)."""
        ctx = self.context
        n, b = (ctx.data.n_train if ctx is not None else None), self._batch_size
        if not n or not b or k < 2:
            return 1.0
        rest = n - (k - 1) * b
        return rest / b if 0 < rest <= b else 1.0

    def _epoch_logs(self, logs: dict[str, Any], last_step: int | None) -> None:
        """Validation and other epoch-level metrics at the epoch's last step; lr points."""
        s = last_step if last_step is not None else max(self._step - 1, 0)
        values: dict[str, float] = {}
        for name, v in logs.items():
            if name in ("loss", self._acc_key) or name in _SKIP_EPOCH_LOGS:
                continue
            try:
                fv = float(v)
            except (TypeError, ValueError):
                continue
            key = canonical(name, "train", self._aliases)
            if key is not None:
                values[key] = fv
        if last_step is not None:
            self._lr_points[s] = self._lr_at(s)
        if values:
            self._pending_rows.append((s, time.time(), values))
        ctx = self.context
        b = self._batch_size
        if ctx is not None and b and last_step is not None and not self._n_checked:
            self._n_checked = True
            k = last_step - self._epoch_base + 1
            n = ctx.data.n_train
            if n is not None and (self.params or {}).get("steps") == k and -(-n // b) != k:
                ctx.notes.append(
                    f"train_data has {n} rows but fit took {k} steps of {b} (validation_split?)"
                )
                n = None
            rows = getattr(self, "_fit_rows", None)  # fit's own x, after validation_split
            if n is None and rows:
                ctx.data.n_train = rows
            elif n is None:
                self._n_from_steps(ctx, k, b)
        if last_step is not None:
            self._step = max(self._step, last_step + 1)

    def _n_from_steps(self, ctx: Any, k: int, b: int) -> None:
        """n_train from the first epoch's ``k`` steps of ``b`` rows, where no array told it: the
        steps per epoch fit planned x b, or the steps of a first epoch that ran to its end, is the
        count rounded up to a batch (an upper bound within one batch). A first epoch stopped early
        (``stop_training``, a fatal fault) with no plan tells only that there are at least k x b
        rows: recorded as the flag ``n_train_at_least``, never as the count (issue 10: 11 steps x 32
        = 352 recorded where fit planned 43 x 32, and CTX025 read a few training examples)."""
        steps = (self.params or {}).get("steps")
        if steps and int(steps) >= k:
            ctx.data.n_train = int(steps) * b
            ctx.notes.append(f"n_train ~ {int(steps)} steps per epoch x batch size {b} (an upper bound within one batch)")
        elif not getattr(self._model, "stop_training", False):
            ctx.data.n_train = k * b
            ctx.notes.append(f"n_train ~ {k} steps x batch size {b} (an upper bound within one batch)")
        else:
            ctx.flags["n_train_at_least"] = k * b
            ctx.notes.append(f"n_train not recorded: training stopped inside the first epoch after {k} steps of {b} "
                             f"and the steps per epoch are unknown (at least {k * b} rows)")  # fmt: skip

    def _test_logs(self, logs: dict[str, Any]) -> None:
        """A ``model.evaluate`` after fit: its metrics as ``test/<name>`` at the last step
        (a later fit continues the run in a new event file)."""
        values: dict[str, float] = {}
        for name, v in logs.items():
            if name in _SKIP_EPOCH_LOGS:
                continue
            try:
                fv = float(v)
            except (TypeError, ValueError):
                continue
            key = canonical(name, "test", self._aliases)
            if key is not None:
                values[key] = fv
        if not values:
            return
        if self._writer is None:
            self._writer = self._open_writer()
        self._pending_rows.append((max(self._step - 1, 0), time.time(), values))

    # ------------------------------------------------------------------ writing

    def _flush(self, disk: bool = False, final: bool = False) -> None:
        w = self._writer
        ctx = self.context
        if w is None or ctx is None:
            return
        self._collect_delta()
        if self._lr_points:
            lr_rows = sorted(self._lr_points.items())
            self._lr_points = {}
            self._pending_rows.extend(
                (s, time.time(), {"train/lr": v}) for s, v in lr_rows if math.isfinite(v)
            )
        rows = sorted(self._pending_rows, key=lambda r: r[0])
        self._pending_rows = []
        # group consecutive rows of the same tag set (per-batch loss) into one encode call
        i = 0
        while i < len(rows):
            s, wall, vals = rows[i]
            tags = tuple(vals)
            j = i + 1
            while j < len(rows) and tuple(rows[j][2]) == tags and rows[j][0] != rows[j - 1][0]:
                j += 1
            if j - i >= 4:
                w.add_rows([r[0] for r in rows[i:j]], [r[1] for r in rows[i:j]], tags,
                           np.asarray([list(r[2].values()) for r in rows[i:j]], dtype=np.float64))  # fmt: skip
            else:
                for r in rows[i:j]:
                    w.add(r[0], r[2], r[1])
            i = j
        if final:
            self._set_final_note(ctx, f"traindx {self._kind} ({ks.BACKEND} backend): ",
                                 self._cad.note(self._step) + self._loss_note)  # fmt: skip
        if disk or final:
            w.write_context(ctx)
            w.flush()

    # ------------------------------------------------------------------ failure

    def _on_fatal(self, s: int, what: str) -> None:
        """A non-finite loss, weights or gradients at step ``s``: noted in the context, then
        training stopped (``stop_on_fatal``) or one warning."""
        self.fatal_step = s
        msg = f"traindx: {what} at step {s} (epoch {self._epoch}, batch {s - self._epoch_base})"
        if self.context is not None:
            self.context.notes.append(msg.removeprefix("traindx: "))
        note_fatal(self.context, s, stopping=bool(self.stop_on_fatal))
        if self.stop_on_fatal:
            self._model.stop_training = True
            print(
                msg
                + "; stopping training (stop_on_fatal=True). cb.diagnosis ranks the likely causes.",
                flush=True,
            )
        else:
            warn(msg + "; cb.diagnosis ranks the likely causes", stacklevel=3)

    def _check_state(self, s: int, values: dict[str, float]) -> None:
        """Non-finite weights or probe gradients (their global norms) are fatal like a
        non-finite loss: with oneDNN's ReLU mapping NaN to 0 the loss can stay finite while
        every weight is NaN."""
        if self.fatal_step is not None:
            return
        probe_ok = not self._probe_input.get("train/nonfinite@inputs")  # a NaN probe is not the model's
        for tag, kind in (("train/weight_norm", "weights"), ("train/grad_norm", "grads")):
            v = values.get(tag)
            if kind == "grads" and not probe_ok:
                continue
            if v is not None and not math.isfinite(v):
                self._on_fatal(s, fatal_message(kind, v))
                return

    def _release(self) -> None:  # for SelfDisabling._fail
        self._snap = None
        self._delta_pending = None
