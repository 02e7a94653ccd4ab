"""The Keras callback's data facts: the probe batch and train_data read without touching what fit iterates."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from traindx.adapters import _keras_stats as ks
from traindx.adapters._common import TargetLevel
from traindx.adapters._common.assoc import corr_flags
from traindx.adapters._common.classweights import minority_weight_ratio
from traindx.adapters._common.labelnn import split_flags, val_nn_flags
from traindx.adapters._common.levels import LEVEL_MIN_ROWS
from traindx.adapters._common.splits import input_shift, target_shift
from traindx.adapters._keras_leak import fit_locals, nonfinite_count, val_shared_frac


def _first_leaf(x: Any) -> Any:
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, list | tuple):
        for v in x:
            leaf = _first_leaf(v)
            if leaf is not None:
                return leaf
        return None
    return x


def _nonfinite_all(x: Any) -> float:
    """NaN/inf values in every input array of ``x`` (each input of a multi-input model, not the
    first only: issue 10, a NaN column in a second input counted 0)."""
    return nonfinite_count(_to_numpy(x)) or 0.0


def _to_numpy(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_to_numpy(v) for v in x)
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(keras.ops.convert_to_numpy(x))
    except Exception:  # noqa: BLE001 - array-likes keras does not know
        return np.asarray(x)


def _rows(x: Any, n: int) -> Any:
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: _rows(v, n) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_rows(v, n) for v in x)
    return x[:n]


def _n_rows(x: Any) -> int | None:
    leaf = _first_leaf(x)
    try:
        return int(leaf.shape[0]) if leaf is not None and leaf.shape else None
    except Exception:  # noqa: BLE001
        return None


_RANDOM_DATASETS = ("Shuffle", "Random", "Sample", "DirectedInterleave", "Choose")


def _tfdata_is_random(ds: Any, depth: int = 0) -> bool:
    """Whether iterating a tf.data pipeline draws from shared random state (shuffle with
    reshuffle_each_iteration, random datasets, stateful random ops in map/filter functions).
    Unknown structure counts as random."""
    try:
        if depth > 64 or any(k in type(ds).__name__ for k in _RANDOM_DATASETS):
            return True
        for attr in ("_map_func", "_predicate", "_func", "_scan_func", "_reduce_func"):
            fn = getattr(ds, attr, None)
            graph = getattr(getattr(fn, "function", None), "graph", None)
            if graph is not None and any("Random" in op.type and not op.type.startswith("Stateless")
                                         for op in graph.get_operations()):  # fmt: skip
                return True
        return any(_tfdata_is_random(d, depth + 1) for d in ds._inputs())
    except Exception:  # noqa: BLE001
        return True


class _rng_preserved:
    """Restore the global numpy and python random states on exit."""

    def __enter__(self) -> None:
        import random

        self._np, self._py = np.random.get_state(), random.getstate()

    def __exit__(self, *exc: Any) -> None:
        import random

        np.random.set_state(self._np)
        random.setstate(self._py)


def _head_target(y: Any, head: Any) -> Any:
    """The targets of the output a per-output loss describes (``ks.loss_head``): a dict of
    targets by the output's name, a list by its position; else the first leaf."""
    if head is not None and y is not None:
        pos, name = head[0], head[1]
        if isinstance(y, dict) and name in y:
            return _first_leaf(y[name])
        if isinstance(y, list | tuple) and len(y) > pos and len(y) >= 2:
            return _first_leaf(y[pos])
    return _first_leaf(y)


class _DataFacts:
    """DiagnosisCallback's data set-up (a mix-in: the state lives on the callback)."""

    def _data_setup(self) -> None:
        """Data facts from ``train_data`` (all of it, when arrays) and the probe batch."""
        ctx = self.context
        assert ctx is not None
        notes = ctx.notes
        train_xy = self._batch_of(self._train_data)
        probe = self._batch_of(self._probe_arg)
        src = "the probe argument"
        if probe is None and train_xy is not None:
            probe = (_rows(train_xy[0], self._probe_size), _rows(train_xy[1], self._probe_size))
            src = "the first rows of train_data"
        if probe is not None:
            x, y = probe[0], probe[1]
            x, y = _rows(_to_numpy(x), self._probe_size), _rows(_to_numpy(y), self._probe_size)
            self._probe = (x, y)
            notes.append(
                f"probe: {_n_rows(x)} rows from {src}; gradients, activations and outputs are computed on it "
                "with training=False (dropout off, batch-norm moving statistics), so gradient norms are the "
                "probe batch's, not the training batch's"
            )
        else:
            notes.append(
                "no probe batch: recorded the Keras logs, learning rate and weights only (no gradients, "
                "activations or outputs); pass probe=(x_val, y_val) or DiagnosisCallback.from_arrays(x, y)"
            )
        self._leak_facts()
        try:  # a (sparse) categorical cross-entropy on a one-unit output: its loss is constant 0
            heads = ks.one_unit_categorical_heads(self._model)
        except Exception:  # noqa: BLE001 - a fact not known
            heads = None
        if heads is not None:
            ctx.flags["loss_one_unit_categorical"] = float(heads)
        d = ctx.data
        stats_x, stats_y, where = None, None, None
        if train_xy is not None and _first_leaf(train_xy[0]) is not None and train_xy[2]:
            stats_x, stats_y, where = train_xy[0], train_xy[1], "train_data"
            if d.n_train is None:
                d.n_train = _n_rows(stats_x)
        elif self._probe is not None:
            stats_x, stats_y, where = self._probe[0], self._probe[1], "the probe batch"
        if d.n_train is None and self._fit_rows:
            d.n_train = self._fit_rows  # fit's own training rows: a true count, not steps x batch
        self._probe_input: dict[str, float] = {}
        if self._probe is not None:
            s = ks.host_summary(np.asarray(_to_numpy(_first_leaf(self._probe[0]))))
            if s.get("n"):
                self._probe_input = {"train/input_mean": s["mean"], "train/input_std": s["std"],
                                     "train/input_min": s["min"], "train/input_max": s["max"]}  # fmt: skip
            nf = _nonfinite_all(self._probe[0])
            py = _head_target(self._probe[1], self._head) if self._probe[1] is not None else None
            if py is not None:
                nf += ks.host_summary(np.asarray(py)).get("nonfinite", 0.0)
            self._probe_input["train/nonfinite@inputs"] = nf
        self._y_for_counts = None
        if stats_x is not None:
            leaf = _first_leaf(stats_x)
            arr = np.asarray(_to_numpy(leaf))
            d.input_dtype = str(arr.dtype)
            s = ks.host_summary(arr)
            if s.get("n"):
                d.input_mean, d.input_std, d.input_min, d.input_max = (
                    s["mean"],
                    s["std"],
                    s["min"],
                    s["max"],
                )
            nf = _nonfinite_all(stats_x)
            yl = _head_target(stats_y, self._head) if stats_y is not None else None
            if yl is not None:
                nf += ks.host_summary(np.asarray(_to_numpy(yl))).get("nonfinite", 0.0)
            ctx.flags["input_nonfinite"] = float(nf)
            if where != "train_data":
                notes.append(f"input statistics from {where}")
            self._y_for_counts = (np.asarray(_to_numpy(yl)) if yl is not None else None, where)
            if self._y_for_counts[0] is not None:
                ctx.flags.update(ks.target_facts(self._y_for_counts[0], self._output_rank()))
                # one output (one loss's targets), not class ids under a cross-entropy
                if (
                    not isinstance(stats_y, dict | list | tuple)
                    and self._loss_task != "classification"
                ):
                    ctx.flags.update(self._target_level(self._y_for_counts[0], where))
        fit_nf = self._fit_nonfinite if where != "train_data" else None
        if fit_nf is not None and fit_nf > ctx.flags.get("input_nonfinite", 0.0):
            # the arrays fit trains on hold NaN/inf the probe batch did not show
            ctx.flags["input_nonfinite"] = fit_nf
            notes.append("non-finite values counted in the training arrays fit was given")
        elif (
            fit_nf is None
            and where is not None
            and where != "train_data"
            and not ctx.flags.get("input_nonfinite")
        ):
            # a zero from the probe alone says nothing of the training batches (issue 10)
            ctx.flags.pop("input_nonfinite", None)
            notes.append(
                f"input_nonfinite not recorded: {where} holds no NaN/inf, the training data was not counted"
            )

    def _leak_facts(self) -> None:
        """``val_shared_frac``: validation rows that also appear in the training data, from the
        arrays ``fit`` was given, and ``loss_class_weighted``: fit's ``class_weight`` (read from
        its frame, never changed; issue 10: leakage was checked only when train_data was
        passed, and the README's usage never passes it), and the NaN/inf count of fit's training
        arrays for ``input_nonfinite`` where only a probe batch was seen."""
        flags = self.context.flags  # type: ignore[union-attr]
        self._fit_nonfinite: float | None = None
        self._fit_y: Any = None  # fit's training targets (a NumPy array), for the reference level
        self._fit_rows: int | None = None  # the rows of fit's training array (after validation_split)
        try:
            loc = fit_locals()
            if loc is None:
                return
            flags["loss_class_weighted"] = loc["class_weighted"]
            if loc["train_x"] is not None and loc["train_y"] is not None:  # (_common.assoc)
                flags.update(corr_flags(loc["train_x"], loc["train_y"]))
            self._class_w = loc["class_weight"]
            self._weight_direction()
            if loc["train_y"] is not None and loc["val_y"] is not None:  # the splits' classes (_common.labelnn)
                flags.update(split_flags(loc["train_y"], loc["val_y"]))
                flags.update(target_shift(loc["train_y"], loc["val_y"]))  # a regression's targets (_common.splits)
            if loc["x"] is not None and loc["val_x"] is not None:  # the splits' inputs (_common.splits)
                flags.update(input_shift(loc["x"], loc["val_x"]))
                if loc["train_y"] is not None and loc["val_y"] is not None:  # validation rows' neighbours
                    flags.update(val_nn_flags(loc["x"], loc["train_y"], loc["val_x"], loc["val_y"]))
            tx = loc["train_x"]
            if tx is not None and tx.ndim >= 1:
                self._fit_rows = int(tx.shape[0])
            self._fit_nonfinite = nonfinite_count(loc["train_in"], loc["train_y"])
            self._fit_y = loc["train_y"]
            frac = val_shared_frac(loc["x"], loc["val_x"]) if loc["x"] is not None else None
        except Exception:  # noqa: BLE001 - a fact less, never a failure
            return
        if frac is not None:
            flags["val_shared_frac"] = frac

    def _target_level(self, y: Any, where: str | None) -> dict[str, float]:
        """The trivial predictor's loss (flags ``trivial_*``) from the targets of ``train_data``
        or a probe of at least :data:`LEVEL_MIN_ROWS` rows; from a smaller probe, fit's training
        targets where they are one NumPy array of the same row shape, else none (qa_fresh46
        linnerud: a 5-row validation probe's variance 0.31 against standardized training
        targets' 1.0 read a fitted model as one at the trivial level)."""
        if where != "train_data" and (_n_rows(y) or 0) < LEVEL_MIN_ROWS:
            fit_y = getattr(self, "_fit_y", None)
            if fit_y is None or np.asarray(fit_y).shape[1:] != np.asarray(y).shape[1:]:
                return {}
            y = fit_y
        lv = TargetLevel()
        lv.add(y)
        return lv.flags()

    def _weight_direction(self) -> None:
        """``loss_minority_weight_ratio`` once both fit's ``class_weight`` and the class counts are known."""
        cw, counts = getattr(self, "_class_w", None), self.context.data.class_counts  # type: ignore[union-attr]
        if cw and counts and (r := minority_weight_ratio(cw, counts)) is not None:
            self.context.flags["loss_minority_weight_ratio"] = r  # type: ignore[union-attr]

    def _batch_of(self, data: Any) -> tuple[Any, Any, bool] | None:
        """``(x, y, whole)`` from arrays (``whole``: all of the data), a tf.data.Dataset (its
        first batch) or a PyDataset (``ds[0]``)."""
        if data is None:
            return None
        mod = type(data).__module__
        if "tensorflow" in mod and hasattr(data, "take") and hasattr(data, "element_spec"):
            if _tfdata_is_random(data):
                self.context.notes.append(  # type: ignore[union-attr]
                    "a tf.data pipeline with shuffling or random ops was not peeked at (a new iterator would "
                    "advance its random state and change the batches fit sees); pass probe=(x, y) arrays"
                )
                return None
            x, y = self._split_xy(next(iter(data.take(1))))  # a new iterator: fit's is not touched
            rank = self._input_rank()
            xl = _first_leaf(x)
            if rank is not None and xl is not None and len(xl.shape) == rank - 1:  # unbatched
                x, y = self._split_xy(next(iter(data.batch(self._probe_size).take(1))))
            return x, y, False
        if isinstance(data, keras.utils.PyDataset):
            with _rng_preserved():  # ds[0] may draw augmentations from the global generators
                x, y = self._split_xy(data[0])
            return x, y, False
        if isinstance(data, tuple | list) and len(data) in (2, 3):
            return data[0], data[1], True
        if hasattr(data, "shape") or isinstance(data, dict):
            return data, None, True
        if hasattr(data, "__next__") or hasattr(data, "__iter__"):
            raise TypeError("a generator or iterator cannot be peeked at without consuming it; "
                            "pass probe=(x, y) arrays")  # fmt: skip
        return None

    def _input_rank(self) -> int | None:
        try:
            return len(self._model.inputs[0].shape)
        except Exception:  # noqa: BLE001
            return None

    def _output_rank(self) -> int | None:
        """The rank of a one-output model's output, batch axis included."""
        try:
            outs = self._model.outputs
            return len(outs[0].shape) if len(outs) == 1 else None
        except Exception:  # noqa: BLE001
            return None

    @staticmethod
    def _split_xy(el: Any) -> tuple[Any, Any]:
        if isinstance(el, tuple | list):
            return el[0], (el[1] if len(el) > 1 else None)
        return el, None
