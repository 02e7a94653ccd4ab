"""Session 47 (gapsm47): log-only levels and gaps - a loss that froze at ln K is not an LR at 0,
and a logged gradient beside a loss pinned at ln K from the start is not a missing update."""

from __future__ import annotations

from traindx.engine import diagnose_run
from traindx.rules.loader import load_rulebook
from traindx.rules.model import Case
from traindx.rules.testing import case_run

BOOK = load_rulebook()


def _says(series: dict[str, str], cause: str, units: dict[str, str] | None = None) -> tuple[float, list[str]]:
    case = Case(name="c", series=series, units=units or {}, fires=True)
    d = diagnose_run(case_run(case), BOOK)
    c = next(c for c in d.causes if c.id == cause)
    return c.probability, [e.says for e in c.evidence]


def test_a_loss_frozen_at_ln_k_is_not_read_as_an_lr_decayed_to_zero():
    # qa_begin47's Adam weight_decay 0.5: 2.2975 -> ln 10 to 6e-6, repeated to the end
    acc = "0.16 0.36 0.35 0.25 0.1x26"
    at_lnk = {"loss": "2.2975 2.282 2.284 2.29 2.302585x26", "train/accuracy": acc}
    units = {"loss": "epoch", "train/accuracy": "epoch"}
    _, says = _says(at_lnk, "lr_schedule_bad", units)
    assert any("froze at ln(10)" in s for s in says), says
    assert not any("as an LR decayed to ~0 stops them" in s for s in says)
    elsewhere = {"loss": "2.2975 2.1 1.9 1.8 1.7x26", "train/accuracy": "0.16 0.3 0.4 0.45 0.5x26"}
    _, says2 = _says(elsewhere, "lr_schedule_bad", units)
    assert any("as an LR decayed to ~0 stops them" in s for s in says2), says2


def test_a_gradient_beside_a_loss_pinned_at_ln_k_is_not_a_missing_update():
    # qa_wild47's HF Trainer run with every parameter 0.02: ln 2 throughout, grad_norm 0.05-0.1
    grad = "0.05 0.1 0.097 0.049 0.06x26"
    pinned = {"loss": "0.6931x30 ~0.0002", "train/accuracy": "0.5x30 ~0.01", "grad_norm": grad}
    _, says = _says(pinned, "updates_not_applied")
    assert not any("gradients are non-zero" in s for s in says), says
    off = {"loss": "0.7513x30 ~0.0002", "train/accuracy": "0.5x30 ~0.01", "grad_norm": grad}
    _, says2 = _says(off, "updates_not_applied")
    assert any("gradients are non-zero" in s for s in says2), says2
