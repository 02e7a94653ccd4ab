import numpy as np
import pytest

from traindx.schema import Run, Series, SeriesKey


@pytest.mark.parametrize(
    "text",
    ["train/loss", "val/loss", "train/grad_norm@fc1.weight", "train/act_frac_zero@conv1:mean", "test/accuracy"],
)
def test_key_round_trip(text):
    assert str(SeriesKey.parse(text)) == text


def test_series_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="lengths must match"):
        Series(key=SeriesKey(metric="loss"), steps=np.arange(3), values=np.zeros(4))


def test_series_rejects_unsorted_steps():
    with pytest.raises(ValueError, match="strictly increasing"):
        Series(key=SeriesKey(metric="loss"), steps=np.array([0, 2, 1]), values=np.zeros(3))


@pytest.mark.parametrize("make", [Series, Series.checked])
def test_checked_series_is_the_validated_one(make):
    """``Series.checked`` (the readers' constructor, no validator built) checks and converts
    the arrays as validation does, and gives an equal series."""
    key = SeriesKey(metric="loss")
    with pytest.raises(ValueError, match="lengths must match"):
        make(key=key, steps=np.arange(3), values=np.zeros(4))
    with pytest.raises(ValueError, match="strictly increasing"):
        make(key=key, steps=np.array([0, 2, 1]), values=np.zeros(3))
    s = make(key=key, steps=np.array([0, 5], dtype=np.int32), values=np.array([1, 2], dtype=np.int8), unit="epoch")
    assert s.steps.dtype == np.int64 and s.values.dtype == np.float64 and s.unit == "epoch"
    v = Series(key=key, steps=np.array([0, 5]), values=np.array([1.0, 2.0]), unit="epoch")
    assert s.model_dump_json() == v.model_dump_json() and s.model_fields_set == v.model_fields_set


def test_resumed_run_later_points_supersede_earlier():
    # written 0..9, then the run resumed from a checkpoint at step 5 and wrote 5..12
    steps = list(range(10)) + list(range(5, 13))
    values = [1.0] * 10 + [2.0] * 8
    s = Series.from_raw(SeriesKey(metric="loss"), steps, values)
    assert s.steps.tolist() == list(range(13))
    assert s.values.tolist() == [1.0] * 5 + [2.0] * 8
    assert s.superseded == 5


def test_repeated_step_keeps_last_write():
    s = Series.from_raw(SeriesKey(metric="loss"), [0, 1, 1, 2], [1.0, 2.0, 3.0, 4.0])
    assert s.steps.tolist() == [0, 1, 2] and s.values.tolist() == [1.0, 3.0, 4.0]


def test_run_add_merges_same_key():
    run = Run(id="r")
    k = SeriesKey(metric="loss")
    run.add(Series(key=k, steps=np.array([0, 1]), values=np.array([1.0, 2.0])))
    run.add(Series(key=k, steps=np.array([2, 3]), values=np.array([3.0, 4.0])))
    assert run.get("loss").values.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_nonfinite_serialized_as_null():
    s = Series(key=SeriesKey(metric="loss"), steps=np.arange(2), values=np.array([1.0, np.nan]))
    assert '"values":[1.0,null]' in s.model_dump_json()


def test_running_median_matches_scipy():
    from scipy.ndimage import median_filter

    from traindx.signals.robust import running_median

    rng = np.random.default_rng(0)
    for n, w in [(10, 3), (101, 7), (1999, 133), (200_000, 51)]:
        y = rng.standard_normal(n)
        assert np.allclose(running_median(y, w), median_filter(y, size=w, mode="mirror"))


def test_cli_import_stays_light():
    import subprocess
    import sys

    code = "import sys, traindx.api, traindx.engine; print(sorted(m for m in ('prompt_toolkit', 'scipy.ndimage', 'torch', 'tensorflow', 'jax', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
