"""The decoded columns, one entry per summary value, that the decoders fill."""

from __future__ import annotations

import numpy as np


class _Out:
    """Columns decoded so far, one entry per summary value."""

    def __init__(self) -> None:
        self.v_rec: list[np.ndarray] = []  # record of each value
        self.v_step: list[np.ndarray] = []  # its event's step and wall time
        self.v_wall: list[np.ndarray] = []
        self.v_pos: list[np.ndarray] = []  # file position of each value (orders them)
        self.tag_pos: list[np.ndarray] = []
        self.tag_len: list[np.ndarray] = []
        self.nval = 0
        self.sc_vi: list[np.ndarray] = []  # scalars: value index, value, from a tensor?
        self.sc_val: list[np.ndarray] = []
        self.sc_tensor: list[bool] = []
        self.plugin_vi: list[np.ndarray] = []  # values whose metadata names a plugin
        self.plugin_name: list[str] = []
        self.meta: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # generic: (vi, pos, len)
        self.tensors: list[
            tuple[np.ndarray, np.ndarray, np.ndarray]
        ] = []  # generic: (vi, pos, len)
        self.hist_vi: list[np.ndarray] = []
        self.hist_stats: list[np.ndarray] = []
        # Records (one entry per summary value) holding a value that does not decode.
        self.bad_rec: list[np.ndarray] = []

    def add_values(self, rec, step, wall, pos, tag_pos, tag_len) -> np.ndarray:
        vi = np.arange(self.nval, self.nval + rec.size)
        self.nval += rec.size
        self.v_rec.append(rec)
        self.v_step.append(step)
        self.v_wall.append(wall)
        self.v_pos.append(pos)
        self.tag_pos.append(tag_pos)
        self.tag_len.append(tag_len)
        return vi
