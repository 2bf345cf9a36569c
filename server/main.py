"""The FastAPI application: `create_app()` builds it from settings (uvicorn calls it once per worker process).

At start each process opens the database, brings the schema to head (a no-op after `vereda-server serve` did it),
and loads the diagnosis engine, so a broken database or bundle stops the process with a message instead of failing
requests later.

The interactive API documentation (/docs) is off unless `VEREDA_SERVER_API_DOCS_DIR` names a folder holding
Swagger UI's two files: FastAPI's default page would load them from a CDN into the origin that serves the browser
page (/app), handing that CDN the staff's sessions. /openapi.json, which clients and tests read, is always served.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from app import __version__
from app.core.bundle import shipped_bundle_dir
from server.api import errors
from server.api.errors import ApiError
from server.api.limits import JsonLimits
from server.api.middleware import CallerGate, RequestBodyGuard, RequestObserver
from server.api.router import aliases, root, v1
from server.api.routes.predict import PredictLane
from server.cloud_engine import CloudEngine, PredictBatcher
from server.core import logs
from server.core.config import DOCS_FILES, Settings
from server.core.ratelimit import SharedRateLimiter
from server.db import migrate
from server.db.session import make_engine, make_sessions
from server.schemas import FeedbackBatchCreate
from server.web import pages

log = logging.getLogger(__name__)

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
        # Replicas of a cluster do not migrate (a job does, once per release): they only check the schema.
        if settings.migrate_at_start:
            migrate.upgrade(engine)
        else:
            migrate.require_head(engine)
        sessions = make_sessions(engine)
        app.state.sessions = sessions
        app.state.write_sessions = make_sessions(engine, write=True)
        # The login form's limits (per address and per user name) are shared by all processes like the API's.
        app.state.login_limiter = SharedRateLimiter(app.state.write_sessions, settings.login_rate_per_minute / 60.0,
                                                    settings.login_burst, "login")
        cloud = CloudEngine(sessions, settings.bundle_cache, settings.model_refresh_seconds, shipped_bundle_dir(),
                            public_key=settings.bundle_public_key)
        cloud.refresh()
        app.state.cloud_engine = cloud
        # Everything loaded so far (the engine's tables and models, the app, the libraries) lives as long as the
        # process: move it out of the cyclic collector's reach. Otherwise each full collection walks all of it —
        # 100-200 ms stalls of every request in flight under load (bench/predict_http.py's p99). Reference counting
        # still frees these objects; only their cycles are no longer looked for.
        gc.collect()
        gc.freeze()
        batcher = PredictBatcher(settings.predict_batch_max)
        batcher.start()
        app.state.predict_batcher = batcher
        log.info("vereda-server %s ready: database %s, model %s", __version__, engine.url.render_as_string(),
                 cloud.loaded_version)
        yield
        await batcher.stop()
        engine.dispose()

    app = FastAPI(title="Vereda central service", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.settings = settings
    errors.install(app)
    # Added last runs first: the observer sees every request, including those the gate and the guard refuse; the
    # gate decides who is calling (and their rate limit) before the guard spends time reading a body.
    # The guard checks every body under /v1/ and /predict; a route that parses JSON from anywhere else calls
    # `server.api.limits.check_json(body, request.app.state.json_limits)` itself.
    app.state.json_limits = JsonLimits(settings.max_json_depth, settings.max_json_number_chars)
    # Innermost: a predict request whose caller needs no further check is answered here, past the router and the
    # dependency solver (server/api/routes/predict.py); it has passed the observer, the gate and the guard.
    app.add_middleware(PredictLane, open_to_anonymous=settings.predict_auth == "open")
    app.add_middleware(RequestBodyGuard, max_body_bytes=settings.max_body_bytes, limits=app.state.json_limits)
    app.add_middleware(CallerGate, per_second=settings.rate_limit_per_second, burst=settings.rate_limit_burst,
                       session_idle_minutes=settings.session_idle_minutes)
    app.add_middleware(RequestObserver)
    app.include_router(root)
    app.include_router(v1)
    app.include_router(aliases)
    # The browser page (issue 9), with its own script, style and icon served from the package. Its login limiter
    # is set in the lifespan, where the database it counts in is opened.
    app.include_router(pages.router)
    app.add_api_route("/", lambda: RedirectResponse("/app", status_code=307), include_in_schema=False)
    if settings.api_docs_dir is not None:
        _serve_docs(app, settings.api_docs_dir)
    # FastAPI's documented way to customise the schema is to replace this method on the instance.
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # replacing a method is the point
    return app


def _serve_docs(app: FastAPI, folder: Path) -> None:
    """/docs from Swagger UI's files in `folder` (checked by Settings), served by this service: nothing is fetched
    from elsewhere."""
    files = {name: folder / name for name in DOCS_FILES}

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API",
                                   swagger_js_url="/docs/files/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/files/swagger-ui.css",
                                   swagger_favicon_url="/app/static/icon.svg")

    async def docs_file(name: str) -> FileResponse:
        path = files.get(name)  # only these two files, by name: no path is ever built from the URL
        if path is None:
            raise ApiError(404, "not_found", "No such file.")
        return FileResponse(path, headers={"X-Content-Type-Options": "nosniff"})

    app.add_api_route("/docs", docs, include_in_schema=False)
    app.add_api_route("/docs/files/{name}", docs_file, include_in_schema=False)
