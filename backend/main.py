"""The FastAPI application: REST API under /api, the live stream, and the dashboard's static files."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from backend.api.routes import (
    artifacts,
    events,
    example_diff,
    health,
    importance,
    keys,
    logs,
    me,
    metrics,
    presets,
    runs,
    sweeps,
    workers,
)
from backend.api.validation_errors import validation_error_response
from backend.api_docs import install_docs
from backend.auth import load_token_table
from backend.body_limit import BodySizeLimit
from backend.db import make_engine, make_ingest_pool, make_sessionmaker
from backend.request_guard import RequestGuard
from backend.security_headers import SecurityHeaders
from backend.services import leases
from backend.services.events import publish_after_commit
from backend.services.notifier import Notifier
from backend.services.reaper import reap_stale_runs, requeue_waiting_runs
from backend.vendor import YEAR_S, script_response, vendor_path
from trainboard.queue import make_celery
from trainboard.settings import Settings

logger = logging.getLogger(__name__)
FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"


def plotly_js_path() -> Path:
    """plotly.js as shipped inside the plotly Python package: served by us, so the dashboard works offline."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


async def _requeue_at_startup(app: FastAPI) -> None:
    """Queued runs whose message may never have reached the broker get one (``reaper.requeue_waiting_runs``).
    In a thread: with the broker down, the first send waits for its connect timeout."""
    try:
        await asyncio.to_thread(requeue_waiting_runs, app.state.sessionmaker, celery=app.state.celery)
    except Exception:  # noqa: BLE001 - the database is away too: the runs wait for the next start-up or a relaunch
        logger.exception("start-up: could not re-send the queued runs")


async def _reap_forever(app: FastAPI) -> None:
    """Look for runs whose worker died. Wait one full period first: after an API restart, live workers need
    a moment to deliver the heartbeats they could not send while it was down."""
    settings: Settings = app.state.settings
    period = max(1.0, settings.stale_after_s / 4)
    await asyncio.sleep(settings.stale_after_s)
    while True:
        try:
            await run_in_threadpool(
                reap_stale_runs,
                app.state.sessionmaker,
                celery=app.state.celery,
                stale_after_s=settings.stale_after_s,
                max_run_gb=settings.max_run_gb,
                external_timeout_s=settings.external_timeout_s,
            )
        except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
            logger.exception("checking for stale runs failed")
        await asyncio.sleep(period)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.ensure_home()
    engine = make_engine(settings.sqlalchemy_url)
    notifier = Notifier(settings.redis_url)
    ingest_pool = make_ingest_pool(settings.sqlalchemy_url, settings.ingest_connections)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """The notifier and the reaper for the app's life. Everything alive once they start (modules, the app,
        SQLAlchemy's and pydantic's tables: about 240,000 objects) is frozen out of the garbage collector's reach:
        a full collection walked them all, 130-180 ms with every request waiting, about once per 60 batches of
        1,000 points; now it walks only what requests leave behind (docs/BENCHMARKS.md, §1)."""
        await notifier.start()
        if ingest_pool is not None:
            await ingest_pool.open(wait=False)  # connects in the background: the database may still be starting
            app.state.ingest_pool = ingest_pool
        reaper = asyncio.create_task(_reap_forever(app))
        requeue = asyncio.create_task(_requeue_at_startup(app))
        gc.freeze()  # no collection first: start-up leaves little garbage, and unfreeze() gives it back at the end
        yield
        gc.unfreeze()
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper
        requeue.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await requeue
        await notifier.stop()
        if ingest_pool is not None:
            app.state.ingest_pool = None
            await ingest_pool.close()
        engine.dispose()

    app = FastAPI(
        title="trainboard",
        version="0.1.0",
        description="Launch and watch PyTorch training runs.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from backend.api_docs, without a CDN
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, validation_error_response)  # type: ignore[arg-type]
    app.state.settings = settings
    app.state.sessionmaker = make_sessionmaker(engine)
    publish_after_commit(app.state.sessionmaker, notifier)  # every session, the reaper's too, wakes the streams
    app.state.celery = make_celery(settings)
    app.state.notifier = notifier
    app.state.ingest_pool = None  # while the app runs, on Postgres: make_ingest_pool's, open

    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    lease_check = functools.partial(leases.is_current, app.state.sessionmaker)
    app.add_middleware(RequestGuard, settings=settings, tokens=load_token_table(settings), lease_check=lease_check)
    app.add_middleware(SecurityHeaders)  # added last, so runs first: every response gets the headers

    api = APIRouter(prefix="/api")
    # Who may call which route is decided by RequestGuard, in front of every route, before any body is read.
    for module in (
        health,
        me,
        runs,
        metrics,
        keys,
        logs,
        events,
        artifacts,
        example_diff,
        sweeps,
        presets,
        workers,
        importance,
    ):
        api.include_router(module.router)
    app.include_router(api)
    install_docs(app)

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        """The full bundle (parcoords for the sweep view); unversioned URL, so cached for a day only."""
        return script_response(request, plotly_js_path(), max_age=86400)

    @app.get("/vendor/{name}", include_in_schema=False)
    def vendor_js(name: str, request: Request) -> Response:
        """frontend/vendor/*.js: the plotly.js partial bundles, their version in the name, so cached for good."""
        return script_response(request, vendor_path(FRONTEND_DIR / "vendor", name), max_age=YEAR_S, immutable=True)

    if FRONTEND_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=FRONTEND_DIR), name="static")

        @app.get("/", include_in_schema=False)
        def index() -> FileResponse:
            return FileResponse(FRONTEND_DIR / "index.html")

    return app
