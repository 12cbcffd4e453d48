"""The backend must never import torch: the API image ships without it."""

from __future__ import annotations

import subprocess
import sys


def test_backend_app_does_not_import_torch() -> None:
    code = (
        "import sys; from backend.main import create_app; import trainboard.cli, worker.celery_app; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
