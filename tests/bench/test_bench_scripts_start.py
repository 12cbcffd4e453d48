"""Every benchmark script starts from its documented command (`python bench/NAME.py …`): its imports and its
options parse, so a refactoring elsewhere cannot leave one broken until someone reruns it (bench_scale was, for a
day, after bench_ingest lost the function it imported). The measurements themselves are not run here."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(path for path in (REPO / "bench").glob("*.py") if path.name != "common.py")


def _help(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), "--help"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_every_bench_script_starts_and_says_how_to_use_it() -> None:
    assert len(SCRIPTS) >= 15, [path.name for path in SCRIPTS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(SCRIPTS, pool.map(_help, SCRIPTS), strict=True))
    broken = {path.name: result.stderr[-2000:] for path, result in results.items() if result.returncode != 0}
    assert not broken, broken
    for path, result in results.items():
        assert result.stdout.startswith("usage:"), (path.name, result.stdout[:200])
