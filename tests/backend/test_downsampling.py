"""Downsampled reads: the two ways of finding each bucket's extremes among the points agree, the rollups stay exact at
every level, and a read from them gives what a read of the points gives on the same grid (NULLs and ties included)."""

from __future__ import annotations

import random

from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from backend.models import ROLLUP_WIDTHS, MetricPoint, MetricRollup
from backend.services.metrics.reads import (
    _downsampled,
    _grid,
    _grouped_extremes,
    _ranked_extremes,
    read_series,
    series_id_of,
    step_bounds,
)
from tests.utils.leases import external_run
from tests.utils.series import Extremes, expected_rollups, expected_series


def _external_run(client: TestClient) -> int:
    """An external run; the test client plays its script, sending the run's lease with every request."""
    run_id, lease = external_run(client)
    client.headers.update(lease)
    return run_id


def test_ranked_and_grouped_extremes_agree(client: TestClient) -> None:
    run_id = _external_run(client)
    rng = random.Random(5)
    values: dict[int, float | None] = {s: round(rng.random(), 2) for s in range(1, 3001)}  # ties within buckets
    for s in range(400, 450):
        values[s] = None  # a bucket of NULLs only, and buckets mixing NULLs with numbers
    values[1234], values[2345] = 50.0, -50.0
    points = [{"key": "loss", "step": s, "value": v} for s, v in values.items()]
    assert client.post(f"/api/runs/{run_id}/metrics", json={"points": points}).status_code == 200

    found = {}
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        in_range = [MetricPoint.series_id == series_id_of(session, run_id=run_id, key="loss"), MetricPoint.step >= 1]
        for width in (1, 7, 25, 300):
            found[width] = _ranked_extremes(session, in_range, width)
            assert found[width] == _grouped_extremes(session, in_range, width), width
    assert found[25][400 // 25] == (None, 400, None, 400), "a bucket of NULLs only: its first step"
    assert found[300][1234 // 300][2:] == (50.0, 1234) and found[300][2345 // 300][:2] == (-50.0, 2345)


# --- rollups: every level kept exact by ingestion, and reads from them identical to reads of the points -------------

N_STEPS = 12 * 1024
SPIKE, DIP = (7777, 100.0), (9001, -100.0)


def _series() -> dict[int, float | None]:
    """Ties everywhere (one decimal), a gap, NULLs: whole 64- and 1,024-step blocks, a run across blocks, scattered."""
    rng = random.Random(11)
    values: dict[int, float | None] = {s: round(rng.gauss(0, 1), 1) for s in range(N_STEPS) if not 5000 <= s < 5300}
    for s in [*range(1024, 1152), *range(3000, 3101), *range(37, N_STEPS, 37), *range(10240, 11264)]:
        if s in values:
            values[s] = None
    values[SPIKE[0]], values[DIP[0]] = SPIKE[1], DIP[1]
    return values


def _post_shuffled(client: TestClient, run_id: int, values: dict[int, float | None]) -> None:
    """Out of step order, in batches that split blocks, so the upsert folds blocks (and their ties) across batches."""
    points = [{"key": "loss", "step": s, "value": v} for s, v in values.items()]
    random.Random(3).shuffle(points)
    for i in range(0, len(points), 2500):
        response = client.post(f"/api/runs/{run_id}/metrics", json={"points": points[i : i + 2500]})
        assert response.status_code == 200, response.text


def _stored_rollups(session: Session, run_id: int, width: int) -> dict[int, tuple[int, Extremes]]:
    rows = session.execute(
        select(MetricRollup.bucket, MetricRollup.n, MetricRollup.vmin, MetricRollup.step_min, MetricRollup.vmax,
               MetricRollup.step_max)
        .where(MetricRollup.run_id == run_id, MetricRollup.key == "loss", MetricRollup.width == width)
    )  # fmt: skip
    return {bucket: (n, (vmin, smin, vmax, smax)) for bucket, n, vmin, smin, vmax, smax in rows}


def test_grid_picks_the_widest_level_within_twice_the_bucket_width() -> None:
    assert ROLLUP_WIDTHS == (64, 1024)
    # (range of steps, max_points) → (bucket width, level): widths 31 | 32 and 511 | 512 are the boundaries.
    assert _grid(0, 309, 24) == (31, None)
    assert _grid(0, 319, 24) == (64, 64)
    assert _grid(0, 329, 24) == (64, 64)
    assert _grid(0, 5109, 24) == (512, 64)
    assert _grid(0, 5119, 24) == (1024, 1024)
    assert _grid(0, 99_999, 642) == (320, 64), "the run page's chart: 314 steps a bucket, read from 64-step blocks"
    assert _grid(0, 999_999, 2000) == (1024, 1024)


def test_rollups_stay_exact_at_every_level(client: TestClient) -> None:
    run_id = _external_run(client)
    values = _series()
    _post_shuffled(client, run_id, values)
    assert (
        client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"key": "loss", "step": 5, "value": 9.0}]}).json()[
            "duplicates"
        ]
        == 1
    ), "a retried point changes nothing"
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        for width in ROLLUP_WIDTHS:
            assert _stored_rollups(session, run_id, width) == expected_rollups(values, width), width


def _read_cases(rng: random.Random) -> list[tuple[int, int | None, int | None]]:
    """(max_points, start, end): whole series; bucket widths on both sides of each level's boundary at offsets that
    cut blocks (and take in the gap and the NULL blocks); random zooms."""
    cases: list[tuple[int, int | None, int | None]] = [
        (m, None, None) for m in (2, 5, 24, 60, 100, 200, 400, 642, 1000, 2000)
    ]
    for width in (31, 32, 33, 63, 64, 65, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025):
        for offset in (0, 37, 1000, 2990, 4900, 10200):
            start = min(offset, N_STEPS - 10 * width)
            cases.append((24, start, start + 10 * width - 1))  # 10 buckets of exactly `width` steps
    for _ in range(40):
        start = rng.randrange(N_STEPS)
        end = rng.randrange(start, N_STEPS + 100)
        cases.append((rng.choice((4, 24, 50, 120, 400)), start, end))
    return cases


def test_reads_from_rollups_equal_reads_of_the_points(client: TestClient) -> None:
    run_id = _external_run(client)
    values = _series()
    _post_shuffled(client, run_id, values)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    levels_used = set()
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", record)
        try:
            for max_points, start, end in _read_cases(random.Random(8)):
                case = (max_points, start, end)
                in_range = {
                    s: v for s, v in values.items() if (start is None or s >= start) and (end is None or s <= end)
                }
                series_id = series_id_of(session, run_id=run_id, key="loss")
                assert series_id is not None
                statements.clear()
                got = read_series(session, run_id=run_id, key="loss", max_points=max_points, start=start, end=end)
                if len(in_range) <= max_points:
                    assert got == expected_series(in_range, 1), case  # every point, as stored
                    continue
                low, high = min(in_range), max(in_range)
                width, level = _grid(low, high, max_points)
                assert got == expected_series(in_range, width), case
                raw = _downsampled(session, run_id=run_id, key="loss", series_id=series_id, start=start, end=end,
                                   max_points=max_points, from_rollups=False)  # fmt: skip
                assert got == raw, case
                assert len(got["step"]) <= max_points, case
                # Rollups are read as soon as the range holds one whole block of the finest level.
                whole_block = -(-low // ROLLUP_WIDTHS[0]) <= (high + 1) // ROLLUP_WIDTHS[0] - 1
                assert any("metric_rollups" in sql for sql in statements) == (level is not None and whole_block), case
                levels_used.add(level)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert levels_used == {None, 64, 1024}


def test_a_one_step_spike_survives_at_its_own_step(client: TestClient) -> None:
    run_id = _external_run(client)
    values = _series()
    _post_shuffled(client, run_id, values)
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        for max_points, start in ((642, None), (100, None), (24, 7000), (24, 8500)):
            got = read_series(session, run_id=run_id, key="loss", max_points=max_points, start=start)
            pairs = set(zip(got["step"], got["value"], strict=True))
            assert (SPIKE in pairs) == (start is None or start <= SPIKE[0]) and DIP in pairs, (max_points, start)


def test_bounds_and_ranges_across_empty_windows_and_interleaved_batches(client: TestClient) -> None:
    """Steps with gaps of whole 1,024-step windows, written by batches whose steps interleave: every range's lowest
    and highest stored step, and its points, are what the points say (Postgres finds them from its blocks)."""
    run_id = _external_run(client)
    steps = [*range(0, 900, 3), *range(1, 900, 3), *range(5000, 5003), 9215, 9216, *range(20_480, 20_600, 7)]
    values = {s: float(s % 17) for s in steps}
    batches = [steps[0::2], steps[1::2]]  # each batch holds every other step: the two interleave in every window
    for batch in batches:
        points = [{"key": "loss", "step": s, "value": values[s]} for s in batch]
        assert client.post(f"/api/runs/{run_id}/metrics", json={"points": points}).status_code == 200
    rng = random.Random(4)
    edges = [0, 1, 2, 899, 900, 1023, 1024, 4999, 5000, 5002, 5003, 9214, 9215, 9216, 9217, 20_479, 20_480, 20_600]
    cases = [(None, None), *((None, e) for e in edges), *((e, None) for e in edges)]
    cases += [tuple(sorted(rng.sample(edges, 2))) for _ in range(40)]  # type: ignore[misc]
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        series_id = series_id_of(session, run_id=run_id, key="loss")
        assert series_id is not None
        for start, end in cases:
            inside = sorted(s for s in values if (start is None or s >= start) and (end is None or s <= end))
            bounds = step_bounds(session, series_id=series_id, start=start, end=end)
            assert bounds == ((inside[0], inside[-1]) if inside else None), (start, end)
            got = read_series(session, run_id=run_id, key="loss", start=start, end=end)
            assert got == {"step": inside, "value": [values[s] for s in inside]}, (start, end)
