"""Engine and sessions. Alembic owns the schema; the app never calls create_all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


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
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


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
