"""Read a training history saved as one JSON object of per-epoch lists.

``json.dump(model.fit(...).history, f)`` (Keras' ``History.history``) and its hand-written
equivalents give ``{"loss": [0.9, 0.7, ...], "val_loss": [...], "accuracy": [...]}``: each key
a metric, item *i* of each list its value at epoch *i*. Read as JSON lines would be, one record
per epoch with ``epoch`` = *i*. Lists shorter than the longest (a metric added later) are
aligned at the start; items that are not numbers are counted as corrupt and skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traindx.errors import ReadError
from traindx.readers.csvlog import read_text
from traindx.readers.jsonl import load_document, loads, records_to_log
from traindx.readers.raw import RawLog

HINT = (
    'expected one JSON object of per-epoch lists like {"loss": [0.9, 0.7], "val_loss": [1.0, 0.8]}'
)
MAX_SNIFF_BYTES = (
    5_000_000  # a history of a few thousand epochs; larger .json files are not sniffed
)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def history_lists(doc: Any) -> dict[str, list[Any]] | None:
    """The metric lists of a history object, or None when ``doc`` is not one: a dict whose
    values are all lists, at least one of them with two or more numbers."""
    if not isinstance(doc, dict) or not doc:
        return None
    if not all(isinstance(k, str) and isinstance(v, list) for k, v in doc.items()):
        return None
    if not any(sum(_is_number(x) for x in v) >= 2 for v in doc.values()):
        return None
    return doc


def sniff_history(p: Path, head: bytes) -> bool:
    """Whether a ``.json`` file is a history object (read whole: such files are small)."""
    if p.suffix.lower() != ".json" or not head.lstrip().startswith(b"{"):
        return False
    try:
        if p.stat().st_size > MAX_SNIFF_BYTES:
            return False
        return history_lists(loads(read_text(p))) is not None
    except (OSError, ValueError):
        return False


def read_json_history(path: str | Path) -> RawLog:
    src = str(path)
    doc = load_document(path, HINT)
    lists = history_lists(doc)
    if lists is None:
        raise ReadError(src, f"not a history object; {HINT}")
    log = RawLog(path=src)
    n = max(len(v) for v in lists.values())
    records, bad = [], 0
    for i in range(n):
        rec: dict[str, Any] = {"epoch": i}
        for k, v in lists.items():
            if i < len(v):
                if _is_number(v[i]) or v[i] is None:
                    rec[k] = v[i]
                else:
                    bad += 1
        records.append((i, rec))
    if bad:
        log.problem("corrupt", f"{src}: {bad} list item(s) are not numbers; skipped", bad)
        log.dropped_records += bad
    return records_to_log(src, records, log)
