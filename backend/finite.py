"""One rule for numbers JSON cannot carry: NaN and the infinities become null, on the way in and on the way out.

Python's json reads and writes `NaN` and `Infinity`, but they are not JSON: a browser's JSON.parse rejects the
whole document, and Postgres rejects them in a json column. Values arrive that way from diverging runs (and from
rows older versions stored), so every path that stores or sends such data passes it through here.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 64  # deeper than any summary or event we make; the recursion stays far from Python's limit


def finite_or_none(value: float | None) -> float | None:
    """The value, or None where it is NaN or infinite."""
    return value if value is None or math.isfinite(value) else None


def json_safe(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON-like value (dicts, lists, numbers, strings) with every non-finite float replaced by None; lists
    that hold none are kept as they are rather than copied.

    Raises ValueError for nesting deeper than ``max_depth`` levels.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list | tuple):
        if max_depth <= 0:
            raise ValueError("nested too deep")
        if isinstance(value, dict):
            return {key: json_safe(item, max_depth=max_depth - 1) for key, item in value.items()}
        if _all_finite_numbers(value):
            return value
        return [json_safe(item, max_depth=max_depth - 1) for item in value]
    return value


def _all_finite_numbers(values: list[Any] | tuple[Any, ...]) -> bool:
    """True for a list of numbers with no NaN or infinity, checked in C (a metrics event carries thousands):
    ``fsum`` refuses anything but numbers and returns a non-finite sum, or raises, when one is non-finite."""
    try:
        return math.isfinite(math.fsum(values))
    except (TypeError, ValueError, OverflowError):
        return False


def non_finite_path(value: Any, *, path: str = "", depth: int = 0) -> str | None:
    """Where the first NaN or infinity in a JSON-like value sits (``path`` extended with keys and indices), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if depth >= MAX_DEPTH:
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list | tuple) else ()
    for key, item in items:
        found = non_finite_path(item, path=f"{path}.{key}" if path else str(key), depth=depth + 1)
        if found is not None:
            return found
    return None
