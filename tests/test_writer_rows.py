"""Events built in blocks (issue 15: the flush's cost) are the bytes of events built one at a
time: every step varint length, step 0 (no step field), a negative step, NaN and inf values;
a block handed to the event file in one call writes the same file."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from traindx.adapters._common.writer import RunWriter, encode_rows, encode_scalars

STEPS = [0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**35, 2**56 + 3, 2**62]


@pytest.mark.parametrize("steps", [STEPS, list(range(1200, 1600)), [5, -1, 7], []])
def test_a_block_of_events_is_the_events_one_at_a_time(steps):
    rng = np.random.default_rng(0)
    tags = ("train/loss", "train/grad_norm", "train/lr@pg1")
    walls = [1.7e9 + float(rng.random()) for _ in steps]
    vals = rng.standard_normal((len(steps), 3))
    if steps:
        vals[0, 0], vals[-1, 1], vals[-1, 2] = math.nan, math.inf, -math.inf
    got = encode_rows(steps, walls, tags, vals)
    want = [encode_scalars(w, s, dict(zip(tags, row, strict=True)))
            for s, w, row in zip(steps, walls, vals.astype(np.float32).tolist(), strict=True)]  # fmt: skip
    assert got == want


def test_rows_added_in_one_call_write_the_same_file(tmp_path):
    steps = list(range(300))
    walls = [1.7e9 + i for i in steps]
    vals = np.arange(600, dtype=np.float64).reshape(300, 2)
    files = []
    for name, bulk in (("a", True), ("b", False)):
        w = RunWriter(tmp_path / name)
        assert w._extend is not None
        if not bulk:
            w._extend = None  # the one-event-at-a-time path
        w.add_rows(steps, walls, ("x", "y"), vals)
        w.flush()
        w.close()
        (f,) = (tmp_path / name).glob("events.out.tfevents.*")
        files.append(f.read_bytes())
    # after the file-version record (it holds the writer's own wall time)
    skip = [16 + struct.unpack("<Q", f[:8])[0] for f in files]
    assert skip[0] == skip[1] and files[0][skip[0]:] == files[1][skip[1]:] and len(files[0]) > skip[0] + 300 * 20
