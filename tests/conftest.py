import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# The rulebook cache of a test session lives in a temporary directory, not the user's.
os.environ.setdefault("TRAINDX_CACHE_DIR", tempfile.mkdtemp(prefix="traindx-test-cache-"))

# Property tests have no per-example deadline: how long an example takes depends on the CPU and
# its load (a first example that warms imports took 365 ms against hypothesis's default 200 ms
# beside other work, tests/test_confidence.py), and the project times nothing in unit tests.
from hypothesis import settings  # noqa: E402

settings.register_profile("traindx", deadline=None)
settings.load_profile("traindx")
