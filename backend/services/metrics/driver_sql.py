"""Statements run on the driver's own cursor, for the ingestion path, where SQLAlchemy's per-row parameter
handling cost more than the database work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler


@contextlib.contextmanager
def driver_cursor(session: Session) -> Iterator[Any]:
    """A DB-API cursor on the session's own connection, so its statements are part of the session's transaction."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


def executemany(session: Session, compiled: SQLCompiler, params: list[dict[str, Any]]) -> None:
    """Run a compiled statement for every parameter dict on the session's own connection (its transaction)."""
    with driver_cursor(session) as cursor:
        if compiled.positiontup is not None:  # SQLite's "?" placeholders
            order = compiled.positiontup
            cursor.executemany(compiled.string, [tuple(p[name] for name in order) for p in params])
        else:  # psycopg's %(name)s placeholders
            cursor.executemany(compiled.string, params)
