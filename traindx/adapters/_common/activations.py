"""Per-layer activation statistics kept only from finite samples (issue 10).

Once the weights hold NaN/inf, a layer's activations are NaN, inf or the zeros a ReLU makes of
``-inf``: the fraction of zero outputs then reads as dead units and the fraction in the tails
as saturation, facts the layer does not have. An adapter records facts and never judges, but a
statistic computed from non-finite weights is not the statistic it claims to be, so every
adapter leaves out a layer's ``train/act_*@<layer>`` values at a telemetry sample where

- the weights of that sample are not finite (``train/weight_norm``, when the sample has it), or
- one of the layer's own activation statistics is not finite (a NaN or inf activation makes
  the mean and standard deviation non-finite).

The other values of the sample (weight and gradient norms, the loss) are kept as they are.
"""

from __future__ import annotations

import math

import numpy as np

ACT_PREFIX = "train/act_"
WEIGHT_NORM = "train/weight_norm"


def _layer(tag: str) -> str | None:
    return tag.split("@", 1)[1] if tag.startswith(ACT_PREFIX) and "@" in tag else None


def nonfinite_act_mask(tags: tuple[str, ...] | list[str], mat: np.ndarray) -> np.ndarray:
    """A steps x tags mask: True where a value is an activation statistic of a sample that was
    not finite (its weights or the layer's activations); False everywhere else."""
    mat = np.asarray(mat, dtype=np.float64)
    out = np.zeros(mat.shape, dtype=bool)
    layers: dict[str, list[int]] = {}
    for j, t in enumerate(tags):
        name = _layer(t)
        if name is not None:
            layers.setdefault(name, []).append(j)
    if not layers or not mat.size:
        return out
    base = np.zeros(mat.shape[0], dtype=bool)
    if WEIGHT_NORM in tags:
        base |= ~np.isfinite(mat[:, list(tags).index(WEIGHT_NORM)])
    for cols in layers.values():
        bad = base | ~np.isfinite(mat[:, cols]).all(axis=1)
        out[:, cols] = bad[:, None]
    return out


def finite_activation_values(values: dict[str, float]) -> tuple[dict[str, float], int]:
    """``values`` (one sample) without the activation statistics of layers whose sample was not
    finite, and how many layers were left out."""
    vs = values.values()
    # the common case at a few us, without numpy: every value a finite float (a NaN or an
    # inf makes the sum non-finite; an overflow of the sum alone takes the path below)
    if all(type(v) is float for v in vs) and math.isfinite(sum(vs)):
        return values, 0
    tags = list(values)
    if not any(t.startswith(ACT_PREFIX) for t in tags):
        return values, 0
    row = np.asarray([[values[t] if isinstance(values[t], float | int) else math.nan for t in tags]])
    drop = nonfinite_act_mask(tags, row)[0]
    if not drop.any():
        return values, 0
    layers = {_layer(t) for t, d in zip(tags, drop.tolist(), strict=True) if d}
    return {t: v for t, v, d in zip(tags, values.values(), drop.tolist(), strict=True) if not d}, len(layers)


Block = tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]


def finite_activation_block(steps: np.ndarray, walls: np.ndarray, tags: tuple[str, ...],
                            mat: np.ndarray) -> tuple[list[Block], int]:  # fmt: skip
    """A column block (steps x tags) as blocks without the activation statistics of samples that
    were not finite - the block itself when every sample is finite, else its other columns and
    one block per activation column with only its finite samples' rows - and how many layer
    samples were left out."""
    drop = nonfinite_act_mask(tags, mat)
    if not drop.any():
        return [(steps, walls, tags, mat)], 0
    firsts: dict[str | None, int] = {}
    for j, t in enumerate(tags):
        if t.startswith(ACT_PREFIX):
            firsts.setdefault(_layer(t), j)
    left_out = int(drop[:, np.asarray(list(firsts.values()), dtype=np.intp)].sum())
    keep = [j for j in range(len(tags)) if not drop[:, j].any()]
    out = [(steps, walls, tuple(tags[j] for j in keep), mat[:, keep])] if keep else []
    for j in range(len(tags)):
        rows = ~drop[:, j]
        if drop[:, j].any() and rows.any():
            out.append((steps[rows], walls[rows], (tags[j],), mat[rows][:, [j]]))
    return out, left_out


NOTE = ("activation statistics left out at {n} layer sample(s) whose weights or activations were not "
        "finite (a fraction of zero or saturated outputs computed from NaN/inf is not a fact of the layer)")  # fmt: skip


def note_left_out(notes: list[str], n: int) -> None:
    """Keep one note in ``notes`` counting the layer samples left out so far (``n`` more)."""
    if n <= 0:
        return
    head = NOTE.split("{n}")[0]
    total = n
    for i, old in enumerate(notes):
        if old.startswith(head):
            try:
                total += int(old[len(head):].split(" ", 1)[0])
            except ValueError:
                pass
            notes[i] = NOTE.format(n=total)
            return
    notes.append(NOTE.format(n=total))
