"""The FastAPI application: `create_app()` builds it from settings (uvicorn calls it once per worker process).

At start each process opens the database, brings the schema to head (a no-op after `vereda-server serve` did it),
and loads the diagnosis engine, so a broken database or bundle stops the process with a message instead of failing
requests later.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse

from app import __version__
from app.core.bundle import shipped_bundle_dir
from server.api import errors
from server.api.middleware import RequestLimits, RequestObserver
from server.api.router import aliases, root, v1
from server.cloud_engine import CloudEngine, PredictBatcher
from server.core import logs
from server.core.config import Settings
from server.core.ratelimit import RateLimiter
from server.db import migrate
from server.db.session import make_engine, make_sessions
from server.schemas import FeedbackBatchCreate
from server.web import pages

log = logging.getLogger("vereda.server")

DESCRIPTION = """Central service of Vereda, an offline-first diagnosis aid for rural clinics.

Devices enroll with a one-time code, send de-identified confirmed outcomes (`/v1/feedback:batch`, idempotent by
record UUID), fetch signed model updates (`/v1/models/latest`, resumable `/v1/models/{version}/bundle`), and may ask
for a cloud diagnosis (`/v1/predict`, the same contract as the app). Staff of connected sites use the browser page
at `/app` (login, then the same findings as the desktop consultation). Every error is
`{"error": {"code", "field", "message", "request_id"}}`. See docs/api.md.
"""


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the feedback batch body, which the handler validates record by record."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    batch = FeedbackBatchCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(batch.pop("$defs", {}))
    components["FeedbackBatchCreate"] = batch
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.load()
    logs.configure(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database)
        migrate.upgrade(engine)
        sessions = make_sessions(engine)
        app.state.sessions = sessions
        app.state.write_sessions = make_sessions(engine, write=True)
        cloud = CloudEngine(sessions, settings.bundle_cache, settings.model_refresh_seconds, shipped_bundle_dir())
        cloud.refresh()
        app.state.cloud_engine = cloud
        batcher = PredictBatcher(settings.predict_batch_max)
        batcher.start()
        app.state.predict_batcher = batcher
        log.info("vereda-server %s ready: database %s, model %s", __version__, engine.url.render_as_string(),
                 cloud.loaded_version)
        yield
        await batcher.stop()
        engine.dispose()

    app = FastAPI(title="Vereda central service", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    errors.install(app)
    # Added last runs first: the observer sees every request, including those the limits refuse.
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes,
                       limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst))
    app.add_middleware(RequestObserver)
    app.include_router(root)
    app.include_router(v1)
    app.include_router(aliases)
    # The browser page (issue 9), with its own script, style and icon served from the package.
    app.state.login_limiter = pages.login_limiter(settings)
    app.include_router(pages.router)
    app.add_api_route("/", lambda: RedirectResponse("/app", status_code=307), include_in_schema=False)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
