"""The runs query language (``GET /api/runs?q=``): text → tokens → a small syntax tree → one SQL condition.

``config.optimizer.lr >= 0.01 and summary.best_valid_acc > 0.9 and tag:fig5 and not status:failed``: terms
``key OP value`` (OP one of ``= != < <= > >= ~ :``) joined by ``and`` / ``or`` / ``not`` and parentheses; two
terms side by side mean ``and``; a value alone is today's free-text search. A query with no operator at all is
free text as a whole, as before. What the keys mean in SQL is in ``run_query_sql.py``: nothing is filtered in
Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, not_, or_

from backend.services.run_query_sql import QueryError, Token, free_text, term_clause

__all__ = ["QueryError", "condition"]

KEYWORDS = {"and", "or", "not"}
MAX_DEPTH = 32  # nested parentheses and nots: beyond, a query is refused rather than recursed into
# A word holds a ':' only between two digits (a time, 14:00); anywhere else ':' is the operator of tag:fig5.
_TOKEN = re.compile(
    r"""\s*(?:(?P<open>\()|(?P<close>\))|(?P<op><=|>=|!=|=|<|>|~|:)"""
    r"""|(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>(?:[^\s()"=!<>~:]|(?<=\d):(?=\d))+)|(?P<bad>\S))"""
)


@dataclass(frozen=True)
class Term:
    """``key OP value``."""

    key: Token
    op: Token
    value: Token


@dataclass(frozen=True)
class Text:
    """A value on its own: free-text search."""

    value: Token


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Both:
    kind: str  # "and" | "or"
    operands: list[Node]


Node = Term | Text | Not | Both


def condition(query: str, *, dialect: str) -> ColumnElement[bool]:
    """The SQL condition of ``query`` for the database ``dialect`` (QueryError naming the position if bad)."""
    tokens = _tokens_or_none(query)
    if tokens is None or not any(t.kind == "op" for t in tokens):
        if tokens and len(tokens) == 1 and tokens[0].kind == "string":
            return free_text(tokens[0].text)
        return free_text(query.strip())
    return _to_sql(_Parser(query, tokens).parse(), dialect)


def _tokens_or_none(query: str) -> list[Token] | None:
    """The tokens; None for a query that only free text can mean (no operator character in it)."""
    try:
        return tokenize(query)
    except QueryError:
        if re.search(r"[=<>~:]", query):
            raise
        return None


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query) and (match := _TOKEN.match(query, pos)) and match.lastgroup:
        kind, start, text = match.lastgroup, match.start(match.lastgroup), match.group(match.lastgroup)
        pos = match.end()
        if kind == "bad":
            raise QueryError(start, _bad_character(text, query, start))
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        elif kind == "word" and text.lower() in KEYWORDS:
            kind = text.lower()
        tokens.append(Token(kind, text, start))
    return tokens


def _bad_character(char: str, query: str, start: int) -> str:
    if char == '"':
        return 'this quote is never closed: expected a closing "'
    if char == "!":
        return "expected '!=' (a lone '!' is not an operator; use 'not' to negate)"
    return f"unexpected {char!r}"


class _Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*; and_expr := not_expr ('and'? not_expr)*;
    not_expr := 'not' not_expr | '(' or_expr ')' | value (OP value)?"""

    def __init__(self, query: str, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.end = len(query.rstrip())
        self.i = 0
        self.depth = 0

    def parse(self) -> Node:
        node = self._or()
        if (token := self._peek()) is not None:
            raise QueryError(token.pos, f"unexpected {_shown(token)}: expected 'and', 'or' or the end of the query")
        return node

    def _peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self) -> Token | None:
        token = self._peek()
        self.i += token is not None
        return token

    def _or(self) -> Node:
        operands = [self._and()]
        while (token := self._peek()) is not None and token.kind == "or":
            self.i += 1
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Both("or", operands)

    def _and(self) -> Node:
        operands = [self._not()]
        while (token := self._peek()) is not None and token.kind in {"and", "not", "open", "word", "string"}:
            self.i += token.kind == "and"
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else Both("and", operands)

    def _not(self) -> Node:
        token = self._next()
        if token is None:
            raise QueryError(self.end, "expected a key, a value, 'not' or '(' but the query ends")
        if token.kind in {"not", "open"}:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(token.pos, f"expected at most {MAX_DEPTH} levels of parentheses and 'not'")
            node = self._nested(token)
            self.depth -= 1
            return node
        if token.kind in {"word", "string"}:
            return self._term_or_text(token)
        raise QueryError(token.pos, f"expected a key, a value, 'not' or '(', found {_shown(token)}")

    def _nested(self, token: Token) -> Node:
        """What follows a 'not' or a '('."""
        if token.kind == "not":
            return Not(self._not())
        node = self._or()
        closing = self._next()
        if closing is None or closing.kind != "close":
            where = self.end if closing is None else closing.pos
            found = _shown(closing)
            raise QueryError(where, f"expected ')' to close the '(' at position {token.pos}, found {found}")
        return node

    def _term_or_text(self, first: Token) -> Node:
        op = self._peek()
        if op is None or op.kind != "op":
            return Text(first)
        self.i += 1
        if first.kind == "string":
            expected = "expected a key such as config.optimizer.lr or status before the operator, not a quoted text"
            raise QueryError(first.pos, expected)
        value = self._next()
        if value is None or value.kind not in {"word", "string"}:
            where = self.end if value is None else value.pos
            raise QueryError(where, f"expected a value after {op.text!r}, found {_shown(value)}")
        return Term(first, op, value)


def _shown(token: Token | None) -> str:
    if token is None:
        return "the end of the query"
    return f"{token.text!r}"


def _to_sql(node: Node, dialect: str) -> ColumnElement[bool]:
    if isinstance(node, Term):
        return term_clause(key=node.key, op=node.op, value=node.value, dialect=dialect)
    if isinstance(node, Text):
        return free_text(node.value.text)
    if isinstance(node, Not):
        return not_(_to_sql(node.operand, dialect))
    parts = [_to_sql(operand, dialect) for operand in node.operands]
    return and_(*parts) if node.kind == "and" else or_(*parts)
