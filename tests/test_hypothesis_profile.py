"""The suite's hypothesis profile (tests/conftest.py): no per-example deadline, so a slow or
loaded CPU cannot fail a property test on timing alone."""

import time

from hypothesis import given, settings
from hypothesis import strategies as st


def test_the_loaded_profile_has_no_deadline():
    assert settings.default is not None and settings.default.deadline is None


@settings(max_examples=2)
@given(st.integers(0, 3))
def test_an_example_slower_than_hypothesis_default_deadline_passes(n):
    time.sleep(0.25)  # hypothesis's own default deadline is 200 ms
    assert 0 <= n <= 3
