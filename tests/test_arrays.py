"""traindx.arrays: numpy's set routines without numpy.ma (issue 15), equal to numpy's."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from traindx.arrays import intersect, median, unique

floats = hnp.arrays(np.float64, st.integers(0, 40), elements=st.floats(allow_nan=True, allow_infinity=True, width=64))
ints = hnp.arrays(np.int64, st.integers(0, 40), elements=st.integers(-5, 5))


@given(floats)
def test_unique_floats_as_numpy(a):
    np.testing.assert_array_equal(unique(a), np.unique(a))
    assert unique(a).dtype == a.dtype


@given(ints, ints)
def test_unique_and_intersect_ints_as_numpy(a, b):
    np.testing.assert_array_equal(unique(a), np.unique(a))
    np.testing.assert_array_equal(intersect(a, b), np.intersect1d(a, b))


def test_a_few_nans_count_once():
    got = unique(np.array([np.nan, 1.0, np.nan, 0.0, np.nan]))
    assert got[:2].tolist() == [0.0, 1.0] and got.size == 3 and np.isnan(got[2])


@given(floats)
def test_median_as_numpy(a):
    if not a.size:
        return
    with np.errstate(all="ignore"):  # the same overflow in both (1e308 + 1e308)
        np.testing.assert_array_equal(median(a), np.median(a))
        b, c = a.copy(), a.copy()
        np.testing.assert_array_equal(median(b, overwrite_input=True), np.median(c, overwrite_input=True))


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 9)), elements=st.floats(allow_nan=True, width=64)))
def test_median_along_an_axis_as_numpy(a):
    with np.errstate(all="ignore"):
        for axis in (0, 1, -1):
            np.testing.assert_array_equal(median(a, axis=axis), np.median(a, axis=axis))
        np.testing.assert_array_equal(median(a), np.median(a))


@given(ints)
def test_median_of_integers_as_numpy(a):
    if a.size:
        assert median(a) == np.median(a) and median(a.tolist()) == np.median(a.tolist())


def test_no_plain_np_unique_or_median_left_in_the_package():
    """A plain ``np.unique`` (without ``return_*``) or ``np.median`` imports ``numpy.ma`` (11-25 ms)
    on first use, in a diagnose or an adapter's first step: traindx.arrays gives the same values."""
    import re
    from pathlib import Path

    pkg = Path(__file__).resolve().parents[1] / "traindx"
    plain = re.compile(r"np\.(unique|median)\(")
    found = []
    for f in sorted(pkg.rglob("*.py")):
        if f.name == "arrays.py":
            continue
        for n, line in enumerate(f.read_text().splitlines(), 1):
            m = plain.search(line)
            if m and not (m.group(1) == "unique" and "return_" in line):
                found.append(f"{f.relative_to(pkg)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)
