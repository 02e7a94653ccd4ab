import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# The rulebook cache of a test session lives in a temporary directory, not the user's.
os.environ.setdefault("TRAINDX_CACHE_DIR", tempfile.mkdtemp(prefix="traindx-test-cache-"))
