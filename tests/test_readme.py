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


def test_readme_adapter_snippets_import_what_exists():
    """Every name a README code block imports from traindx exists there (the adapters are
    attached as the README says, so a renamed entry point must not leave it stale)."""
    import importlib

    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    found = []
    for block in blocks:
        for mod, names in re.findall(r"^from (traindx[\w.]*) import ([\w, ]+)", block, re.M):
            module = importlib.import_module(mod)
            for name in (n.strip() for n in names.split(",")):
                assert hasattr(module, name), f"README imports {name} from {mod}, which has no such name"
                found.append(f"{mod}.{name}")
    for entry in ("traindx.adapters.torch.Monitor", "traindx.adapters.keras.DiagnosisCallback",
                  "traindx.adapters.jax.Recorder", "traindx.adapters.jax.telemetry_jit"):
        assert entry in found, f"README shows no snippet importing {entry}"
