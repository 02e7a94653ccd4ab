"""Rewrite one list block of rulebook/calibration.yaml's ``settings:`` in place (the fitted
numbers calibrate.py and healthy_misses.py write), leaving the comments and every other key as
they are: a ``  key:`` line and the ``    - ...`` items under it."""

from __future__ import annotations

import re
from pathlib import Path


def rewrite(path: Path, key: str, block: str) -> None:
    """Replace the ``key:`` block with ``block`` (its own ``  key:`` line included), or add it
    before ``  calibration:`` where the file has none."""
    text = path.read_text()
    pat = re.compile(rf"^  {re.escape(key)}:\n(?:    - .*\n)*", re.M)
    if pat.search(text):
        text = pat.sub(lambda _: block, text)
    else:
        text = text.replace("  calibration:\n", block + "  calibration:\n", 1)
    path.write_text(text)
