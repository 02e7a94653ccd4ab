"""Read a training history saved as one JSON document: an object of per-epoch lists, or a list
of per-epoch objects.

``json.dump(model.fit(...).history, f)`` (Keras' ``History.history``) and its hand-written
equivalents give ``{"loss": [0.9, 0.7, ...], "val_loss": [...], "accuracy": [...]}``: each key
a metric, item *i* of each list its value at epoch *i*. Read as JSON lines would be, one record
per epoch with ``epoch`` = *i*. A list at most half as long as the longest is a coarser
cadence beside a finer one (a per-step ``loss`` beside per-epoch ``val_*`` lists of a hand-written
loop, Keras' ``val_*`` under ``validation_freq``): its *k*-th of *m* items is placed at the end of
the *k*-th of *m* equal spans of the longest, index round((k + 1) n / m) - 1, never at index *k*.
Lists a little shorter than the longest (a metric added later) are aligned at the start; items
that are not numbers are counted as corrupt and skipped.

``json.dump(history, f)`` of a list built with ``history.append({"epoch": e, "loss": ...})``
gives ``[{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.7}]``: each object read as one JSON
line would be (its ``epoch``/``step`` key, else its index, is the time); items that are not
objects are counted as corrupt and skipped.

A pandas frame's ``to_json()`` in any orient (a dict of dicts keyed by the row) is read by
:mod:`traindx.readers.pandas_json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traindx.errors import ReadError
from traindx.readers.csvlog import read_text
from traindx.readers.jsonl import flatten_record, load_document, loads, records_to_log
from traindx.readers.pandas_json import frame_records
from traindx.readers.raw import RawLog

HINT = (
    'expected one JSON object of per-epoch lists like {"loss": [0.9, 0.7], "val_loss": [1.0, 0.8]}'
    ' or a list of per-epoch objects like [{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.7}]'
)
MAX_SNIFF_BYTES = (
    5_000_000  # a history of a few thousand epochs; larger .json files are not sniffed
)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _nested_lists(doc: dict[Any, Any]) -> dict[Any, Any]:
    """A history nested one level (``{"train": {"loss": [...]}, "val": {...}}`` split -> metric,
    or ``{"loss": {"train": [...], "val": [...]}}`` metric -> split) as flat lists keyed
    ``outer/inner`` (``train/loss``, ``loss/val``), which the names read either way round. A dict
    of lists or dicts of lists only; anything else is returned as it was."""
    if not any(isinstance(v, dict) for v in doc.values()):
        return doc
    flat: dict[Any, Any] = {}
    for k, v in doc.items():
        if isinstance(v, dict) and v and all(isinstance(i, str) and isinstance(x, list) for i, x in v.items()):
            flat.update({f"{k}/{i}": x for i, x in v.items()})
        elif isinstance(v, list):
            flat[k] = v
        else:
            return doc
    return flat


def history_lists(doc: Any) -> dict[str, list[Any]] | None:
    """The metric lists of a history object, or None when ``doc`` is not one: a dict whose
    values are all lists (or dicts of lists, :func:`_nested_lists`), at least one of them with
    two or more numbers."""
    if not isinstance(doc, dict) or not doc:
        return None
    doc = _nested_lists(doc)
    if not all(isinstance(k, str) and isinstance(v, list) for k, v in doc.items()):
        return None
    if not any(sum(_is_number(x) for x in v) >= 2 for v in doc.values()):
        return None
    return doc


def history_records(doc: Any) -> list[Any] | None:
    """The items of a list of per-epoch objects, or None when ``doc`` is not one: a list of
    two or more items, most of them objects and two or more holding a number."""
    if not isinstance(doc, list) or len(doc) < 2:
        return None
    objs = [x for x in doc if isinstance(x, dict)]
    if 2 * len(objs) <= len(doc):
        return None
    if sum(any(_is_number(v) for v in x.values()) for x in objs) < 2:
        return None
    return doc


def sniff_history(p: Path, head: bytes) -> bool:
    """Whether a ``.json`` file is a history document (read whole: such files are small)."""
    start = head.lstrip()[:1]
    if p.suffix.lower() != ".json" or start not in (b"{", b"["):
        return False
    try:
        if p.stat().st_size > MAX_SNIFF_BYTES:
            return False
        doc = loads(read_text(p))
        return history_lists(doc) is not None or history_records(doc) is not None or frame_records(doc) is not None
    except (OSError, ValueError):
        return False


def _read_records(src: str, items: list[Any]) -> RawLog:
    log = RawLog(path=src)
    records = [(i, flatten_record(x)) for i, x in enumerate(items) if isinstance(x, dict)]
    bad = len(items) - len(records)
    if bad:
        log.problem("corrupt", f"{src}: {bad} list item(s) are not objects; skipped", bad)
        log.dropped_records += bad
    return records_to_log(src, records, log)


def list_positions(m: int, n: int) -> list[int]:
    """Where the items of a list of ``m`` go among the ``n`` records of the longest list: at the
    start when ``m`` is more than half of ``n``, else each at the end of its span of ``n / m``."""
    if 2 * m > n:
        return list(range(m))
    return [round((k + 1) * n / m) - 1 for k in range(m)]


def read_json_history(path: str | Path) -> RawLog:
    return history_log(str(path), load_document(path, HINT))


def history_log(src: str, doc: Any, hint: str = HINT) -> RawLog:
    """The series of a history document already loaded (JSON, or a ``torch.save``d one)."""
    items = history_records(doc)
    if items is not None:
        return _read_records(src, items)
    if (rows := frame_records(doc)) is not None:  # pandas' to_json() (its 'split' orient holds lists)
        return records_to_log(src, rows, RawLog(path=src))
    lists = history_lists(doc)
    if lists is None:
        raise ReadError(src, f"not a history object; {hint}")
    log = RawLog(path=src)
    n = max(len(v) for v in lists.values())
    records: list[tuple[int, dict[str, Any]]] = [(i, {"epoch": i}) for i in range(n)]
    bad = 0
    for k, v in lists.items():
        for i, at in enumerate(list_positions(len(v), n)):
            if _is_number(v[i]) or v[i] is None:
                records[at][1][k] = v[i]
            else:
                bad += 1
    if bad:
        log.problem("corrupt", f"{src}: {bad} list item(s) are not numbers; skipped", bad)
        log.dropped_records += bad
    return records_to_log(src, records, log)
