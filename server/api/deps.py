"""Typed FastAPI dependencies: settings, a database session, the cloud engine, and the calling device or staff login.

Settings and engine dependencies are `async` on purpose: FastAPI runs plain `def` dependencies in its thread pool,
a cost /v1/predict should not pay on every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from server.api.errors import ApiError
from server.cloud_engine import CloudEngine, PredictBatcher
from server.core import security
from server.core.config import Settings
from server.db import crud
from server.db.crud import AuthenticatedDevice
from server.web.sessions import CSRF_HEADER, SESSION_COOKIE, WebLogin, load_login

bearer = HTTPBearer(auto_error=False, description="device token from POST /v1/enroll")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings  # set once by server.main.create_app
    return settings


async def get_cloud_engine(request: Request) -> CloudEngine:
    engine: CloudEngine = request.app.state.cloud_engine
    return engine


async def get_predict_batcher(request: Request) -> PredictBatcher:
    batcher: PredictBatcher = request.app.state.predict_batcher
    return batcher


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_write_session(request: Request) -> Iterator[Session]:
    with request.app.state.write_sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
CloudEngineDep = Annotated[CloudEngine, Depends(get_cloud_engine)]
PredictBatcherDep = Annotated[PredictBatcher, Depends(get_predict_batcher)]
SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _lookup(request: Request, token: str) -> AuthenticatedDevice:
    with request.app.state.sessions() as session:
        device = crud.device_by_token(session, token)
    if device is None:
        raise ApiError(401, "invalid_token", "The device token is unknown or revoked; enroll the device again.",
                       headers=_CHALLENGE)
    return device


async def _device(request: Request, token: str) -> AuthenticatedDevice:
    """The device the middleware verified for this very request (`CallerGate`), else a lookup of our own."""
    verified: AuthenticatedDevice | None = getattr(request.state, "device", None)
    if verified is not None:
        return verified
    return await run_in_threadpool(_lookup, request, token)


async def current_device(request: Request, credentials: Credentials) -> AuthenticatedDevice:
    if credentials is None:
        raise ApiError(401, "missing_token", "This endpoint needs a device token (Authorization: Bearer …).",
                       headers=_CHALLENGE)
    return await _device(request, credentials.credentials)


DeviceDep = Annotated[AuthenticatedDevice, Depends(current_device)]


async def optional_device(request: Request, credentials: Credentials,
                          settings: SettingsDep) -> AuthenticatedDevice | None:
    """The device when a token is sent (a wrong one is still refused); None for anonymous callers, if allowed."""
    if credentials is None:
        if settings.predict_auth == "device":
            raise ApiError(401, "missing_token", "This endpoint needs a device token (Authorization: Bearer …).",
                           headers=_CHALLENGE)
        return None
    return await _device(request, credentials.credentials)


OptionalDeviceDep = Annotated[AuthenticatedDevice | None, Depends(optional_device)]


async def predict_caller(request: Request, credentials: Credentials,
                         settings: SettingsDep) -> AuthenticatedDevice | WebLogin | None:
    """Who asks for a diagnosis: a device (bearer token), the browser page (staff session), or anonymous.

    API clients send no cookie and are treated exactly as before (`optional_device`). A request that carries the
    page's session cookie must also carry its CSRF token in the X-CSRF-Token header, else 403: a cookie alone is
    what a forged cross-site request would have. A session that has ended is 401, so the page can send its user to
    log in again instead of quietly answering as anonymous.
    """
    if credentials is not None:
        return await optional_device(request, credentials, settings)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id is None:
        return await optional_device(request, credentials, settings)
    if not security.same_secret(request.headers.get(CSRF_HEADER), security.csrf_token(session_id)):
        raise ApiError(403, "csrf_failed", f"A request with the page's session cookie needs its {CSRF_HEADER} "
                       "header; reload the page.")
    login = await run_in_threadpool(load_login, request)
    if login is None:
        raise ApiError(401, "session_expired", "The staff session has ended; log in again at /app/login.")
    return login


PredictCallerDep = Annotated[AuthenticatedDevice | WebLogin | None, Depends(predict_caller)]
