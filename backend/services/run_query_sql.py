"""What a runs query's terms and sort keys mean in SQL: the runs' columns, and dotted paths into their ``config``
and ``summary`` JSON, read by the database itself (SQLite's json_type/json_extract, Postgres's json #> and #>>).

A comparison on a key a run lacks, or whose value is of another kind (a text where a number is compared), is
false, never NULL: ``not`` then reads as a user expects (``not config.lr = 0.1`` includes runs without ``lr``).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Float, String, Text, case, cast, false, func, literal, or_, type_coerce
from sqlalchemy.orm import InstrumentedAttribute

from backend.models import Run

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_JSON_SECTIONS = {"config": Run.config, "summary": Run.summary}
_NUMBERS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Run.id,
    "sweep": Run.sweep_id,
    "sweep_id": Run.sweep_id,
    "epoch": Run.epoch,
    "batch_size": Run.batch_size,
    "lr": Run.lr,
    "best_valid_acc": Run.best_valid_acc,
    "test_acc_at_best": Run.test_acc_at_best,
    "duration_s": Run.duration_s,
}
_TEXTS: dict[str, InstrumentedAttribute[Any]] = {
    "name": Run.name,
    "status": Run.status,
    "dataset": Run.dataset,
    "arch": Run.arch,
    "worker": Run.worker,
}
_TIMES: dict[str, InstrumentedAttribute[Any]] = {
    "created_at": Run.created_at,
    "started_at": Run.started_at,
    "finished_at": Run.finished_at,
}
KEYS = sorted([*_NUMBERS, *_TEXTS, *_TIMES, "tag"])
_COMPARE = {
    "=": lambda a, b: a == b,
    ":": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class QueryError(ValueError):
    """A query (or sort key) that means nothing: where, counted in characters from 0, and what was expected."""

    def __init__(self, position: int, message: str, *, param: str = "q") -> None:
        super().__init__(f"at position {position}: {message}")
        self.position = position
        self.message = message
        self.param = param  # the request's query parameter it is about


@dataclass(frozen=True)
class Token:
    kind: str  # open, close, op, string, word, and, or, not
    text: str  # as written (a string's without its quotes and escapes)
    pos: int  # character offset in the query, from 0


def free_text(text: str) -> ColumnElement[bool]:
    """The runs whose name, tags or architecture contain ``text`` (any case), or whose id it is."""
    pattern = f"%{text.lower()}%"
    conditions: list[ColumnElement[bool]] = [
        func.lower(Run.name).like(pattern),
        func.lower(Run.tags).like(pattern),
        Run.arch.like(pattern),
    ]
    if text.isdigit():
        conditions.append(Run.id == int(text))
    return or_(*conditions)


def term_clause(*, key: Token, op: Token, value: Token, dialect: str) -> ColumnElement[bool]:
    """``key OP value`` as a condition that is true or false for every run."""
    name = key.text
    section, _, path = name.partition(".")
    if section in _JSON_SECTIONS and name != section:
        clause = _json_term(_JSON_SECTIONS[section], _segments(path, key.pos + len(section) + 1), op, value, dialect)
    elif name in _NUMBERS:
        clause = _number_term(_NUMBERS[name], name, op, value)
    elif name in _TEXTS:
        clause = _text_term(_TEXTS[name], op, value)
    elif name in _TIMES:
        clause = _compare(_TIMES[name], op, _time(value, name))
    elif name in {"tag", "tags"}:
        clause = _tag_term(op, value)
    else:
        expected = "config.<key>, summary.<key> or one of " + ", ".join(KEYS)
        raise QueryError(key.pos, f"unknown key {name!r}: expected {expected}")
    return func.coalesce(clause, false())


def sort_columns(key: str, *, descending: bool, dialect: str, sortable: dict[str, Any]) -> list[Any]:
    """ORDER BY for ``key``: a column of ``sortable``, or a config or summary key (numbers in order, then texts in
    order, then runs without a number or text there); ties newest first."""
    if key in sortable:
        columns = [sortable[key]]
    else:
        section, _, path = key.partition(".")
        if section not in _JSON_SECTIONS or not path:
            expected = "config.<key>, summary.<key> or one of " + ", ".join(sorted(sortable))
            raise QueryError(0, f"unknown sort key {key!r}: expected {expected}", param="sort")
        segments = _segments(path, len(section) + 1, param="sort")
        columns = [json_scalar(_JSON_SECTIONS[section], segments, kind, dialect) for kind in ("number", "string")]
    ordered = [c.desc().nulls_last() if descending else c.asc().nulls_last() for c in columns]
    return [*ordered, Run.id.desc()]


def json_scalar(column: Any, segments: list[str], kind: str, dialect: str) -> ColumnElement[Any]:
    """The value at ``segments`` inside the JSON ``column`` if it is a ``kind`` ("number", "string" or
    "boolean": then the text 'true' or 'false'), else NULL."""
    if dialect == "postgresql":
        path = literal(segments, ARRAY(Text))
        json_type = func.json_typeof(column.op("#>")(path))
        types = {"number": ["number"], "string": ["string"], "boolean": ["boolean"]}[kind]
        text = column.op("#>>")(path)
        value = cast(text, Float) if kind == "number" else text
    else:
        paths = _sqlite_paths(segments)
        json_type = _first([func.json_type(column, path) for path in paths])
        types = {"number": ["integer", "real"], "string": ["text"], "boolean": ["true", "false"]}[kind]
        value = json_type if kind == "boolean" else _first([func.json_extract(column, path) for path in paths])
    return case((json_type.in_(types), value), else_=None)


def _first(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else func.coalesce(*values)


def _sqlite_paths(segments: list[str]) -> list[str]:
    """SQLite's JSON paths to ``segments``: a part of digits is a list's item or a key, as Postgres's #> reads it
    (each way for the first three such parts). SQLite matches a key against the stored text as is, and the JSON is
    stored with non-ASCII characters and backslashes escaped, so a key with either is looked up in that spelling
    too (a newer SQLite may read the first)."""
    digit_parts = [i for i, s in enumerate(segments) if s.isdigit()][:3]
    paths: list[str] = []
    for as_index in itertools.product((True, False), repeat=len(digit_parts)):
        indexed = {i for i, on in zip(digit_parts, as_index, strict=True) if on}
        for label in (lambda key: f'"{key}"', json.dumps):
            path = "$" + "".join(f"[{s}]" if i in indexed else "." + label(s) for i, s in enumerate(segments))
            if path not in paths:
                paths.append(path)
    return paths


def _segments(path: str, pos: int, *, param: str = "q") -> list[str]:
    segments = path.split(".")
    if not all(segments) or '"' in path:
        raise QueryError(pos, f"expected a key path such as optimizer.lr, found {path!r}", param=param)
    return segments


def _json_term(column: Any, segments: list[str], op: Token, value: Token, dialect: str) -> ColumnElement[bool]:
    if op.text == "~":
        return _contains(json_scalar(column, segments, "string", dialect), value.text)
    if value.kind == "word" and value.text in {"true", "false"}:
        if op.text not in {"=", ":", "!="}:
            raise QueryError(op.pos, f"expected '=' or '!=' to compare with {value.text}, found {op.text!r}")
        return _compare(json_scalar(column, segments, "boolean", dialect), op, value.text)
    number = _number_or_none(value)
    if number is not None:
        return _compare(json_scalar(column, segments, "number", dialect), op, number)
    return _compare(json_scalar(column, segments, "string", dialect), op, value.text)


def _number_term(column: Any, name: str, op: Token, value: Token) -> ColumnElement[bool]:
    number = _number_or_none(value)
    if op.text == "~" or number is None:
        if op.text == "~":
            raise QueryError(op.pos, f"expected a comparison (= != < <= > >=) for the number {name}, found '~'")
        raise QueryError(value.pos, f"expected a number for {name}, found {value.text!r}")
    return _compare(column, op, number)


def _text_term(column: Any, op: Token, value: Token) -> ColumnElement[bool]:
    if op.text == "~":
        return _contains(column, value.text)
    return _compare(column, op, value.text)


def _tag_term(op: Token, value: Token) -> ColumnElement[bool]:
    if op.text == "~":
        return _contains(Run.tags, value.text)
    has_tag = Run.tags.contains(f",{value.text},", autoescape=True)
    if op.text in {"=", ":"}:
        return has_tag
    if op.text == "!=":
        return ~has_tag
    raise QueryError(op.pos, f"expected ':', '=', '!=' or '~' after tag, found {op.text!r}")


def _compare(column: Any, op: Token, value: Any) -> ColumnElement[bool]:
    if op.text not in _COMPARE:
        raise QueryError(op.pos, f"expected one of = != < <= > >= here, found {op.text!r}")
    result: ColumnElement[bool] = _COMPARE[op.text](column, value)
    return result


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    return func.lower(type_coerce(column, String)).contains(text.lower(), autoescape=True)


def _number_or_none(value: Token) -> float | None:
    if value.kind != "word" or not _NUMBER.fullmatch(value.text):
        return None
    number = float(value.text)
    if not math.isfinite(number):
        raise QueryError(value.pos, f"expected a number a float can hold, found {value.text!r}")
    return number


def _time(value: Token, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.text)
    except ValueError:
        expected = f"expected a date such as 2026-11-30 or 2026-11-30T14:00 for {name}, found {value.text!r}"
        raise QueryError(value.pos, expected) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
