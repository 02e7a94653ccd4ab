"""Read a history saved with ``np.save("history.npy", history.history)`` (Keras' habit): a 0-d
NumPy object array holding a dict of per-epoch lists, or ``np.save`` of a list of per-epoch
dicts (a 1-D object array).

NumPy writes such an array as a pickle after the ``.npy`` header, which ``np.load`` opens only
with ``allow_pickle=True`` - it would run whatever the pickle names. traindx never does that:
the pickle is read by a restricted unpickler that admits what :mod:`traindx.readers.torch_history`
admits (plain containers, numbers, NumPy numeric scalars) and the three NumPy names that
rebuild an object array (``_reconstruct``, ``ndarray``, the object dtype). Anything else (a
class, a function, a numeric array's raw bytes) stops it with a one-line error naming the file.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from traindx.readers.raw import RawLog
from traindx.readers.torch_history import (
    MAX_PICKLE_BYTES,
    UNPICKLE_ERRORS,
    _latin1,
    _np_dtype,
    _np_scalar,
    _Refused,
    read_pickled_history,
)

EXPECTED = (
    "expected np.save of a dict of per-epoch lists of numbers, as np.save('history.npy', history.history)"
    " writes, or of a list of per-epoch dicts"
)
_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")


class _ObjectDtype:
    """The object dtype of the array being rebuilt (its pickled state is not needed)."""

    def __setstate__(self, state: Any) -> None:
        pass


class _NdArray:
    """Stands for ``numpy.ndarray`` in ``_reconstruct(ndarray, ...)``; never instantiated."""


class _ObjectArray:
    """An object array being rebuilt: its items come with its state (a list, in C order)."""

    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = None
        self.items: list[Any] | None = None

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _ObjectDtype) and isinstance(state[4], list)):
            raise _Refused("it holds an array that is not an array of Python objects")
        if not isinstance(state[1], tuple) or len(state[1]) > 1:
            raise _Refused("it holds an object array of more than one dimension")
        self.shape, self.items = state[1], state[4]


def _dtype(code: Any, *_: Any) -> Any:
    return _ObjectDtype() if code in ("O8", "O4", "O") else _np_dtype(code)


def _reconstruct(cls: Any, *_: Any) -> _ObjectArray:
    if cls is not _NdArray:
        raise _Refused("it rebuilds something other than a NumPy array")
    return _ObjectArray()


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _MULTIARRAY and name == "_reconstruct":
            return _reconstruct
        if module in _MULTIARRAY and name == "scalar":
            return _np_scalar
        if (module, name) == ("numpy", "ndarray"):
            return _NdArray
        if (module, name) == ("numpy", "dtype"):
            return _dtype
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        raise _Refused(f"it holds {module}.{name}, which traindx does not unpickle")


def unpickle(data: bytes, corrupt: str = "corrupt") -> Any:
    """``data`` unpickled with only the admitted types (:class:`_Unpickler`); ``_Refused``
    naming what it holds instead, or ``corrupt (<error>)`` for a broken pickle."""
    try:
        return _Unpickler(io.BytesIO(data)).load()
    except UNPICKLE_ERRORS as e:
        raise _Refused(f"{corrupt} ({type(e).__name__})") from None


def _header(f: Any) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    version = fmt.read_magic(f)
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = read(f)
    return shape, dtype


def holds_objects(p: Path) -> bool:
    """Whether a ``.npy`` file holds an array of Python objects (a pickled history, maybe)."""
    try:
        with open(p, "rb") as f:
            return _header(f)[1].kind == "O"
    except (OSError, ValueError, SyntaxError, EOFError):
        return False


def load_history(p: Path) -> Any:
    """The dict (0-d array) or list (1-D array) an object ``.npy`` file holds, unpickled with
    only the admitted types; ``_Refused`` (why) otherwise."""
    try:
        with open(p, "rb") as f:
            _header(f)
            data = f.read(MAX_PICKLE_BYTES + 1)
    except (ValueError, SyntaxError, EOFError) as e:
        raise _Refused(f"corrupt header ({type(e).__name__})") from None
    if len(data) > MAX_PICKLE_BYTES:
        raise _Refused("its pickle is larger than a history's")
    arr = unpickle(data)
    if not isinstance(arr, _ObjectArray) or arr.items is None:
        raise _Refused("it holds no object array")
    return arr.items[0] if arr.shape == () and len(arr.items) == 1 else arr.items


def read_npy_history(path: str | Path) -> RawLog:
    return read_pickled_history(Path(path), load_history, EXPECTED)
