"""Engine and sessions, and on Postgres the ingestion's pool of asyncio connections. Alembic owns the schema; the
app never calls create_all."""

from __future__ import annotations

import time
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# A pooled connection given back less than this long ago is taken without a ping (a round trip, 6 % of a 1,000-point
# POST on Postgres, docs/BENCHMARKS.md §1); one idle longer is pinged first, and replaced if the server dropped it.
PING_AFTER_IDLE_S = 1.0


def make_engine(url: str) -> Engine:
    """An engine tuned for the embedded SQLite file (WAL, waits on locks) or for a server database."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for connections idle ``PING_AFTER_IDLE_S`` or more only. A connection the
    server dropped within that second (a restart) fails its request once; the failure invalidates the whole pool,
    so the next requests connect afresh (docs/RELIABILITY.md)."""

    @event.listens_for(engine, "checkin")
    def _given_back(_dbapi_connection: Any, record: Any) -> None:
        record.info["given_back"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("given_back", float("-inf")) < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(f"the database dropped an idle connection: {error}") from error


INGEST_WAIT_S = 2.0  # a request waits this long for an ingestion connection, then its batch takes a thread


def make_ingest_pool(url: str, size: int) -> AsyncConnectionPool[Any] | None:
    """On Postgres, a pool of up to ``size`` asyncio connections in autocommit mode for
    ``POST /runs/{id}/metrics`` (``ingest.add_points_from_loop``), not yet open (``await pool.open()`` on the
    app's event loop); None on SQLite, or when ``size`` is 0. A connection idle ``PING_AFTER_IDLE_S`` or more is
    pinged first, and replaced if the server dropped it, as the engine's are. A request waits at most
    ``INGEST_WAIT_S`` for a connection (all busy, or the server away), then ``PoolTimeout``."""
    if url.startswith("sqlite") or size == 0:
        return None
    given_back: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = weakref.WeakKeyDictionary()

    async def ping_when_idle(connection: AsyncConnection[Any]) -> None:
        if time.monotonic() - given_back.get(connection, float("-inf")) >= PING_AFTER_IDLE_S:
            await connection.execute("")  # raises when the server dropped it: the pool takes another

    async def note_given_back(connection: AsyncConnection[Any]) -> None:
        given_back[connection] = time.monotonic()

    return AsyncConnectionPool(
        libpq_url(url),
        min_size=1,
        max_size=size,
        timeout=INGEST_WAIT_S,
        kwargs={"autocommit": True},
        check=ping_when_idle,
        reset=note_given_back,
        open=False,
        name="ingest",
    )


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as libpq takes it, password included."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (creating the SQLite file if needed)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
    if url.startswith("sqlite:///"):
        incremental_auto_vacuum(url)


# PRAGMA auto_vacuum's value for INCREMENTAL: deleting a run frees pages that ``PRAGMA incremental_vacuum`` (run
# after each delete, backend/services/curation.py) gives back to the disk.
_INCREMENTAL = 2


def incremental_auto_vacuum(url: str) -> None:
    """Put the SQLite file in ``auto_vacuum=INCREMENTAL`` mode; a file made before needs one full VACUUM to switch
    (once: instant for a new file, about a second per few hundred MB for an old one)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() != _INCREMENTAL:
                conn.exec_driver_sql(f"PRAGMA auto_vacuum={_INCREMENTAL}")
                conn.exec_driver_sql("VACUUM")
    finally:
        engine.dispose()


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
