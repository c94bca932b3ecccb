"""Every example runs to the end with a few trials."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(example, tmp_path):
    env = dict(os.environ, SMAC_RS_EXAMPLE_TRIALS="12", SMAC_RS_EXAMPLE_MAX_EPOCHS="9", SMAC_RS_EXAMPLE_WORKERS="2")
    out = subprocess.run([sys.executable, str(example)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "incumbent" in out.stdout or "Pareto front" in out.stdout
    assert any((tmp_path / "smac3_output").rglob("runhistory.json"))


def test_there_are_eight_examples():
    assert len(EXAMPLES) == 8
