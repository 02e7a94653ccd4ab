"""One row identity (traindx.rowid): the preflight's data check, the Keras callback and the
torch Monitor's forward hook give a row one id, whatever batch it comes in."""

from __future__ import annotations

import numpy as np
import pytest

from traindx.checks import measures as M
from traindx.rowid import int_keys, row_ids, shared_frac

RNG = np.random.default_rng(0)
X = RNG.standard_normal((200, 3, 4)).astype(np.float32)


def test_a_row_has_one_id_in_any_batch_and_order():
    ids = row_ids(X)
    assert len(set(ids)) == len(X)
    assert row_ids(X[17:23]) == ids[17:23]
    assert row_ids(X[::-1]) == ids[::-1]
    assert row_ids(X.reshape(len(X), -1)) == ids  # a row is its values in order, whatever its shape
    assert all(isinstance(k, int) and -(2**63) <= k < 2**63 for k in ids)


def test_other_values_or_order_are_another_row():
    y = X.copy()
    y[3, 0, [0, 1]] = y[3, 0, [1, 0]]  # the same values in another order
    y[4, 2, 3] = np.nextafter(y[4, 2, 3], np.float32(np.inf))  # one ulp
    ids, other = row_ids(X), row_ids(y)
    assert other[3] != ids[3] and other[4] != ids[4] and other[5:] == ids[5:]
    assert len(set(row_ids(np.eye(64, dtype=np.uint8)))) == 64  # one byte set in each row


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, bool])
def test_every_numeric_dtype_is_read_as_its_bytes(dtype):
    a = (RNG.standard_normal((50, 7)) * 3).astype(dtype)
    ids = row_ids(a)
    assert row_ids(a[10:20]) == ids[10:20]
    assert ids == int_keys(np.ascontiguousarray(a).view({1: np.uint8, 2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]))


def test_other_dtypes_get_a_digest():
    s = np.array([["a", "b"], ["a", "c"], ["a", "b"]])
    ids = row_ids(s)
    assert ids[0] == ids[2] != ids[1]
    o = np.array([["x", 1], ["x", 2], ["x", 1]], dtype=object)
    assert row_ids(o)[0] == row_ids(o)[2] != row_ids(o)[1]


def test_shared_frac_compares_values_within_the_training_dtype():
    train, val = X[:150], X[100:]  # 50 of the 100 validation rows are training rows
    assert shared_frac(train, val) == 0.5
    assert shared_frac(train, val.astype(np.float64)) == 0.5  # a float64 copy: the same rows
    assert shared_frac(train, X[150:]) == 0.0
    assert shared_frac(train, X[:0]) is None and shared_frac(train, X[:, :2]) is None


def test_the_preflight_data_check_reads_the_same_share():
    x2 = X.reshape(len(X), -1)
    facts, line = M.data(x2[:150], None, None, x2[100:].astype(np.float64))
    assert facts["val_shared_frac"] == 0.5 and "50% of validation rows also in training" in line
    facts, _ = M.data(x2[:150], None, None, x2[150:])
    assert facts["val_shared_frac"] == 0.0
    # (the Keras callback's share, traindx.adapters._keras_leak, is shared_frac too: its
    # end-to-end test is tests/test_adapter_keras.py's leak runs)



def test_shared_frac_leaves_out_rows_common_within_the_training_set():
    """An all-zero row that 40 training rows hold is a degenerate duplicate, not a leaked sample
    (qa_real37); rows oversampled x8 before the split still count."""
    from traindx.rowid import COMMON_COPIES

    tr = RNG.standard_normal((400, 6)).astype(np.float32)
    tr[::10] = 0.0
    va = RNG.standard_normal((100, 6)).astype(np.float32)
    va[::10] = 0.0
    va[1:6] = tr[1:6]
    assert shared_frac(tr, va) == pytest.approx(5 / 90)
    over = np.concatenate([tr[1:2]] * 8 + [tr])  # a sample copied 8 times
    assert 9 <= COMMON_COPIES and shared_frac(over, tr[1:2]) == 1.0
    assert shared_frac(tr, np.zeros((3, 6), np.float32)) is None  # nothing but common rows
    residue = np.where(np.arange(6) % 2, 0.0, 0.03).astype(np.float32)[None].repeat(3, 0)
    val = np.concatenate([residue, tr[1:2], va[11:12]])  # 3 residue rows, a leaked sample, a new one
    assert shared_frac(np.concatenate([tr, residue[:1]]), val) == 0.5  # the two-valued rows left out
