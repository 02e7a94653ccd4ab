"""Property-based fuzzing of every reader and the CLI (issue 9, section 8), bounded for CI.

The inputs and the oracle are in ``tests/fuzz_inputs.py``: logs with a known number of
points, in every step order real runs write, maybe damaged. Properties: no exception but
``TraindxError``; an undamaged log loses no point without a count; a log damaged in place
that reads fewer points says so; the CLI exits 0/2 (never 3, never a traceback), its JSON
parses, and no raw escape character reaches the terminal. ``benchmarks/fuzz.py`` runs the
same generators for as long as you like.
"""

from __future__ import annotations

import os
import random

import pytest
from fuzz_inputs import GENERATORS, judge, judge_cli, make, write_tree
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# Deterministic and bounded in CI; HYPOTHESIS_EXAMPLES=2000 explores more locally.
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "40"))
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failure prints its seed at once
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("kind", sorted(GENERATORS))
@BOUNDED
@given(rng=st.randoms(use_true_random=False))
def test_reader_never_crashes_or_loses_points_silently(kind, rng: random.Random, tmp_path_factory):
    case = make(kind, rng)
    verdict, detail = judge(case, tmp_path_factory.mktemp(kind))
    assert verdict == "ok", detail


@settings(BOUNDED, max_examples=max(5, EXAMPLES // 3))
@given(
    rng=st.randoms(use_true_random=False),
    as_json=st.booleans(),
    command=st.sampled_from(["diagnose", "series"]),
)
def test_cli_never_crashes(
    rng: random.Random, as_json: bool, command: str, tmp_path_factory, capsys
):
    root = tmp_path_factory.mktemp("tree") / "root"
    write_tree(rng, root)

    def captured():
        c = capsys.readouterr()
        return c.out, c.err

    verdict, detail = judge_cli(root, as_json, captured, command)
    assert verdict == "ok", detail
