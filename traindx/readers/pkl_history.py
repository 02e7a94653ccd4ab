"""Read a training history saved with ``pickle.dump``: ``pickle.dump(history.history,
open("history.pkl", "wb"))`` (Keras' ``History.history``, a dict of per-epoch lists) or a
pickled list of per-epoch dicts, the items floats, ints or NumPy scalars.

A pickle names the callables that rebuild it, so loading one runs code. traindx never does
that: the file is read by :mod:`traindx.readers.npy_history`'s restricted unpickler, which
admits what a ``np.save``'d history holds (plain containers, numbers, NumPy numeric scalars,
object arrays of them) and nothing else. A class (a pickled ``History`` object, a DataFrame)
stops it.

A ``.pkl``/``.pickle`` file is a log when it holds such a history with a metric's name among its
keys (any other pickle, a dataset's ``{"X": ..., "y": ...}`` or a model's, is left alone, silently), or when its name says it is one
(``history.pkl``, ``train_losses.pickle``): such a file that cannot be read is a one-line error
naming it and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traindx.names import map_name
from traindx.readers.npy_history import _ObjectArray, unpickle
from traindx.readers.raw import RawLog
from traindx.readers.torch_history import (
    MAX_PICKLE_BYTES,
    _Refused,
    named_history,
    read_pickled_history,
)

PICKLE = "pickle"
SUFFIXES = (".pkl", ".pickle")
EXPECTED = (
    "expected pickle.dump of a dict of per-epoch lists of numbers, as"
    " pickle.dump(history.history, open('history.pkl', 'wb')) writes, or of a list of per-epoch dicts"
)


def _plain(obj: Any) -> Any:
    """``obj`` with each object array rebuilt by the unpickler made a list (a 0-d one its item)."""
    if isinstance(obj, _ObjectArray):
        items = obj.items or []
        return _plain(items[0]) if obj.shape == () and len(items) == 1 else [_plain(x) for x in items]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(x) for x in obj]
    return obj


def load_history(p: Path) -> Any:
    """The object a pickle file holds, unpickled with only the admitted types; ``_Refused``
    (why) when it holds anything else, is corrupt, or is larger than a history."""
    with open(p, "rb") as f:
        data = f.read(MAX_PICKLE_BYTES + 1)
    if len(data) > MAX_PICKLE_BYTES:
        raise _Refused("it is larger than a history's pickle (a dataset or a model?)")
    return _plain(unpickle(data, corrupt="corrupt or not a pickle"))


def pickle_kind(p: Path) -> str | None:
    """``"pickle"`` for a ``.pkl``/``.pickle`` history (held, or named), else None."""
    from traindx.readers.json_history import history_lists, history_records

    if named_history(p):
        return PICKLE
    try:
        doc = load_history(p)
    except (_Refused, OSError):
        return None
    if (lists := history_lists(doc)) is not None:
        keys = set(lists)
    elif history_records(doc) is not None:
        keys = {k for x in doc if isinstance(x, dict) for k in x}
    else:
        return None
    # a dataset pickled as {"X": [...], "y": [...]} is a dict of lists too: a metric's name decides
    return PICKLE if any(isinstance(k, str) and map_name(k, None) is not None for k in keys) else None


def read_pkl_history(path: str | Path) -> RawLog:
    return read_pickled_history(Path(path), load_history, EXPECTED)
