"""Wakes live streams when a run gets new events: in-process, or through Redis pub/sub across API replicas.

The database stays the source of truth; a wake-up only tells a stream to read what is new, so a lost
notification costs latency (streams also re-read on a short timer), never data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator

import redis
import redis.asyncio as aioredis

logger = logging.getLogger(__name__)
CHANNEL_PREFIX = "trainboard:run:"


class Notifier:
    def __init__(self, redis_url: str | None = None) -> None:
        self._waiters: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis_url = redis_url
        # Publishing runs in request threads: while Redis is away it must fail fast, not hold a metrics POST.
        self._publisher = (
            redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2) if redis_url else None
        )
        self._loop_publisher: aioredis.Redis | None = None  # for ``publish_from_loop``, made on the loop
        self._listener: asyncio.Task[None] | None = None
        self._warned_malformed = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._redis_url:
            self._loop_publisher = aioredis.Redis.from_url(self._redis_url, socket_connect_timeout=2, socket_timeout=2)
            self._listener = asyncio.create_task(self._listen(self._redis_url))

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._loop_publisher is not None:
            await self._loop_publisher.aclose()

    def publish(self, run_id: int) -> None:
        """Called from any thread after a commit that added events to ``run_id``."""
        if self._publisher is not None:
            try:
                self._publisher.publish(f"{CHANNEL_PREFIX}{run_id}", b"1")
            except redis.RedisError as exc:
                logger.warning("redis publish failed, falling back to local wake-up: %s", exc)
        self._wake_local(run_id)

    async def publish_from_loop(self, run_id: int) -> None:
        """``publish``, awaited on the event loop (started), which a Redis round trip must not block."""
        if self._loop_publisher is not None:
            try:
                await self._loop_publisher.publish(f"{CHANNEL_PREFIX}{run_id}", b"1")
            except redis.RedisError as exc:
                logger.warning("redis publish failed, falling back to local wake-up: %s", exc)
        self._set_all(run_id)

    def _wake_local(self, run_id: int) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._set_all, run_id)

    def _set_all(self, run_id: int) -> None:
        for waiter in self._waiters.get(run_id, ()):
            waiter.set()

    @contextlib.contextmanager
    def subscribe(self, run_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever ``run_id`` gets news. Clear it *before* reading, so no wake-up falls between."""
        waiter = asyncio.Event()
        self._waiters[run_id].add(waiter)
        try:
            yield waiter
        finally:
            self._waiters[run_id].discard(waiter)
            if not self._waiters[run_id]:
                del self._waiters[run_id]

    def _run_id_of(self, channel: bytes) -> int | None:
        """The run a channel names; None for anything else. Anyone who can reach Redis can publish there, and
        one bad message must not drop the subscription (streams would miss wake-ups while it reconnects)."""
        try:
            return int(channel.decode("ascii").removeprefix(CHANNEL_PREFIX))
        except ValueError:  # UnicodeDecodeError is a ValueError too
            if not self._warned_malformed:
                logger.warning("ignoring malformed pub/sub message on %r (logged once)", channel[:200])
                self._warned_malformed = True
            return None

    async def _listen(self, url: str) -> None:
        """Relay other replicas' notifications; reconnects by itself when Redis restarts (after a pause of 1 s
        per failed try), then wakes every stream once: what other replicas stored meanwhile goes out now."""
        lost = False
        while True:
            client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_keepalive=True)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                    if lost:
                        logger.info("redis subscription restored")
                        for run_id in list(self._waiters):
                            self._set_all(run_id)
                        lost = False
                    async for message in pubsub.listen():
                        if message.get("type") != "pmessage":
                            continue
                        named = self._run_id_of(message["channel"])
                        if named is not None:
                            self._set_all(named)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any Redis outage: retry after a pause
                if not lost:
                    logger.warning("redis subscription lost (%s); retrying every second", exc)
                lost = True
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()
