"""What a POST /runs/{id}/metrics body carries, in either of its shapes (for fake APIs that record it)."""

from __future__ import annotations

from typing import Any

Point = tuple[str, int, Any]  # key, step, value


def posted_points(body: dict[str, Any]) -> list[Point]:
    """The body's points: ``points`` one by one, then ``series`` key by key (the API's order too)."""
    points = [(p["key"], p["step"], p["value"]) for p in body.get("points", [])]
    for key, series in body.get("series", {}).items():
        assert len(series["step"]) == len(series["value"]), key
        points += [(key, step, value) for step, value in zip(series["step"], series["value"], strict=True)]
    return points
