"""Pairs of printed training output named by a split word and a metric word, with only spaces
between (:mod:`traindx.readers.textlog`): ``epoch 3 train loss 5.84 val loss 4.97 val accuracy
14.67%`` (a hand loop's print, qa_real43)."""

from __future__ import annotations

import re
from collections.abc import Callable

#: A number as the text readers read it (NaN and inf are values: a non-finite point).
NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)"
_WORD = r"[A-Za-z][\w/.@-]*"
_SPLIT = r"train(?:ing)?|trn|val(?:id(?:ation)?)?|eval(?:uation)?|dev|test"
_ONE = rf"(?:(?:{_SPLIT})\s+)?{_WORD}\s+(?:{NUM})%?"
_ALL = re.compile(rf"{_ONE}(?:\s+{_ONE})+", re.I)
_PAIR = re.compile(rf"(?:({_SPLIT})\s+)?({_WORD})\s+({NUM})(%?)", re.I)


def split_spaced(
    seg: str, context: str | None, known: re.Pattern[str], name: Callable[[str, str | None], str]
) -> dict[str, float] | None:
    """The pairs of ``train loss 5.84 val loss 4.97 val accuracy 14.67%`` (a percent read as a
    fraction), None unless the segment is two or more such pairs, one at least led by a split
    word, every metric word a known metric (``known``; prose is not read: ``train size 1437 val
    size 360``). A pair without a split word takes ``context``, the line's split; ``name`` makes
    the name from the metric word and the split."""
    if not _ALL.fullmatch(seg):
        return None
    found = _PAIR.findall(seg)
    if not any(split for split, *_ in found) or not all(known.fullmatch(word) for _, word, _, _ in found):
        return None
    return {
        name(word, split.lower() if split else context): float(num) / (100.0 if pct else 1.0)
        for split, word, num, pct in found
    }
