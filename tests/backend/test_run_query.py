"""`GET /api/runs?q=QUERY&sort=KEY`: the runs query language, evaluated by SQLite and by the real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.models import Run, utcnow
from backend.services import run_query
from backend.services import runs as runs_service
from tests.utils.leases import external_run
from trainboard.settings import Settings

RUNS: list[dict[str, Any]] = [
    {
        "name": "adam-fast",
        "tags": ["fig5", "best"],
        "config": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 16, "augment": True, "hidden": [800, 400]},
        "summary": {"best_valid_acc": 0.95, "note": "Great Run"},
        "status": "succeeded",
    },
    {
        "name": "sgd-slow",
        "tags": ["fig5"],
        "config": {"optimizer": {"name": "sgd", "lr": 0.001}, "batch_size": 64, "augment": False},
        "summary": {"best_valid_acc": 0.85},
        "status": "succeeded",
    },
    {
        "name": "momentum-mid",
        "tags": ["fig1"],
        "config": {"optimizer": {"name": "momentum", "lr": 0.1}, "batch_size": "auto"},
        "summary": {"best_valid_acc": 0.92, "note": "diverged once"},
        "status": "failed",
    },
    {"name": "script resnet", "tags": [], "config": {"lr": 0.5}, "summary": None, "status": "running"},
]


@pytest.fixture
def runs(client: TestClient) -> dict[str, int]:
    """The four runs above, fed through the API as scripts would; their names → ids."""
    ids = {}
    for run in RUNS:
        run_id, headers = external_run(client, name=run["name"], tags=run["tags"], config=run["config"])
        if run["status"] != "running":
            report = {"status": run["status"], "summary": run["summary"]}
            assert client.post(f"/api/runs/{run_id}/status", json=report, headers=headers).status_code == 200
        ids[run["name"]] = run_id
    return ids


def names(client: TestClient, **params: Any) -> list[str]:
    reply = client.get("/api/runs", params={"limit": 100, **params})
    assert reply.status_code == 200, reply.text
    return [run["name"] for run in reply.json()]


def matching(client: TestClient, q: str) -> set[str]:
    return set(names(client, q=q))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("config.optimizer.lr >= 0.01", {"adam-fast", "momentum-mid"}),
        ("config.optimizer.lr < 0.01", {"sgd-slow"}),
        ("config.optimizer.lr = 0.01", {"adam-fast"}),
        ("config.optimizer.lr != 0.01", {"sgd-slow", "momentum-mid"}),  # a run without the key is not "!="
        ("config.optimizer.name = adam", {"adam-fast"}),
        ('config.optimizer.name = "sgd"', {"sgd-slow"}),
        ("config.optimizer.name ~ MOM", {"momentum-mid"}),
        ("config.batch_size > 20", {"sgd-slow"}),  # "auto" is a text: no number comparison holds for it
        ("config.batch_size = auto", {"momentum-mid"}),
        ('config.batch_size = "16"', set()),  # quoted: a text, and 16 is a number
        ("config.augment = true", {"adam-fast"}),
        ("config.augment != true", {"sgd-slow"}),
        ("config.hidden.0 = 800", {"adam-fast"}),
        ("config.lr > 0.2", {"script resnet"}),
        ("summary.best_valid_acc > 0.9", {"adam-fast", "momentum-mid"}),
        ("summary.note ~ great", {"adam-fast"}),
        ("summary.missing = 1 or summary.best_valid_acc <= 0.85", {"sgd-slow"}),
        ("tag:fig5", {"adam-fast", "sgd-slow"}),
        ("tag = best", {"adam-fast"}),
        ("tag != fig5", {"momentum-mid", "script resnet"}),
        ("tag ~ FIG", {"adam-fast", "sgd-slow", "momentum-mid"}),
        ("status:succeeded", {"adam-fast", "sgd-slow"}),
        ("name ~ slow or name = momentum-mid", {"sgd-slow", "momentum-mid"}),
        ("tag:fig5 and config.optimizer.lr >= 0.01 and summary.best_valid_acc > 0.9", {"adam-fast"}),
        ("tag:fig5 status:succeeded summary.best_valid_acc < 0.9", {"sgd-slow"}),  # side by side: and
        ("not tag:fig5", {"momentum-mid", "script resnet"}),
        ("not config.optimizer.lr = 0.01", {"sgd-slow", "momentum-mid", "script resnet"}),  # lacking it: not equal
        ("(tag:fig1 or tag:best) and not status:failed", {"adam-fast"}),
        ("tag:fig1 or tag:best and not status:failed", {"adam-fast", "momentum-mid"}),  # and binds tighter
        ("not (status = succeeded or status = failed)", {"script resnet"}),
        ("resnet or config.optimizer.name = sgd", {"script resnet", "sgd-slow"}),  # a value alone: free text
        ('"adam" and tag:best', {"adam-fast"}),
        ("created_at > 2000-01-01 and created_at < 2999-01-01T00:00", {r["name"] for r in RUNS}),
        ("duration_s > 0", set()),
    ],
)
def test_query_selects_the_runs(client: TestClient, runs: dict[str, int], q: str, expected: set[str]) -> None:
    assert matching(client, q) == expected


def test_id_and_sweep_compare_as_numbers(client: TestClient, runs: dict[str, int]) -> None:
    between = f"id >= {runs['sgd-slow']} and id < {runs['script resnet']}"
    assert matching(client, between) == {"sgd-slow", "momentum-mid"}
    assert matching(client, "sweep = 1") == set()


def test_plain_text_is_still_the_free_text_search(client: TestClient, runs: dict[str, int]) -> None:
    assert matching(client, "ADAM") == {"adam-fast"}
    assert matching(client, "script resnet") == {"script resnet"}  # the whole text, spaces and all
    assert matching(client, "fig1") == {"momentum-mid"}  # a tag
    assert matching(client, str(runs["sgd-slow"])) == {"sgd-slow"}  # an id
    assert matching(client, "(copy) don't") == set()  # no operator: no syntax to get wrong
    assert matching(client, '"script resnet"') == {"script resnet"}


@pytest.mark.parametrize(
    ("q", "position", "words"),
    [
        ("config.optimizer.lr >=", 22, "expected a value after '>='"),
        ("config.optimizer.lr >= and", 23, "expected a value after '>='"),
        ("(tag:fig5 or tag:fig1", 21, "expected ')' to close the '(' at position 0"),
        ("tag:fig5)", 8, "unexpected ')'"),
        ("tag:fig5 and", 12, "expected a key, a value"),
        ("colour = red", 0, "unknown key 'colour'"),
        ("id = seven", 5, "expected a number for id"),
        ("id ~ 7", 3, "found '~'"),
        ("tag > a", 4, "after tag"),
        ("tag:a and config.x ! 1", 19, "expected '!='"),
        ('name = "unclosed', 7, "never closed"),
        ("created_at > yesterday", 13, "expected a date"),
        ("config..lr = 1", 7, "key path"),
        ('"name" = x', 0, "expected a key"),
        ("config.augment > true", 15, "expected '=' or '!='"),
        ("config.lr > 1e400", 12, "a float can hold"),
        ("(" * 40 + "tag:a" + ")" * 40, 32, "at most 32 levels"),
        ("not " * 40 + "tag:a", 128, "at most 32 levels"),
    ],
)
def test_a_bad_query_is_a_422_naming_the_position(
    client: TestClient, runs: dict[str, int], q: str, position: int, words: str
) -> None:
    reply = client.get("/api/runs", params={"q": q})
    assert reply.status_code == 422, reply.text
    [error] = reply.json()["detail"]
    assert error["loc"] == ["query", "q"]
    assert error["msg"].startswith(f"at position {position}: ") and words in error["msg"], error["msg"]
    assert error["ctx"] == {"position": position}


def test_a_long_query_is_taken(client: TestClient, runs: dict[str, int]) -> None:
    long = " or ".join(["config.optimizer.name = adam"] * 60)
    assert len(long) > 1500
    assert matching(client, long) == {"adam-fast"}
    assert client.get("/api/runs", params={"q": "x" * 2001}).status_code == 422


def test_sort_by_a_config_or_summary_key_puts_runs_without_it_last(client: TestClient, runs: dict[str, int]) -> None:
    lr = "config.optimizer.lr"
    assert names(client, sort=lr, order="asc") == ["sgd-slow", "adam-fast", "momentum-mid", "script resnet"]
    assert names(client, sort=lr, order="desc") == ["momentum-mid", "adam-fast", "sgd-slow", "script resnet"]
    assert names(client, sort="summary.best_valid_acc") == ["adam-fast", "momentum-mid", "sgd-slow", "script resnet"]
    # numbers in order, then texts, then runs without it
    batch = names(client, sort="config.batch_size", order="asc")
    assert batch == ["adam-fast", "sgd-slow", "momentum-mid", "script resnet"]
    page = client.get("/api/runs", params={"sort": "summary.best_valid_acc", "q": "tag:fig5", "limit": 1, "offset": 1})
    assert [r["name"] for r in page.json()] == ["sgd-slow"] and page.headers["X-Total-Count"] == "2"


@pytest.mark.parametrize("sort", ["colour", "config", "config..lr", "summary."])
def test_a_bad_sort_key_is_a_422_naming_it(client: TestClient, runs: dict[str, int], sort: str) -> None:
    reply = client.get("/api/runs", params={"sort": sort})
    assert reply.status_code == 422, reply.text
    [error] = reply.json()["detail"]
    assert error["loc"] == ["query", "sort"] and "expected" in error["msg"]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_the_query_is_evaluated_by_the_database(dialect: Any) -> None:
    """The whole query becomes one WHERE clause (JSON read by the database), so a page of matches comes from SQL."""
    where = run_query.condition("config.optimizer.lr >= 0.01 and not tag:fig5", dialect=dialect.name)
    sql = str(select(Run.id).where(where).limit(5).compile(dialect=dialect))
    json_reads = ["json_type(runs.config", "json_extract(runs.config"]
    if dialect.name == "postgresql":
        json_reads = ["json_typeof(runs.config #>", "runs.config #>>"]
    assert all(read in sql for read in json_reads), sql
    assert "runs.tags LIKE" in sql and "LIMIT" in sql


ODD_KEYS = {"a-b": 1, "$x": 2, "a'b": 3, "a\\b": 4, "é": 5, "*": 6, "0": 7, "a[0]": 8, "list": [{"0": 9}]}


@pytest.mark.parametrize(
    "q",
    [
        "config.a-b = 1",
        "config.$x = 2",
        "config.a'b = 3",
        "config.a\\b = 4",
        "config.é = 5",
        "config.* = 6",
        "config.0 = 7",
        "config.a[0] = 8",
        "config.list.0.0 = 9",
    ],
)
def test_any_key_a_config_can_hold_is_found(client: TestClient, q: str) -> None:
    """Keys with punctuation, non-ASCII letters, digits: each found the same way on SQLite and Postgres."""
    run_id, _ = external_run(client, name="odd keys", config=ODD_KEYS)
    external_run(client, name="plain", config={"a-b": 2})
    assert [r["id"] for r in client.get("/api/runs", params={"q": q}).json()] == [run_id]


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    with Session(engine) as open_session:
        yield open_session
    engine.dispose()


def test_a_page_of_matches_among_2000_runs_loads_only_that_page(session: Session) -> None:
    """The filter, the sort by a JSON key and the LIMIT run in the database: only the page's rows reach Python."""
    now = utcnow()
    rows = [
        {
            "name": f"bulk {i}",
            "spec": {},
            "config": {"optimizer": {"lr": i / 2000}},
            "summary": {"acc": i % 7},
            "status": "succeeded",
            "tags": ",bulk,",
            "created_at": now,
        }
        for i in range(2000)
    ]
    session.execute(insert(Run), rows)
    session.commit()
    loaded: list[Run] = []
    event.listen(session, "loaded_as_persistent", lambda _s, run: loaded.append(run))
    query = "config.optimizer.lr >= 0.5 and summary.acc = 3 and tag:bulk"
    page, total = runs_service.list_runs(session, q=query, sort="config.optimizer.lr", descending=False, limit=5)
    expected = [i for i in range(1000, 2000) if i % 7 == 3]
    assert total == len(expected)
    assert [run.name for run in page] == [f"bulk {i}" for i in expected[:5]]
    assert len(loaded) == 5
