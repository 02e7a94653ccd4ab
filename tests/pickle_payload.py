"""A pickle that runs code when loaded: the history readers' restricted unpicklers must refuse it unrun."""

from __future__ import annotations

from pathlib import Path


class Payload:
    """Unpickling this would create a file: the reader must refuse before that."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))
