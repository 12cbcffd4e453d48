"""The frontend's pure helpers under Node's own test runner (`node --test tests/frontend/`, also `make test-js`).

Skipped where Node.js is not installed (the dashboard needs none); the browser tests cover the same modules drawn."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_node_helper_tests_pass() -> None:
    files = sorted(str(path) for path in HERE.glob("*.test.mjs"))
    assert files, "no *.test.mjs beside this file"
    done = subprocess.run(["node", "--test", *files], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
