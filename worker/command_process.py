"""A command run's process: started in its own process group with no shell, its stdout and stderr read line by
line (each line handed on, stderr's last lines kept for the error), stopped with SIGTERM to the group and SIGKILL
after a grace period. It also gets SIGTERM when the worker dies, however it dies (Linux), so a killed worker leaves
no script behind writing to a run that has been re-queued."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from trainboard.lifecycle import die_with_parent
from trainboard.output_capture import last_state

STDERR_TAIL_LINES = 20


class CommandProcess:
    """``argv`` running in ``cwd``; ``on_line(stream, line)`` gets each line ("stdout" or "stderr") from a thread."""

    def __init__(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], on_line: Callable[[str, str], None]
    ) -> None:
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._on_line = on_line
        self.process = subprocess.Popen(  # noqa: S603 - the user's own command, by design, without a shell
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a signal to the group reaches what it starts too
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl and a getppid check
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, "stderr"), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the process ended within ``timeout`` (its output all read), else None."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for reader in self._readers:
            reader.join(5.0)  # a grandchild holding the pipes open must not hold the run
        return code

    def stop(self, grace_s: float) -> int:
        """SIGTERM to the process group, SIGKILL to it ``grace_s`` later if the process is still there."""
        self._signal(signal.SIGTERM)
        code = self.wait(grace_s)
        if code is None:
            self._signal(signal.SIGKILL)
            code = self.wait()
        assert code is not None
        return code

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, sig)

    def _read(self, pipe: IO[bytes], stream: str) -> None:
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = last_state(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                if stream == "stderr":
                    self.stderr_tail.append(line)
                self._on_line(stream, line)
