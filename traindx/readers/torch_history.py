"""Read a training history saved with ``torch.save``: ``torch.save({"loss": [...],
"val_loss": [...]}, "history.pt")`` (a dict of per-epoch lists) or ``torch.save(history,
"history.pt")`` of a list of per-epoch dicts, the items floats, ints or tensors of one value
(``loss.detach()``), a list also a 1-D tensor (``torch.tensor(losses)``).

Torch is never imported. A ``.pt`` file of the default (zip) format holds a pickle
(``<name>/data.pkl``) and the tensors' storages (``<name>/data/<key>``); the pickle is loaded
by a restricted unpickler that admits plain containers and numbers, ``collections.OrderedDict``,
torch's tensor/parameter rebuild functions with a numeric storage type, and NumPy numeric
scalars: anything else (a class, a function, a 2-D tensor) stops it, so a user's file never runs
code. 0-d tensors become floats, 1-D tensors lists of floats, read from their storage bytes.

A ``.pt``/``.pth`` file is a log when it holds such a history (a model checkpoint is not one:
it is left alone, silently), or when its name says it is one (``history.pt``,
``train_losses.pt``, ``metrics.pth``): such a file that cannot be read is a one-line error
naming it and what was expected.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from traindx.errors import ReadError
from traindx.readers.raw import RawLog

TORCH = "torch"
SUFFIXES = (".pt", ".pth")
EXPECTED = (
    "expected torch.save of a dict of per-epoch lists of floats or one-value tensors,"
    ' like {"loss": [0.9, 0.7], "val_loss": [1.0, 0.8]}, or of a list of per-epoch dicts'
)
MAX_PICKLE_BYTES = 4_000_000  # a history's pickle; a larger one is a checkpoint, not sniffed
MAX_VALUES = 1_000_000  # values of one 1-D tensor
_NAME_WORDS = frozenset("history hist metrics metric losses loss log logs stats curves curve records".split())
_STORAGES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "bf16",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}  # fmt: skip


class _Refused(Exception):
    """The pickle holds something the restricted unpickler does not admit (the reason)."""


class _Storage:
    def __init__(self, dtype: str, key: str, numel: int):
        self.dtype, self.key, self.numel = dtype, key, numel


def named_history(p: Path) -> bool:
    """Whether a file's name says it is a history (``history.pt``, ``val_losses.pth``)."""
    words = re.split(r"[^a-z0-9]+", p.stem.lower())
    return any(w in _NAME_WORDS for w in words)


def _pickle_name(z: zipfile.ZipFile) -> str:
    names = [n for n in z.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(names) != 1:
        raise _Refused("no data.pkl in the archive (not a torch.save file)")
    return names[0]


class _Unpickler(pickle.Unpickler):
    def __init__(self, z: zipfile.ZipFile, prefix: str, data: bytes, big_endian: bool):
        super().__init__(io.BytesIO(data))
        self.z, self.prefix, self.big_endian = z, prefix, big_endian

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if module == "torch" and name in _STORAGES:
            return _STORAGES[name]
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return lambda data, *_: data
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
            return _np_scalar
        if module == "numpy" and name == "dtype":
            return _np_dtype
        if (module, name) == ("_codecs", "encode"):  # how protocol 2 writes a NumPy scalar's bytes
            return _latin1
        raise _Refused(f"it holds {module}.{name}, which traindx does not unpickle")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and pid[1] in _STORAGES.values()):
            raise _Refused("it holds a storage of a type traindx does not read")
        return _Storage(pid[1], str(pid[2]), int(pid[4]))

    def _tensor(self, storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> Any:
        if not isinstance(storage, _Storage) or not isinstance(size, tuple) or len(size) > 1:
            raise _Refused(f"it holds a {len(size) if isinstance(size, tuple) else '?'}-D tensor")
        n = int(size[0]) if size else 1
        step = int(stride[0]) if size else 1
        if size and n == 0:
            return []
        if storage.numel > 8 * MAX_VALUES or not 0 < n <= MAX_VALUES or step < 1 or offset < 0 or offset + (n - 1) * step >= storage.numel:
            raise _Refused("it holds a tensor larger than its storage or than a history")
        raw = self.z.read(f"{self.prefix}/data/{storage.key}")
        if storage.dtype == "bf16":
            a = (np.frombuffer(raw, ">u2" if self.big_endian else "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            dt = np.dtype(storage.dtype)
            a = np.frombuffer(raw, dt.newbyteorder(">") if self.big_endian else dt)
        vals = a[offset : offset + (n - 1) * step + 1 : step].astype(np.float64)
        if len(vals) != n:
            raise _Refused("a tensor's storage is shorter than the tensor")
        return float(vals[0]) if not size else [float(v) for v in vals]


def _latin1(text: Any, encoding: Any = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding != "latin1":
        raise _Refused("it holds encoded text traindx does not read")
    return text.encode("latin1")


def _np_dtype(code: Any, *_: Any) -> np.dtype:
    if not isinstance(code, str) or not re.fullmatch(r"[<>|=]?[biuf][1248]", code):
        raise _Refused(f"it holds a NumPy value of type {code!r}")
    return np.dtype(code)


def _np_scalar(dtype: Any, data: Any = b"") -> float:
    if not isinstance(dtype, np.dtype) or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise _Refused("it holds a NumPy value traindx does not read")
    return float(np.frombuffer(data, dtype)[0])


#: what unpickling a corrupt (or truncated) pickle raises: each reader turns it into ``_Refused``
UNPICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                   RecursionError)  # fmt: skip


def load_history(p: Path) -> Any:
    """The object a ``torch.save`` zip holds, unpickled with only the admitted types;
    ``_Refused`` (why) when it holds anything else or is not such a file."""
    try:
        with zipfile.ZipFile(p) as z:
            name = _pickle_name(z)
            if z.getinfo(name).file_size > MAX_PICKLE_BYTES:
                raise _Refused("its pickle is larger than a history's (a checkpoint?)")
            prefix = name.rsplit("/", 1)[0]
            order = f"{prefix}/byteorder"
            big = order in z.namelist() and z.read(order).strip() == b"big"
            return _Unpickler(z, prefix, z.read(name), big).load()
    except zipfile.BadZipFile:
        raise _Refused("not a zip archive (torch.save's legacy format, or not a torch.save file)") from None
    except UNPICKLE_ERRORS as e:
        raise _Refused(f"corrupt ({type(e).__name__})") from None


def torch_kind(p: Path) -> str | None:
    """``"torch"`` for a ``.pt``/``.pth`` history (held, or named), else None."""
    from traindx.readers.json_history import history_lists, history_records

    if named_history(p):
        return TORCH
    try:
        doc = load_history(p)
    except (_Refused, OSError):
        return None
    return TORCH if history_lists(doc) is not None or history_records(doc) is not None else None


def read_pickled_history(p: Path, load: Callable[[Path], Any], expected: str) -> RawLog:
    """The history ``load`` (a restricted unpickler) finds in ``p``, as a log; what it refuses,
    or an unreadable file, is a one-line error naming the file and ``expected``."""
    from traindx.readers.json_history import history_log

    try:
        doc = load(p)
    except _Refused as e:
        raise ReadError(str(p), f"cannot read: {e}; {expected}") from None
    except OSError as e:
        raise ReadError(str(p), f"cannot read ({e.strerror or e})") from None
    return history_log(str(p), doc, expected)


def read_torch_history(path: str | Path) -> RawLog:
    return read_pickled_history(Path(path), load_history, EXPECTED)
