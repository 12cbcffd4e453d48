"""The min and max of every block of ``ROLLUP_WIDTHS`` steps, with the steps where they occur, kept by each insert
so that a downsampled read of a long series is assembled from about a thousand rows instead of every point."""

from __future__ import annotations

import typing
from bisect import bisect_left
from collections.abc import Iterator
from itertools import pairwise
from typing import TypeVar

from sqlalchemy import Table, and_, case, or_
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from backend.models import ROLLUP_WIDTHS, MetricRollup
from backend.schemas import Points
from backend.services.metrics.driver_sql import driver_cursor, executemany
from backend.services.metrics.pg_arrays import FLOAT8, INT4, INT8, Packed, packed, packed_texts, packing

Extremes = tuple[float | None, int, float | None, int]  # vmin, its step, vmax, its step
Block = tuple[int, Extremes]  # how many points, and their extremes
Where = TypeVar("Where")


def fold(old: Extremes, new: Extremes) -> Extremes:
    """The extremes of two sets of points from their own: the lower min and the higher max, the earlier step on a
    tie; NULL values lose to any number, and a set of NULLs only is at its first step (as the reads rank them).

    A point is the set of one: ``(value, step, value, step)``. The rollup upsert does the same in SQL.
    """
    vmin, smin, vmax, smax = old
    nmin, nsmin, nmax, nsmax = new
    if nmin is None:
        if vmin is None and nsmin < smin:
            smin = nsmin
    elif vmin is None or nmin < vmin or (nmin == vmin and nsmin < smin):
        vmin, smin = nmin, nsmin
    if nmax is None:
        if vmax is None and nsmax < smax:
            smax = nsmax
    elif vmax is None or nmax > vmax or (nmax == vmax and nsmax < smax):
        vmax, smax = nmax, nsmax
    return vmin, smin, vmax, smax


def merge(found: dict[Where, Extremes], where: Where, extremes: Extremes) -> None:
    """Fold ``extremes`` into ``found[where]``, which starts as the first extremes it gets."""
    old = found.get(where)
    found[where] = extremes if old is None else fold(old, extremes)


def update_rollups(session: Session, *, run_id: int, points: Points) -> None:
    """Fold newly stored points (per key, steps ascending) into their blocks' min and max (and the steps where
    those occur), every level: one upsert for all of them, which folds each block into its stored row the same way
    (``fold``); on Postgres the function ``trainboard_fold_rollups`` (revision 0015), on SQLite an executemany (a
    statement per row costs SQLite no round trip)."""
    if not points:
        return
    rows = rollup_rows(points)
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        keys = list(points)
        with driver_cursor(session) as cursor:
            packing(cursor).execute(FOLD_ROLLUPS_CALL, (run_id, packed_texts(keys), *rollup_columns(rows, keys)))
        return
    params = [
        {"run_id": run_id, "key": key, "width": width, "bucket": bucket, "n": n, "vmin": vmin, "step_min": smin,
         "vmax": vmax, "step_max": smax}
        for key, width, bucket, n, (vmin, smin, vmax, smax) in rows
    ]  # fmt: skip
    executemany(session, _rollup_upsert(dialect), params)


FOLD_ROLLUPS_CALL = "SELECT trainboard_fold_rollups(%s, %b, %b, %b, %b, %b, %b, %b, %b, %b)"
Row = tuple[str, int, int, int, Extremes]  # key, width, bucket, how many points, their extremes


def rollup_rows(points: Points) -> list[Row]:
    """The blocks of every level that new points (per key, steps ascending) fall in, with their extremes. The
    finest level's blocks come from the points, each coarser level's from the finer blocks."""
    finest = ROLLUP_WIDTHS[0]
    level = _finest_blocks(points, finest)
    rows = [(key, finest, bucket, n, extremes) for (key, bucket), (n, extremes) in level.items()]
    for width, coarser in pairwise(ROLLUP_WIDTHS):
        parents: dict[tuple[str, int], Block] = {}
        for (key, bucket), (n, extremes) in level.items():
            _add(parents, (key, bucket * width // coarser), n, extremes)
        level = parents
        rows += [(key, coarser, bucket, n, extremes) for (key, bucket), (n, extremes) in level.items()]
    return rows


def rollup_columns(rows: list[Row], keys: list[str]) -> list[Packed]:
    """The rows as ``trainboard_fold_rollups`` takes them after the run and ``keys``: one array per column, each
    row's key as its 1-based place in ``keys``."""
    place = {key: i for i, key in enumerate(keys, 1)}
    key, width, bucket, n, extremes = zip(*rows, strict=True)
    vmin, step_min, vmax, step_max = zip(*extremes, strict=True)
    return [packed(INT4, [place[k] for k in key]), packed(INT4, list(width)), packed(INT8, list(bucket)),
            packed(INT4, list(n)), packed(FLOAT8, list(vmin)), packed(FLOAT8, list(vmax)),
            packed(INT8, list(step_min)), packed(INT8, list(step_max))]  # fmt: skip


def _finest_blocks(points: Points, width: int) -> dict[tuple[str, int], Block]:
    """The points' blocks of ``width`` steps, each with its extremes as ``fold`` would find them point by point:
    the lowest value at its earliest step, the highest at its earliest step, NULLs only where no value is a number
    (then both at the block's first step). Steps ascend, so a block is a slice, and ``min``, ``max`` and ``index``
    (the first, so the earliest step, of a value) run over each slice at once."""
    blocks: dict[tuple[str, int], Block] = {}
    for key, (steps, values) in points.items():
        for lo, hi in ranges_by_block(steps, width):
            block, at = values[lo:hi], steps[lo:hi]
            if None in block:
                at = [step for value, step in zip(block, at, strict=True) if value is not None]
                block = [value for value in block if value is not None]
            numbers = typing.cast(list[float], block)  # no None left
            if numbers:
                vmin, vmax = min(numbers), max(numbers)
                extremes: Extremes = (vmin, at[numbers.index(vmin)], vmax, at[numbers.index(vmax)])
            else:
                extremes = (None, steps[lo], None, steps[lo])
            blocks[key, steps[lo] // width] = (hi - lo, extremes)
    return blocks


def ranges_by_block(steps: list[int], width: int) -> Iterator[tuple[int, int]]:
    """The (start, end) index ranges of ascending ``steps`` that fall in one block of ``width`` steps (steps
    ``k * width`` to ``(k + 1) * width - 1``): a rollup's bucket, or with ``BLOCK_STEPS`` a storage window."""
    lo = 0
    while lo < len(steps):
        hi = bisect_left(steps, (steps[lo] // width + 1) * width, lo)
        yield lo, hi
        lo = hi


def _add(blocks: dict[tuple[str, int], Block], where: tuple[str, int], n: int, extremes: Extremes) -> None:
    found = blocks.get(where)
    blocks[where] = (n, extremes) if found is None else (found[0] + n, fold(found[1], extremes))


_compiled_upserts: dict[tuple[str, str], SQLCompiler] = {}


def _rollup_upsert(dialect: Dialect) -> SQLCompiler:
    """SQLite's rollup upsert, compiled once per driver (SQLAlchemy's executemany cost more than the rows did)."""
    cache_key = (dialect.driver, dialect.paramstyle)
    if cache_key not in _compiled_upserts:
        _compiled_upserts[cache_key] = _build_rollup_upsert(dialect)
    return _compiled_upserts[cache_key]


def _build_rollup_upsert(dialect: Dialect) -> SQLCompiler:
    table: Table = MetricRollup.__table__  # type: ignore[assignment]
    stmt = sqlite.insert(table)
    new, old = stmt.excluded, table.c
    # fold() in SQL. A NULL comparison is not true, so a NULL new value never replaces a number.
    lower = or_(
        new.vmin < old.vmin,
        and_(new.vmin == old.vmin, new.step_min < old.step_min),
        and_(old.vmin.is_(None), or_(new.vmin.is_not(None), new.step_min < old.step_min)),
    )
    higher = or_(
        new.vmax > old.vmax,
        and_(new.vmax == old.vmax, new.step_max < old.step_max),
        and_(old.vmax.is_(None), or_(new.vmax.is_not(None), new.step_max < old.step_max)),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[old.run_id, old.key, old.width, old.bucket],
        set_={
            "n": old.n + new.n,
            "vmin": case((lower, new.vmin), else_=old.vmin),
            "step_min": case((lower, new.step_min), else_=old.step_min),
            "vmax": case((higher, new.vmax), else_=old.vmax),
            "step_max": case((higher, new.step_max), else_=old.step_max),
        },
    )
    compiled = stmt.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled
