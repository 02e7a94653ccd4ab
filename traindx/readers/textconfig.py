"""A configuration printed as YAML in training output: settings, not series points.

``print(OmegaConf.to_yaml(cfg))`` (Hydra, Lightning CLI), ``print(yaml.dump(config))`` print the run's
configuration once, before training::

    optim:
      name: adam
      lr: 0.001
    trainer:
      max_epochs: 40

Its ``lr: 0.001`` is the configured learning rate, not a one-point LR series (issue 10:
qa_wild49). A run of ``key: value`` lines is such a configuration when one of its keys heads a
section (``optim:`` over deeper lines) that no split names (``val:`` over ``  loss: 0.50`` is a
block of validation metrics, read as such by :mod:`traindx.readers.textlog`), and when no other
block of the file has the same keys (a nested dict printed every epoch is a series).
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

_LINE = re.compile(r"^(\s*)(?:- )?([A-Za-z_][\w.\-/]*):(?:\s+(\S.*?))?\s*$")
_ITEM = re.compile(r"^\s*- \S")
_SPLIT = re.compile(r"(?i)train(?:ing)?|val(?:id(?:ation)?)?|eval(?:uation)?|test|dev")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _sectioned(block: list[str]) -> bool:
    """Whether a key of ``block`` heads a section (no value, deeper lines after it) no split names."""
    for a, b in zip(block, block[1:], strict=False):
        m = _LINE.match(a)
        if m and m[3] is None and not _SPLIT.fullmatch(m[2]) and _indent(b) > _indent(a):
            return True
    return False


def _once(block: list[str]) -> bool:
    """Whether each top-level key of ``block`` is there once (``epoch: 1`` again is a next record)."""
    top = min(_indent(ln) for ln in block)
    keys = [m[2] for ln in block if _indent(ln) == top and (m := _LINE.match(ln))]
    return len(keys) == len(set(keys))


def config_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """``(start, end)`` line ranges (end excluded) of the printed YAML configurations in ``lines``."""
    blocks: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and (_LINE.match(lines[j]) or (j > i and _ITEM.match(lines[j]))):
            j += 1
        if j - i >= 2 and _sectioned(lines[i:j]) and _once(lines[i:j]):
            blocks.append((i, j))
        i = max(j, i + 1)
    keys = [tuple(m[2] for ln in lines[a:b] if (m := _LINE.match(ln))) for a, b in blocks]
    return [blk for blk, k in zip(blocks, keys, strict=True) if keys.count(k) == 1]


def split_config(text: str) -> tuple[str, dict[str, Any]]:
    """``text`` with its printed configurations blanked (line numbers kept), and their settings
    as flattened names (``optim.lr``; :func:`traindx.readers.hparams.flatten`)."""
    lines = text.split("\n")
    blocks = config_blocks(lines)
    if not blocks:
        return text, {}
    import yaml

    from traindx.readers.hparams import flatten

    settings: dict[str, Any] = {}
    for a, b in blocks:
        try:
            doc = yaml.safe_load(textwrap.dedent("\n".join(lines[a:b])))
        except yaml.YAMLError:
            doc = None
        if isinstance(doc, dict):
            settings.update(flatten(doc))
        lines[a:b] = [""] * (b - a)
    return "\n".join(lines), settings
