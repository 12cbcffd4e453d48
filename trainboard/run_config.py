"""A run's config as a script sees it (``run.config``): a mapping whose changes are sent to the API, and the rule
that turns a script's values into JSON.

``jsonable(value)``: mappings (an ``argparse.Namespace`` too) become JSON objects with string keys; lists, tuples
and sets become lists; numpy and torch scalars become numbers, small arrays lists; an ``Enum`` becomes its name;
anything else JSON has no type for (a ``Path``, a class, a function) becomes ``str(value)``. NaN and infinities
stay floats here: the API stores them as null.

``RunConfig`` counts its changes (:attr:`RunConfig.version`): the run's sender thread sends the whole mapping once
no change came for :data:`DEBOUNCE_S` (or at most :data:`MAX_DELAY_S` after the first unsent one), and the final
status carries it too. Assign a key or ``update()`` to change it: a nested value changed in place
(``run.config["optimizer"]["lr"] = 0.1``) is not noticed until the next assignment.
"""

from __future__ import annotations

import argparse
import enum
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

DEBOUNCE_S = 1.0
MAX_DELAY_S = 5.0
MAX_DEPTH = 32  # deeper than the API takes (16): the API's 422 names the path


def jsonable(value: Any, _depth: int = 0) -> Any:
    """``value`` as plain JSON types (see the module's docstring)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if _depth > MAX_DEPTH:
        return str(value)
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item, _depth + 1) for item in value]
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy scalars, 0-d arrays and tensors
        return jsonable(value.item(), _depth + 1)
    if hasattr(value, "tolist") and hasattr(value, "shape"):  # numpy arrays, tensors
        return jsonable(value.tolist(), _depth + 1)
    return str(value)


def as_config(config: Mapping[str, Any] | argparse.Namespace | None) -> dict[str, Any]:
    """A script's config argument as a JSON object; anything but a mapping or a Namespace is a TypeError."""
    if config is None:
        return {}
    if not isinstance(config, Mapping | argparse.Namespace):
        raise TypeError(f"config must be a mapping (e.g. vars(args)) or an argparse.Namespace, not {type(config)!r}")
    converted: dict[str, Any] = jsonable(config)
    return converted


class RunConfig(MutableMapping[str, Any]):
    """The run's config; every assignment is converted by :func:`jsonable` and counted, to be sent."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = as_config(initial)
        self._lock = threading.Lock()
        self.version = 0  # changes so far
        self._changed_at = 0.0  # monotonic time of the last change
        self._unsent_since: float | None = None  # of the first change not yet sent

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        converted = jsonable(value)
        with self._lock:
            self._data[str(key)] = converted
            self._changed()

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._data[key]
            self._changed()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"RunConfig({self._data!r})"

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """``dict.update``, also taking an ``argparse.Namespace``."""
        if isinstance(other, argparse.Namespace):
            other = vars(other)
        super().update(other, **kwargs)

    def due_at(self) -> float:
        """When the unsent changes should go (monotonic time), or infinity when everything was sent."""
        if self._unsent_since is None:
            return float("inf")
        return min(self._changed_at + DEBOUNCE_S, self._unsent_since + MAX_DELAY_S)

    def unsent(self) -> tuple[int, dict[str, Any]] | None:
        """(version, a copy of the whole mapping) when changes wait to be sent, else None."""
        with self._lock:
            if self._unsent_since is None:
                return None
            return self.version, dict(self._data)

    def sent(self, version: int) -> None:
        """The API has the mapping as of ``version`` (later changes still wait)."""
        with self._lock:
            if version == self.version:
                self._unsent_since = None

    def _changed(self) -> None:
        self.version += 1
        self._changed_at = time.monotonic()
        if self._unsent_since is None:
            self._unsent_since = self._changed_at
