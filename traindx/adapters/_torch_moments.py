"""Activation statistics of the torch Monitor as raw moments: a few operations on the device
in the forward hook, the mean, standard deviation and fractions formed on the host at flush."""

from __future__ import annotations

import math

import torch


def activation_moments(a: torch.Tensor, kind: int) -> torch.Tensor:
    """The raw moments of an activation tensor, on its device, in four or five operations
    (the mean, standard deviation and fractions are formed on the host at flush, by
    :func:`from_moments`): its first value ``v0`` (a shift against cancellation when the
    mean dwarfs the spread), the sum and the sum of squares of ``a - v0``, and for
    ``kind`` 1-3 the count of zero (saturated) values. A third of the operations of forming
    them on the device, where each costs microseconds of dispatch on CPU."""
    a = a.detach()
    if a.dtype not in (torch.float32, torch.float64):
        a = a.float()
    v = a.reshape(-1)
    v0 = v[0]
    d = v - v0
    if kind == 0:
        return torch.stack([v0, d.sum(), torch.dot(d, d)])
    if kind == 1:
        cnt = torch.count_nonzero(v)  # non-zero: the fraction zero is 1 - cnt / n
    elif kind == 2:
        cnt = torch.count_nonzero(v.abs() > 0.99)
    else:
        cnt = torch.count_nonzero((v - 0.5).abs() > 0.49)
    return torch.stack([v0, d.sum(), torch.dot(d, d), cnt.to(v.dtype)])


def from_moments(m: list[float], n: int, kind: int) -> list[float]:
    """[mean, std] (+ fraction zero or saturated) from :func:`activation_moments` of ``n`` values."""
    n = max(n, 1)
    md = m[1] / n
    out = [m[0] + md, math.sqrt(max(m[2] / n - md * md, 0.0))]
    if kind:
        out.append(1.0 - m[3] / n if kind == 1 else m[3] / n)
    return out
