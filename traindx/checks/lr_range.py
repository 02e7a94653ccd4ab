"""The result of an LR range test (every framework's ``lr_range_test`` returns one)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LRRangeResult:
    """An LR sweep: the LRs tried, the loss at each, and what they suggest.

    ``suggested_lr`` is about a tenth of ``blowup_lr`` (where the smoothed loss passed 4x its
    minimum or turned non-finite), else the steepest-descent LR; None when
    the loss fell at no LR. ``next_range`` is the coarse-to-fine step: the range a finer
    sweep (or a short training grid) should search next.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    suggested_lr: float | None = None
    blowup_lr: float | None = None
    steepest_lr: float | None = None
    seconds: float = 0.0

    @property
    def next_range(self) -> tuple[float, float] | None:
        if self.suggested_lr is None:
            return None
        hi = self.blowup_lr if self.blowup_lr is not None else self.suggested_lr * 10
        return (self.suggested_lr / 3, hi / 3)

    def check(self, configured: float, says: str | None = None) -> tuple[dict, str, dict]:
        """The ``lr`` preflight check's result against the ``configured`` LR: its facts
        (``configured``, ``suggested``, ``blowup``, ``never_fell``), what it says (``says``,
        else the suggestion and the blow-up) and its curves (``lrs``, ``losses``)."""
        facts: dict[str, float | bool] = {
            "configured": configured, "never_fell": self.suggested_lr is None and self.blowup_lr is None,
        }  # fmt: skip
        if self.suggested_lr is not None:
            facts["suggested"] = self.suggested_lr
        if self.blowup_lr is not None:
            facts["blowup"] = self.blowup_lr
        says = says or f"sweep suggests {self.suggested_lr}, blows up at {self.blowup_lr}"
        return facts, f"configured LR {configured:.3g}; {says}", {"lrs": self.lrs, "losses": self.losses}

    def __str__(self) -> str:
        def f(v: float | None) -> str:
            return "none" if v is None else f"{v:.3g}"

        return f"{len(self.lrs)} LRs from {f(self.lrs[0] if self.lrs else None)}: suggested {f(self.suggested_lr)}, blow-up {f(self.blowup_lr)}, steepest {f(self.steepest_lr)}"
