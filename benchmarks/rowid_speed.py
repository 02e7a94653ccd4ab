"""CPU time of the row identity (traindx.rowid) against a blake2b digest per row, the method
it replaced in the preflight's data check and the Keras callback (issue 15).

    python benchmarks/rowid_speed.py            # a 128-row batch and a 60,000-row data set
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from traindx.rowid import row_ids  # noqa: E402


def blake2b_rows(x: np.ndarray) -> list[bytes]:
    a = np.ascontiguousarray(x.reshape(len(x), -1))
    return [hashlib.blake2b(r.tobytes(), digest_size=16).digest() for r in a]


def cpu(f, x: np.ndarray, n: int) -> float:
    f(x)
    t0 = time.process_time()
    for _ in range(n):
        f(x)
    return (time.process_time() - t0) / n


def main() -> int:
    rng = np.random.default_rng(0)
    batch = rng.standard_normal((128, 784)).astype(np.float32)
    data = rng.standard_normal((60_000, 784)).astype(np.float32)
    print(f"batch 128 x 784 float32: row_ids {cpu(row_ids, batch, 200) * 1e6:.0f} us, "
          f"blake2b per row {cpu(blake2b_rows, batch, 200) * 1e6:.0f} us (CPU)")  # fmt: skip
    print(f"60,000 x 784 float32: row_ids {cpu(row_ids, data, 3):.3f} s, "
          f"blake2b per row {cpu(blake2b_rows, data, 3):.3f} s (CPU)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
