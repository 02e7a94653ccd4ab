"""Read loss curves saved as NumPy arrays: ``np.save("train_losses.npy", losses)`` and
``np.savez("history.npz", loss=..., val_loss=...)``.

An ``.npy`` file is one series named from its file stem (``train_losses.npy`` -> ``train_loss``
-> ``train/loss`` by :func:`traindx.names.map_name`, plurals made singular); an ``.npz`` file
holds one series per key. Only arrays whose name maps onto a known series are logs: a folder's
``X_train.npy`` or ``embeddings.npz`` is data, not read. Files are loaded with
``allow_pickle=False`` (a user's file is never unpickled by NumPy); a ``.npy`` of Python objects
(``np.save("history.npy", history.history)``) is read by :mod:`traindx.readers.npy_history`'s
restricted unpickler.

A 1-D array (or an ``(n, 1)`` / ``(1, n)`` column) is read; a 2-D array has no column names,
so which column is which metric cannot be known: the file is rejected with a one-line error
naming it (the rest of the folder is still read), as is a corrupt or non-numeric file.

The arrays carry no axis. Among the metric arrays of one folder (sibling ``.npy`` files and an
``.npz`` file's keys), the longest are per step and a shorter one is per epoch, each value
placed at the last step of its epoch (``train_losses`` per batch beside ``val_losses`` per
epoch); when all have one length, item *i* is point *i* (index order). The run's notes say
which.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from traindx.errors import ReadError
from traindx.names import map_name
from traindx.readers.raw import RawLog, RawSeries

NUMPY = "numpy"
SUFFIXES = (".npy", ".npz")
EXPECTED = "expected a 1-D array per metric, as np.save('train_losses.npy', losses) or np.savez('history.npz', loss=..., val_loss=...) write"
_PLURAL = [
    (re.compile(r"(loss)es\b", re.I), r"\1"),
    (re.compile(r"(accurac)ies\b", re.I), r"\1y"),
    (re.compile(r"\b(acc|err|error|metric|score|lr|mae|mse|rmse|f1|auc|iou|dice|ppl|perplexitie)s\b", re.I), r"\1"),
]


def series_name(name: str) -> str | None:
    """The logged name an array stands for (plurals made singular where that maps), or None
    when neither form maps onto a known series."""
    if map_name(name, None) is not None:
        return name
    words = name.replace("-", "_")
    for rx, sub in _PLURAL:
        words = rx.sub(sub, words.replace("_", " ")).replace(" ", "_")
    return words if map_name(words, None) is not None else None


def _npz_keys(p: Path) -> list[str] | None:
    try:
        with zipfile.ZipFile(p) as z:
            return [n[:-4] if n.endswith(".npy") else n for n in z.namelist()]
    except (OSError, zipfile.BadZipFile, ValueError):
        return None


def numpy_kind(p: Path) -> str | None:
    """``"numpy"`` for an array file holding a metric (its name, or an ``.npz`` key, maps onto
    a known series; a corrupt ``.npz`` counts, so its error is reported), else None."""
    from traindx.readers.torch_history import named_history

    name = p.name.lower()
    if name.endswith(".npy"):  # a metric array, or a history dict np.save'd (npy_history)
        return NUMPY if series_name(p.name[:-4]) or named_history(p) else None
    if name.endswith(".npz"):
        keys = _npz_keys(p)
        return NUMPY if keys is None or any(series_name(k) for k in keys) else None
    return None


def _npy_length(p: Path) -> int | None:
    """The length of a sibling ``.npy`` metric array from its header (None: unreadable, not 1-D)."""
    fmt = np.lib.format
    try:
        with open(p, "rb") as f:
            version = fmt.read_magic(f)
            header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape = header(f)[0]
    except (OSError, ValueError, SyntaxError, EOFError):
        return None
    dims = [d for d in shape if d != 1]
    return int(dims[0]) if len(dims) == 1 else (1 if not dims and shape else None)


def _vector(src: str, key: str, a: np.ndarray) -> np.ndarray:
    if a.dtype.kind not in "biuf":
        raise ReadError(src, f"'{key}' holds {a.dtype} values, not numbers; {EXPECTED}")
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise ReadError(src, f"'{key}' is a {a.ndim}-D array of shape {a.shape} without column names; {EXPECTED}")
    return a.astype(np.float64)


def _load(p: Path) -> dict[str, np.ndarray]:
    src = str(p)
    try:
        with open(p, "rb") as f:  # (np.load leaves its own handle open when a zip is corrupt)
            loaded = np.load(f, allow_pickle=False)
            if isinstance(loaded, np.ndarray):
                return {p.name[:-4]: _vector(src, p.name, loaded)}
            with loaded as z:
                return {k: _vector(src, k, z[k]) for k in z.files if series_name(k)}
    except ReadError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        why = "an array of Python objects (loading it would unpickle it)" if "allow_pickle" in str(e) else f"corrupt ({type(e).__name__})"
        raise ReadError(src, f"cannot load: {why}; {EXPECTED}") from None


def _sibling_lengths(p: Path) -> list[int]:
    out: list[int] = []
    try:
        siblings = sorted(p.parent.iterdir())
    except OSError:
        return out
    for q in siblings:
        if q != p and q.name.lower().endswith(".npy") and numpy_kind(q):
            n = _npy_length(q)
            if n:
                out.append(n)
    return out


def read_numpy(path: str | Path) -> RawLog:
    from traindx.readers import npy_history

    p = Path(path)
    src = str(p)
    if p.name.lower().endswith(".npy") and npy_history.holds_objects(p):
        return npy_history.read_npy_history(p)
    arrays = {series_name(k) or k: v for k, v in _load(p).items() if v.size}
    if not arrays:
        raise ReadError(src, f"no metric array with values; {EXPECTED}")
    log = RawLog(path=src)
    longest = max([len(v) for v in arrays.values()] + _sibling_lengths(p))
    in_order = [name for name, v in arrays.items() if len(v) == longest]
    if in_order:
        log.problem("note", f"{src}: NumPy arrays carry no axis; {', '.join(in_order)} read in index order (item i at step i)")
    for name, values in arrays.items():
        n = len(values)
        if n < longest:  # per epoch beside per-step arrays: at the last step of each epoch
            steps = np.round(np.arange(1, n + 1) * (longest / n)).astype(np.int64) - 1
            log.problem("note", f"{src}: '{name}' has {n} values beside arrays of {longest}: read as per-epoch values at the last step of each epoch ({longest / n:.3g} steps each)")
        else:
            steps = np.arange(n, dtype=np.int64)
        log.series.append(RawSeries(name=name, steps=steps, values=values, source=src))
        log.records += n
    return log
