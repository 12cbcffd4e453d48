"""A run's log: numbered lines in (idempotent batches, bounded per line and per run) and out (from any line on).

The sender numbers the lines (from 0), so a retried batch stores nothing twice and a reader pages by line number.
A line longer than ``LOG_LINE_MAX_CHARS`` is cut there. A run keeps at most ``MAX_LOG_LINES`` lines and
``MAX_LOG_BYTES`` bytes of text: once either is reached, later lines are refused (the reply says so, with
``full``, and the log counts them in ``refused``, which the run page shows); what was stored stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import Run, RunLog, RunLogLine
from backend.services import leases
from backend.services.event_kinds import EventKind, LogEventData
from backend.services.events import append_event, locked_run
from trainboard.limits import LOG_LINE_CUT_MARK, LOG_LINE_MAX_CHARS

MAX_LOG_LINES = 100_000
MAX_LOG_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Stored:
    """What became of a batch: lines stored now, already there, and refused (the log is at its limit)."""

    run: Run
    accepted: int
    duplicates: int
    refused: int
    full: bool


@dataclass(frozen=True)
class Page:
    lines: list[str]
    offset: int
    next_offset: int
    total: int
    refused: int


def clean_line(text: str) -> str:
    """``text`` as stored: cut to ``LOG_LINE_MAX_CHARS``, without NUL (Postgres refuses it in text) and with any
    character UTF-8 cannot carry (a lone surrogate) replaced."""
    if len(text) > LOG_LINE_MAX_CHARS:
        text = text[:LOG_LINE_MAX_CHARS] + LOG_LINE_CUT_MARK
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def add_lines(
    session: Session, *, run_id: int, first_line: int, lines: Sequence[str], lease: str | None
) -> Stored | None:
    """Store the lines numbered ``first_line`` on for the attempt holding ``lease``, even once it reported its
    outcome (``leases.WriteRefused`` for any other); None when the run does not exist. A line already stored
    under its number is kept as it was. The new lines become a ``log`` event (one per stretch of consecutive
    new lines)."""
    with locked_run(session, run_id) as run:
        if run is None:
            return None
        # Unlike points, lines are taken after the attempt reported its outcome: the last thing a failing run
        # printed (its traceback) is often still on its way then. Another attempt's lease is refused all the same.
        leases.check(run, lease)
        size = session.get(RunLog, run_id) or _new_size(session, run_id)
        last = first_line + len(lines)
        present = set(
            session.scalars(
                select(RunLogLine.line).where(
                    RunLogLine.run_id == run_id, RunLogLine.line >= first_line, RunLogLine.line < last
                )
            )
        )
        new: list[tuple[int, str]] = []
        refused = 0
        full = size.refused > 0  # once a line was refused, every later one is: the log keeps no gaps
        for number, raw in enumerate(lines, start=first_line):
            if number in present:
                continue
            text = clean_line(raw)
            cost = len(text.encode())
            if full or size.lines >= MAX_LOG_LINES or size.bytes + cost > MAX_LOG_BYTES:
                full = True
                refused += number >= size.offered  # a retry of a refused line is not counted twice
                continue
            new.append((number, text))
            size.lines += 1
            size.bytes += cost
        just_filled = refused > 0 and size.refused == 0
        size.refused += refused
        size.offered = max(size.offered, last)
        if new:
            _insert(session, run_id=run_id, new=new)
            size.next_line = max(size.next_line, new[-1][0] + 1)
        for event in _events(new, next_line=size.next_line, refused=size.refused if just_filled else None):
            append_event(session, run=run, kind=EventKind.LOG, data=event)
        session.commit()
        full = full or size.lines >= MAX_LOG_LINES
        return Stored(run=run, accepted=len(new), duplicates=len(present), refused=refused, full=full)


def read_lines(session: Session, *, run_id: int, offset: int, limit: int) -> Page:
    """At most ``limit`` lines from line ``offset`` on; a negative offset counts from the end (-1000: the last
    1,000 lines)."""
    size = session.get(RunLog, run_id)
    total = size.next_line if size else 0
    refused = size.refused if size else 0
    if offset < 0:
        offset = max(0, total + offset)
    rows = session.execute(
        select(RunLogLine.line, RunLogLine.text)
        .where(RunLogLine.run_id == run_id, RunLogLine.line >= offset)
        .order_by(RunLogLine.line)
        .limit(limit)
    ).all()
    next_offset = rows[-1][0] + 1 if rows else offset
    return Page(lines=[r[1] for r in rows], offset=offset, next_offset=next_offset, total=total, refused=refused)


def _new_size(session: Session, run_id: int) -> RunLog:
    size = RunLog(run_id=run_id, lines=0, bytes=0, next_line=0, offered=0, refused=0)
    session.add(size)
    return size


def _insert(session: Session, *, run_id: int, new: list[tuple[int, str]]) -> None:
    """Insert the new lines; ON CONFLICT DO NOTHING backs up the check above should two writers ever meet."""
    rows = [{"run_id": run_id, "line": number, "text": text} for number, text in new]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(RunLogLine).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        session.execute(sqlite.insert(RunLogLine).on_conflict_do_nothing(), rows)
    else:
        session.execute(insert(RunLogLine), rows)


def _events(new: list[tuple[int, str]], *, next_line: int, refused: int | None) -> list[LogEventData]:
    """One event per stretch of consecutive new lines; the first says how many lines were refused, when the log
    just reached its limit (an event with no lines, if nothing was new)."""
    events: list[LogEventData] = []
    for number, text in new:
        if events and events[-1]["first_line"] + len(events[-1]["lines"]) == number:
            events[-1]["lines"].append(text)
        else:
            events.append({"first_line": number, "lines": [text]})
    if refused is not None:
        if not events:
            events.append({"first_line": next_line, "lines": []})
        events[-1]["refused"] = refused
    return events
