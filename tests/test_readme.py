"""The README's two commands stay true: the fixture it diagnoses exists, CI runs the same."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_diagnose_command_names_a_shipped_fixture():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"traindx diagnose (fixtures/\S+)", text)
    assert m, "README must show a diagnose command on a shipped fixture"
    assert (ROOT / m.group(1)).is_dir(), m.group(1)


def test_readme_test_command_is_ci_script():
    assert "bash .ci/run" in (ROOT / "README.md").read_text()
    assert "pytest" in (ROOT / ".ci" / "run").read_text()
