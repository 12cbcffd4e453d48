"""What the tests need from the machine (PostgreSQL, Redis, Chromium, programs): a friendly skip on a developer's
machine, a failure with the reason in CI, where `.ci/run` exports TRAINBOARD_TEST_STRICT=1.

Only a service that is not there is "missing": one that answers and then refuses (bad credentials, a database
that does not exist) raises its own error, whatever the flag says.
"""

from __future__ import annotations

import os
import shutil
import socket
from typing import NoReturn

import pytest
from sqlalchemy.engine import make_url

STRICT_ENV = "TRAINBOARD_TEST_STRICT"


def strict() -> bool:
    """True where a missing service must fail the run (CI), not skip the tests that need it."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str) -> NoReturn:
    """Skip the test because ``reason`` (something it needs is not there), or fail with it under the strict flag."""
    if strict():
        pytest.fail(f"{reason} [{STRICT_ENV}=1: a missing service is a failure]", pytrace=False)
    pytest.skip(reason)


def listening(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether something accepts TCP connections at host:port (refused, unroutable or silent: False)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_listening(url: str, what: str, default_port: int) -> None:
    """Skip (or fail, strict) unless the server of ``url`` accepts connections; a Unix-socket URL is tried as is."""
    parsed = make_url(url)
    if parsed.host and not parsed.host.startswith("/"):
        port = parsed.port or default_port
        if not listening(parsed.host, port):
            missing(f"{what} not reachable at {parsed.host}:{port} ({url}; .ci/run starts it)")


def require_postgres(url: str) -> None:
    require_listening(url, "PostgreSQL", 5432)


def require_redis(url: str) -> None:
    require_listening(url, "Redis", 6379)


def require_program(name: str, why: str) -> str:
    """The path of program ``name``, or skip (fail, strict) saying ``why`` the tests need it."""
    path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
    if path is None:
        missing(f"{name} is not installed: {why}")
    return path
