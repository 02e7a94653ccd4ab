"""A classifier's first loss far above any uniform guess (LOSS019: logits that start huge from
the input scale or the initialization) is no mark of memorizing or of too few examples: it
speaks against overfitting and insufficient_data (qa_fresh40's unscaled uint8 glyphs, whose
train/validation gap put overfitting first). On the labelled corpus LOSS019 fires on 1
overfitting run, 0 insufficient_data runs and 131 runs of other faulty causes."""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()


def without_item(book):
    b = book.model_copy(deep=True)
    for c in b.causes:
        c.evidence[:] = [e for e in c.evidence if e.when != "fired.LOSS019"]
    return b


def p_of(first: float, book=BOOK) -> dict[str, float]:
    # per-epoch: the training loss falls to ~0 while validation stalls (a gap), accuracy logged
    series = {"loss": f"{first}*0.3x12 0.0001x8", "val/loss": "1.9x20 ~0.02",
              "accuracy": "0.5+0.05x10 1.0x10", "val/accuracy": "0.8x20 ~0.01"}  # fmt: skip
    run = case_run(Case(name="r", series=series, units={k: "epoch" for k in series}, fires=True))
    d = diagnose_run(run, book)
    assert ("LOSS019" in {s.code for s in d.symptoms}) == (first > 10.0)
    return {c.id: c.probability for c in d.causes}


def test_a_huge_first_loss_speaks_against_memorizing():
    for cause in ("overfitting", "insufficient_data"):
        items = [e for e in next(c for c in BOOK.causes if c.id == cause).evidence if e.when == "fired.LOSS019"]
        assert len(items) == 1 and items[0].lr < 1.0, cause
    with_item, without = p_of(21.0), p_of(21.0, without_item(BOOK))
    assert with_item["overfitting"] < 0.95 * without["overfitting"], (with_item["overfitting"], without["overfitting"])
    assert with_item["inputs_not_normalized"] > without["inputs_not_normalized"]
    # a first loss on the usual scale: the item says nothing
    assert p_of(2.1)["overfitting"] == p_of(2.1, without_item(BOOK))["overfitting"]
