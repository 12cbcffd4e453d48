"""The arrays a Postgres block is written with, encoded by hand: byte for byte what Postgres itself sends."""

from __future__ import annotations

import psycopg
import pytest

from backend.services.metrics.ingest import FLOAT8, INT8, binary_array

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    ("items", "sql_type", "element"),
    [
        ([0, 7, 2**62], "int8[]", INT8),
        ([1.5, -0.0, 1e-300, 3.141592653589793], "float8[]", FLOAT8),
        ([None, 2.5, None], "float8[]", FLOAT8),  # NaN and infinities are stored as NULL
    ],
)
def test_an_array_is_what_postgres_sends_for_it(
    postgres_url: str, items: list[float | None], sql_type: str, element: tuple[int, str]
) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        cursor = conn.execute(f"SELECT %s::{sql_type}", (items,), binary=True)
        assert cursor.pgresult is not None
        assert cursor.pgresult.get_value(0, 0) == binary_array(element, items)
