"""A command run's command: a list of arguments whose ``{dotted.key}`` placeholders are filled from the run's config.

``["python", "train.py", "--lr", "{lr}", "--opt={optimizer.name}"]`` with ``{"lr": 0.1, "optimizer": {"name":
"sgd"}}`` becomes ``["python", "train.py", "--lr", "0.1", "--opt=sgd"]``: no shell is involved, each argument stays
one argument whatever it holds. ``{{`` and ``}}`` stand for a literal brace. A value fills in as it reads in JSON:
a string as it is, ``0.1``, ``3``, ``true``/``false``, ``null``, and a list or mapping as compact JSON. Shared by the
API (which checks every placeholder exists and shows the filled command, ``argv``) and the worker (which runs it);
torch-free.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

MAX_ARGS = 256
MAX_ARG_CHARS = 4096
KEY_CHARS = r"[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*"
_TOKEN = re.compile(r"\{\{|\}\}|\{(" + KEY_CHARS + r")\}|[{}]")


class CommandError(ValueError):
    """A command that cannot be filled; ``index`` is the argument at fault (None: the command as a whole)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def placeholders(arg: str, *, index: int = 0) -> list[str]:
    """The dotted keys ``arg`` refers to, in order; CommandError for a stray brace."""
    keys = []
    for match in _TOKEN.finditer(arg):
        token = match.group(0)
        if match.group(1) is not None:
            keys.append(match.group(1))
        elif token not in ("{{", "}}"):
            raise CommandError(
                f"argument {index}: a lone {token!r} at character {match.start()}: write a placeholder as "
                "{dotted.key} (letters, digits, _ and -, dots between), and a literal brace as {{ or }}",
                index,
            )
    return keys


def lookup(config: Mapping[str, Any], key: str) -> Any:
    """The value at dotted ``key`` of ``config``; KeyError naming the key when it is not there."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def as_argument(value: Any) -> str:
    """A config value as one argument: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), allow_nan=False)


def fill(command: Sequence[str], config: Mapping[str, Any]) -> list[str]:
    """``command`` with every placeholder replaced by its config value; CommandError naming the first that is
    missing (or a stray brace)."""
    filled = []
    for index, arg in enumerate(command):
        for key in placeholders(arg, index=index):
            try:
                lookup(config, key)
            except KeyError:
                raise CommandError(
                    f"argument {index}: the placeholder {{{key}}} is not a key of the config "
                    f"(give config a value for {key!r}, or write {{{{{key}}}}} for literal braces)",
                    index,
                ) from None
        filled.append(_TOKEN.sub(lambda match: _replacement(match, config), arg))
    return filled


def _replacement(match: re.Match[str], config: Mapping[str, Any]) -> str:
    token = match.group(0)
    if match.group(1) is not None:
        return as_argument(lookup(config, match.group(1)))
    return token[0]  # "{{" -> "{", "}}" -> "}"
