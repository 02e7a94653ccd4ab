"""Training output printed to a terminal and saved or pasted (``train.log``, ``output.txt``).

The layouts gathered from public code (issue 10) are all "name, separator, number" pairs
between separators, with an epoch marker somewhere:

- Keras ``fit``: ``Epoch 3/20`` on its own line, then ``32/32 [====] - 0s 2ms/step - loss:
  0.51 - accuracy: 0.81 - val_loss: ...`` (a progress line rewritten with ``\\r``: its last
  state is read);
- hand-written: ``epoch 3 | train loss 0.51 | val acc 81.2%``, ``Epoch [003/300] - Train
  Loss: 0.5, Valid Loss: 0.6, LR: [0.001]``, ``Epoch: 3, loss=0.51, acc=0.81``;
- blocks: ``Epoch 3/100`` then ``  Train Loss: 0.96`` and ``  Val Loss: 0.95`` lines;
- PyTorch examples: ``| epoch 1 | 200/2983 batches | lr 20.00 | loss 5.53 | ppl 252.8``,
  ``| end of epoch 1 | valid loss 5.53``, ``Train Epoch: 1 [640/60000 (1%)]\\tLoss: 0.5`` and
  ``Test set: Average loss: 0.1, Accuracy: 9800/10000 (98%)``;
- tqdm postfixes: ``Epoch 1: 100%|####| 19/19 [00:00, 177.8it/s, loss=2.62]``; a
  ``2025-07-07 13:55:26 INFO:`` logging prefix is skipped.

Pairs of one epoch form one record until a name repeats (then a new record starts: several
per epoch are read on a step axis, the record order, with the epoch beside it). Lines naming
a split (``Test set:``, ``Train Epoch:``) give it to their unsplit names. Percentages are
kept as written; the assembly reads a [0, 1] metric logged in percent as a fraction.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from traindx.errors import ReadError
from traindx.readers.csvlog import read_text
from traindx.readers.jsonl import records_to_log
from traindx.readers.raw import RawLog

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # terminal colours (Keras 3 progress bars)
_PROGRESS = re.compile(r"^\s*\d+/\d+\s")
_EPOCH = re.compile(r"\bepoch\b\s*[:#=\[]?\s*(\d+)\s*\]?(?:\s*(?:/|of)\s*\d+)?", re.I)
_PREFIX = re.compile(r"^\s*(?:\[?\d{4}-\d\d-\d\d[ T][\d:.,]+\]?\s*)?(?:\[?(?:INFO|DEBUG|WARNING)\]?\s*[:-]?\s*)?")
#: A split named at the start of a line (``Test set:``, ``Train Epoch:``, ``Validation -``).
_LINE_SPLIT = re.compile(r"^\s*\|?\s*(train(?:ing)?|val(?:id(?:ation)?)?|eval(?:uation)?|test)\b(?:\s+set)?\s*[:-]?", re.I)
_SPLIT_WORD = re.compile(r"(?<![a-z])(train(?:ing)?|trn|val(?:id(?:ation)?)?|eval(?:uation)?|dev|test(?:ing)?)(?![a-z])", re.I)
#: Separators between pairs: `` - ``, ``|``, ``,``, ``;``, tabs, two spaces, tqdm's brackets.
_SEP = re.compile(r"\s+-\s+|\s*[|,;\t\[\]]\s*|(?<![:=\s])\s{2,}(?=[A-Za-z])")
_BRACKETED = re.compile(rf"([:=])\s*\[\s*({_NUM})\s*\]", re.I)  # 'LR: [0.001]'
_PAIR = re.compile(
    rf"(?P<name>[A-Za-z][\w /@().\u00b2-]*?)\s*(?:[:=]\s*|\s+)(?P<num>{_NUM})"
    rf"(?:\s*/\s*(?P<den>\d+)\s*(?:\(\s*[\d.]+\s*%\s*\))?)?\s*(?P<pct>%)?(?P<unit>s|ms|sec)?",
    re.I,
)
_SKIP_NAMES = re.compile(r"(?i)epoch|eta|step|batch|iter|it")  # markers and progress, not metrics
_KNOWN = re.compile(r"(?i)(?<![a-z])(loss|acc|accuracy|err|error|mse|mae|rmse|ppl|perplexity|f1|auc|iou|dice)(?![a-z])")
#: Lines needed to call a text file a training log (a README names a loss once or twice).
MIN_RECORDS = 3


def _pairs(text: str) -> dict[str, float]:
    """The ``name: number`` pairs of a line, the line's split given to names without one;
    ``81.2%`` reads 0.812 and ``9800/10000 (98%)`` 0.98."""
    split = _LINE_SPLIT.match(text)
    context = split[1].lower() if split else None
    out: dict[str, float] = {}
    for seg in _SEP.split(_BRACKETED.sub(r"\1 \2", text[split.end() :] if split else text)):
        m = _PAIR.fullmatch(seg.strip(" -:"))
        if not m or _SKIP_NAMES.fullmatch(m["name"].strip()):
            continue
        name = m["name"].strip()
        if context and not _SPLIT_WORD.search(name):
            name = f"{context} {name}"
        value, den = float(m["num"]), float(m["den"] or 1)
        out[name] = (value / den if den else float("nan")) / (100.0 if m["pct"] and not m["den"] else 1.0)
    return out


def parse_text(text: str) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    """(line index, record) pairs, and the number of lines that held metric pairs."""
    epoch: int | None = None
    records: list[tuple[int, dict[str, Any]]] = []
    rec: dict[str, Any] | None = None  # the record being filled (also in ``records``)
    lines = 0
    in_progress = False  # the record was filled from a progress bar ('12/32 [===>...] - loss: ...')
    for i, raw in enumerate(text.split("\n")):  # not splitlines: a '\r' rewrites a progress line
        last = re.split(r"[\r\x08]+", _ANSI.sub("", raw).rstrip("\r\x08 "))[-1]  # a progress bar's last state
        line = _PREFIX.sub("", last, count=1)
        m = _EPOCH.search(line)
        if m and int(m[1]) != epoch:
            epoch, rec, in_progress = int(m[1]), None, False
        pairs = _pairs(_EPOCH.sub(" | ", line) if m else line)
        if not pairs:
            continue
        lines += 1
        progress = bool(_PROGRESS.match(line))
        if rec is not None and progress and in_progress:  # a progress bar's next state (Keras)
            rec.clear()
            rec.update({} if epoch is None else {"epoch": epoch})
        elif rec is None or any(k in rec for k in pairs):  # a name again: the next record
            rec = {} if epoch is None else {"epoch": epoch}
            records.append((i, rec))
        in_progress = progress
        rec.update(pairs)
    return records, lines


def _with_axis(records: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """One record per epoch: the epoch is the x axis; more: the record order, epoch beside."""
    epochs = [r.get("epoch") for _, r in records]
    if None not in epochs and len(set(epochs)) == len(epochs):
        return records
    return [(i, {"step": k, **r}) for k, (i, r) in enumerate(records)]


def looks_like_text_log(head: str) -> bool:
    """A file's first lines print training metrics (``loss: 0.5``, ``val acc 81%``)."""
    records, n = parse_text(head)
    return n >= MIN_RECORDS and any(_KNOWN.search(k) for _, r in records for k in r)


def read_text_log(path: str | Path) -> RawLog:
    src = str(path)
    records, n = parse_text(read_text(path))
    if n == 0:
        raise ReadError(src, "no 'name: number' pairs on any line; expected printed training output like "
                        "'Epoch 3/20 - loss: 0.51 - val_loss: 0.62' or 'epoch 3 | train loss 0.51 | val acc 81.2%'")  # fmt: skip
    log = RawLog(path=src)
    return records_to_log(src, _with_axis(records), log)
