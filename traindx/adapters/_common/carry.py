"""Were the gradients reset between steps? The verdict every adapter that watches ``.grad``
draws from its counts (torch's Monitor, Keras 3 on the torch backend); no framework here."""

from __future__ import annotations

from typing import Any


def fold_carry_counts(flags: dict[str, Any], hits: int, clean: int) -> None:
    """Set ``grads_carried_over`` (the share of checked backwards that found a gradient left
    by an earlier step: 1 when the loop never resets them, about 1 - 1/k when it resets them
    every k steps, 0 when it resets them every step) and ``grad_accumulating`` from ``hits``
    (backwards that added onto a gradient left there) and ``clean`` (backwards onto none).
    One sighting is enough when the gradient was never seen reset; two otherwise; three clean
    backwards and no hit say the loop resets them. Too few checks leave both flags unset."""
    if hits + clean >= 2:
        flags["grads_carried_over"] = round(hits / (hits + clean), 4)
    else:
        flags.pop("grads_carried_over", None)
    if hits >= 2 or (hits and not clean):
        flags["grad_accumulating"] = True
    elif hits == 0 and clean >= 3:
        flags["grad_accumulating"] = False
    else:
        flags.pop("grad_accumulating", None)
