"""What rollups and downsampled reads should hold, computed in Python from the points themselves (test oracles)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Extremes = tuple[float | None, int, float | None, int]


def extremes(points: Iterable[tuple[int, float | None]]) -> Extremes:
    """The min and max of points given in step order, each at its earliest step; NULLs only: the first step."""
    pairs = list(points)
    numbers = [(v, s) for s, v in pairs if v is not None]
    if not numbers:
        return None, pairs[0][0], None, pairs[0][0]
    vmin = min(v for v, _ in numbers)
    vmax = max(v for v, _ in numbers)
    return vmin, next(s for v, s in numbers if v == vmin), vmax, next(s for v, s in numbers if v == vmax)


def buckets(values: Mapping[int, float | None], width: int) -> dict[int, list[tuple[int, float | None]]]:
    """The points grouped by ``step // width``, each group in step order."""
    grouped: dict[int, list[tuple[int, float | None]]] = {}
    for step in sorted(values):
        grouped.setdefault(step // width, []).append((step, values[step]))
    return grouped


def expected_rollups(values: Mapping[int, float | None], width: int) -> dict[int, tuple[int, Extremes]]:
    """Per block of ``width`` steps: (number of points, extremes)."""
    return {block: (len(group), extremes(group)) for block, group in buckets(values, width).items()}


def expected_series(values: Mapping[int, float | None], width: int) -> dict[str, list]:
    """A downsampled read on a grid of ``width`` steps: per bucket its min and max points, in step order."""
    steps: list[int] = []
    out: list[float | None] = []
    for group in buckets(values, width).values():
        vmin, smin, vmax, smax = extremes(group)
        for step, value in sorted({(smin, vmin), (smax, vmax)} if smin != smax else {(smin, vmax)}):
            steps.append(step)
            out.append(value)
    return {"step": steps, "value": out}
