"""The arrays the ingestion sends Postgres, encoded by hand: byte for byte what Postgres itself sends, and read back
as the same values when sent as parameters."""

from __future__ import annotations

import psycopg
import pytest

from backend.services.metrics.pg_arrays import (
    FLOAT8,
    INT4,
    INT8,
    Element,
    binary_array,
    binary_text_array,
    packed,
    packed_texts,
    packing,
)

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    ("items", "sql_type", "element"),
    [
        ([0, 7, 2**62], "int8[]", INT8),
        ([1, -2, 2**31 - 1], "int4[]", INT4),
        (list(range(-500, 500)), "int8[]", INT8),
        ([i / 7 - 70 for i in range(1000)], "float8[]", FLOAT8),
        ([None if i % 100 == 0 else i / 3 for i in range(1000)], "float8[]", FLOAT8),
        ([], "int8[]", INT8),
        ([1.5, -0.0, 1e-300, 3.141592653589793], "float8[]", FLOAT8),
        ([None, 2.5, None], "float8[]", FLOAT8),  # NaN and infinities are stored as NULL
    ],
)
def test_an_array_is_what_postgres_sends_for_it(
    postgres_url: str, items: list[float | None], sql_type: str, element: Element
) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        cursor = conn.execute(f"SELECT %s::{sql_type}", (items,), binary=True)
        assert cursor.pgresult is not None
        assert cursor.pgresult.get_value(0, 0) == binary_array(element, items)


def test_text_arrays_are_what_postgres_sends_for_them(postgres_url: str) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for items in (["loss", "valid_acc", "ünïcode/κλειδί", ""], []):
            cursor = conn.execute("SELECT %s::text[]", (items,), binary=True)
            assert cursor.pgresult is not None
            assert cursor.pgresult.get_value(0, 0) == binary_text_array(items)


def test_packed_parameters_arrive_as_their_values(postgres_url: str) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        row = packing(conn.cursor()).execute(
            "SELECT %b, %b, %b, %b, pg_typeof(%b)::text",
            (packed(INT4, [3, 4]), packed(INT8, [2**40]), packed(FLOAT8, [0.5, None]), packed_texts(["a", "b"]),
             packed(INT4, [1])),
        ).fetchone()  # fmt: skip
        assert row == ([3, 4], [2**40], [0.5, None], ["a", "b"], "integer[]")


def test_other_arrays_are_written_as_psycopg_writes_them(postgres_url: str) -> None:
    """Packed parameters change nothing else: a binary COPY of plain lists typed by name still works."""
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TEMP TABLE arrays (steps int8[], vals float8[])")
        with packing(conn.cursor()).copy("COPY arrays FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8[]", "float8[]"])
            copy.write_row(([1, 2], [0.5, None]))
        assert conn.execute("SELECT steps, vals FROM arrays").fetchall() == [([1, 2], [0.5, None])]
