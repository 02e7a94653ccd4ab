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


#: A scalar tensor printed with its autograd node, ``tensor(1.79, grad_fn=<NllLossBackward0>)``:
#: a value the backward pass runs through - in a training loop's print, the training loss.
GRAD_TENSOR = re.compile(rf"\btensor\(\s*({NUM})\s*,\s*grad_fn=<\w*Backward\d*>[^()]*\)", re.I)
_NAMED_BEFORE = re.compile(rf"({_WORD})\s*[:=]?\s*$")
#: A split word closing one group of pairs and opening the next (pytorch-kaldi's
#: ``loss=0.51 mae=0.33 valid=dev loss=0.60 mae=0.41``): a token of its own, not a bare pair (``val 0.43``).
_GROUP = re.compile(rf"(?<![\w=/.-])(train(?:ing)?|val(?:id(?:ation)?)?|eval(?:uation)?|dev|test)(?:=\S*)?(?=\s)(?!\s*[:=]?\s*(?:{NUM}))", re.I)


def unnamed_grad_loss(text: str, skip: re.Pattern[str]) -> str:
    """A graph-carrying scalar tensor no name precedes (``epoch 0 tensor(1.80, grad_fn=<...>) val
    tensor(1.78)``, a beginner's ``print(epoch, loss, ...)``) as ``loss 1.80``; a named one
    (``loss: tensor(0.5, grad_fn=..)``) as its number. ``skip``: words that name no metric (epoch)."""

    def one(m: re.Match[str]) -> str:
        line_start = text.rfind("\n", 0, m.start()) + 1
        before = _NAMED_BEFORE.search(text[line_start : m.start()])
        return m[1] if before and not skip.fullmatch(before[1]) else f"loss {m[1]}"

    return GRAD_TENSOR.sub(one, text)


def split_groups(part: str, names: Callable[[str], set[str]]) -> tuple[str, str, str] | None:
    """(first group, split, second group) where a split word opens a second group of the metric
    names the first one printed (``names``: a text's pair names naming a metric; prose such as
    ``train size 1437 val size 360`` repeats no metric), else None."""
    for m in _GROUP.finditer(part):
        left, right = part[: m.start()], part[m.end() :]
        if left.strip() and names(left) & names(right):
            return left, m[1].lower(), right
    return None
