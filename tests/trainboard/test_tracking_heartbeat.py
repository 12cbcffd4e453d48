"""A script that is alive keeps its run running through its heartbeats; one that died has its run failed.

A real `trainboard api` process whose reaper checks every second and fails an external run silent for 2 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.stack import Stack, running_stack
from trainboard import Client
from trainboard.tracking import TrackedRun

EXTERNAL_TIMEOUT_S = 2.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    env = {"TRAINBOARD_STALE_AFTER_S": "1", "TRAINBOARD_EXTERNAL_TIMEOUT_S": str(EXTERNAL_TIMEOUT_S)}
    with running_stack(tmp_path, workers=0, extra_env=env) as stack:
        yield stack


def test_a_quiet_but_alive_script_keeps_its_run_and_a_dead_one_is_failed(stack: Stack) -> None:
    with Client(stack.url, token="") as client:
        dead = client.create_run({"name": "died without finish()", "external": True})  # it never beats
        created = client.create_run({"name": "thinking hard", "external": True})
        # The default beat is every 10 s against a 180 s timeout: here 0.3 s against 2 s.
        sender = Client(stack.url, token="", lease=created.get("lease"))
        run = TrackedRun(sender, created, heartbeat_every_s=0.3)
        run.log(step=0, loss=1.0)
        deadline = time.monotonic() + 4 * EXTERNAL_TIMEOUT_S  # several reaper passes with nothing logged
        while time.monotonic() < deadline:
            assert client.get_run(run.id)["status"] == "running", client.get_run(run.id)["error"]
            time.sleep(0.25)
        failed = client.get_run(dead["id"])
        assert failed["status"] == "failed"
        assert "no heartbeat from the script" in failed["error"]
        run.log(step=1, loss=0.5)
        assert run.finish()["status"] == "succeeded"
