"""What the API process does for its whole life: the objects alive once it has started stay out of the garbage
collector's full collections (each walked them all, 130-180 ms with every request waiting), until it stops."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from backend.main import create_app
from tests.conftest import LOCAL_URL
from trainboard.settings import Settings


def test_objects_alive_at_start_are_frozen_until_the_app_stops(settings: Settings) -> None:
    gc.unfreeze()  # whatever an app of another test left
    app = create_app(settings)
    with TestClient(app, base_url=LOCAL_URL) as client:
        assert gc.get_freeze_count() > 100_000  # the modules, the app, SQLAlchemy's and pydantic's tables...
        assert client.get("/api/health").status_code == 200
    assert gc.get_freeze_count() == 0  # given back: a stopped app's objects can be collected again
