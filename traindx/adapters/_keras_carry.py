"""Keras 3 on the torch backend: does the training step reset the gradients?

Keras' own torch ``train_step`` calls ``self.zero_grad()`` before ``loss.backward()``; a
``train_step`` the user overrides the torch way (``loss.backward()``, then the optimizer
applies ``v.value.grad``) must do it too, or each backward adds onto every earlier one's
gradient (the accumulated sum is what the optimizer applies). The callback's own probe
gradients (``torch.autograd.grad``) never touch ``.grad``, so only a watch on the training's
backward can tell. Two hooks on one small trainable parameter: the tensor hook runs before
autograd accumulates into ``.grad`` (and also for the probe's ``autograd.grad``) and notes
whether a nonzero gradient was already there; the post-accumulate hook runs only for a
backward that writes ``.grad`` and counts that note. Neither changes a gradient. After
``limit`` counted backwards the hooks are removed (one host sync each until then)."""

from __future__ import annotations

from typing import Any

from traindx.adapters._common.carry import fold_carry_counts


class GradCarry:
    """Count the training backwards that found a gradient left by an earlier step."""

    def __init__(self, model: Any, limit: int = 24) -> None:
        self.hits = 0
        self.clean = 0
        self._first = True
        self._limit = limit
        self._pre: bool | None = None
        self._handles: list[Any] = []
        self.error: Exception | None = None
        tensors = [getattr(v, "value", None) for v in model.trainable_variables]
        tensors = [t for t in tensors if getattr(t, "requires_grad", False) and hasattr(t, "register_post_accumulate_grad_hook")]
        if not tensors:
            return
        p = min(tensors, key=lambda t: t.numel())  # the cheapest to check (an output bias)
        self._p = p
        self._handles = [p.register_hook(self._before), p.register_post_accumulate_grad_hook(self._after)]

    @property
    def active(self) -> bool:
        return bool(self._handles)

    def _before(self, grad: Any) -> None:
        try:
            g = self._p.grad
            self._pre = g is not None and bool(g.detach().abs().sum() != 0)
        except Exception as e:  # noqa: BLE001 - never break training
            self.error = e
            self.remove()

    def _after(self, param: Any) -> None:
        try:
            pre, self._pre = self._pre, None
            if pre is None:
                return
            if self._first and not pre:  # the first backward has no step before it
                self._first = False
                return
            self._first = False
            if pre:
                self.hits += 1
            else:
                self.clean += 1
            if self.hits + self.clean >= self._limit:
                self.remove()
        except Exception as e:  # noqa: BLE001
            self.error = e
            self.remove()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def fold(self, flags: dict[str, Any]) -> None:
        """Write the verdict into the context's flags (``grad_accumulating``, ``grads_carried_over``)."""
        fold_carry_counts(flags, self.hits, self.clean)
