"""`python tests/utils/fake_gpus.py worker …`: the `trainboard` CLI on a machine whose torch sees ``FAKE_GPUS``
CUDA GPUs. Only the hardware query is faked (how many GPUs, their names): the worker's scheduling of them, the
threads, the claims and the command processes with their ``CUDA_VISIBLE_DEVICES`` are the real ones. A command run's
process never touches a GPU in these tests, so a CPU machine can check which GPUs each run is given."""

from __future__ import annotations

import os
import sys

from trainboard import cli
from worker import gpus

COUNT = int(os.environ["FAKE_GPUS"])


def _devices() -> tuple[list[str], list[str]]:
    return ["cpu", "cuda"], [f"Fake GPU {index}" for index in range(COUNT)]


cli._cuda_available = lambda: True  # type: ignore[assignment]
cli._cuda_device_count = lambda: COUNT  # type: ignore[assignment]
gpus.detect_devices = _devices

if __name__ == "__main__":
    sys.exit(cli.main())
