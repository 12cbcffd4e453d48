"""The notifier's Redis subscription survives messages it cannot read (real Redis, on a private channel)."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
import redis

from backend.services import notifier as notifier_module
from backend.services.notifier import Notifier
from tests.conftest import REDIS_TEST_URL
from tests.utils.services import require_redis


def _redis_or_skip() -> redis.Redis:
    require_redis(REDIS_TEST_URL)  # skipped when nothing listens (failed in CI); any other error is raised
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    client.ping()
    return client


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """A channel prefix of this test's own: pub/sub ignores the db number, and other API processes listen."""
    private = f"trainboard-test-{uuid.uuid4().hex[:8]}:run:"
    monkeypatch.setattr(notifier_module, "CHANNEL_PREFIX", private)
    return private


def test_malformed_messages_are_ignored_without_reconnecting(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    publisher = _redis_or_skip()

    async def scenario() -> bool:
        notifier = Notifier(REDIS_TEST_URL)
        await notifier.start()
        try:
            with notifier.subscribe(7) as waiter:
                await _until_listening(publisher, prefix)
                for channel in (
                    f"{prefix}not-a-number",
                    f"{prefix}",
                    f"{prefix}7x",
                    f"{prefix}".encode() + b"\xff\xfe",
                ):
                    publisher.publish(channel, b"garbage \x00\xff")
                publisher.publish(f"{prefix}7", b"1")
                # A subscription dropped by the garbage pauses 1 s before it comes back: this wake-up would be lost.
                await asyncio.wait_for(waiter.wait(), timeout=0.8)
                return True
        finally:
            await notifier.stop()

    with caplog.at_level(logging.INFO, logger="backend.services.notifier"):
        assert asyncio.run(scenario())
    messages = [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if "subscription lost" in m], messages
    assert len([m for m in messages if "malformed" in m]) == 1, messages


async def _until_listening(publisher: redis.Redis, prefix: str) -> None:
    """Wait until the notifier's pattern subscription is in place (PUBLISH then reaches it)."""
    probe = f"{prefix}999999"
    for _ in range(200):
        if publisher.publish(probe, b"1"):
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the notifier never subscribed")
