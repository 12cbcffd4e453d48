"""A Postgres connection the server dropped (a restart, an administrator) is replaced: found by a ping when it has
sat idle in the pool, or by the one request that meets it within a second of its last use."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from backend import db

pytestmark = pytest.mark.postgres


def _drop_connection(url: str, pid: int) -> None:
    """End the server process behind a pooled connection, as a server restart would."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        for _ in range(100):  # it ends asynchronously
            with admin.connect() as conn:
                if not conn.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).all():
                    return
            time.sleep(0.01)
    finally:
        admin.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_dropped_idle_connection_is_pinged_and_replaced(
    migrated_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.3)
    engine = db.make_engine(migrated_postgres)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first, "the pool gives the same connection back"
        _drop_connection(migrated_postgres, first)
        time.sleep(0.4)
        assert _backend_pid(engine) != first, "a new connection, without an error"
    finally:
        engine.dispose()


def test_connections_dropped_within_a_second_of_their_use_fail_one_request_only(migrated_postgres: str) -> None:
    engine = db.make_engine(migrated_postgres)
    try:
        with engine.connect() as a, engine.connect() as b, engine.connect() as c:  # three pooled connections
            dropped = {int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()) for conn in (a, b, c)}
        for pid in dropped:
            _drop_connection(migrated_postgres, pid)
        failures = 0
        pids = []
        for _ in range(4):
            try:
                pids.append(_backend_pid(engine))
            except OperationalError:
                failures += 1
        assert failures <= 1, "the first failure discards every pooled connection"
        assert len(pids) >= 3 and not dropped & set(pids)
    finally:
        engine.dispose()
