"""Pure ASGI middleware: request ids, access logs and metrics; who is calling and their rate limit; request bodies.

Written as plain ASGI callables, not Starlette's BaseHTTPMiddleware, because they run on every predict request and
must cost microseconds, and because a streamed bundle download must pass through untouched. From the outside in:

- `RequestObserver` gives each request an id, times it, counts it and logs one line.
- `CallerGate` finds out who is calling before any route runs: a Bearer token is looked up in the database on every
  request (so a device revoked through any process is refused by every process at its next request) and an unknown
  or revoked one is answered 401 on every route; then the caller's rate-limit bucket — the verified device, else the
  verified staff login, else the client address — is charged in the database, shared by all workers and replicas.
- `RequestBodyGuard` reads the whole body before the route does, refuses it with 413 past the size limit (declared or
  streamed), and refuses JSON that is nested too deep, has an over-long number or a lone surrogate (server.api.limits)
  before any parser sees it. Routes, /v1/predict included, then get the body in one piece.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.errors import error_response
from server.api.limits import JsonLimits, JsonRefused, check_json
from server.core import metrics
from server.core.ratelimit import SharedRateLimiter
from server.core.security import caller_tag
from server.db import crud, staff_accounts
from server.db.crud import AuthenticatedDevice
from server.web.sessions import SESSION_COOKIE

log = logging.getLogger(__name__)
access_log = logging.getLogger(__name__ + ".access")  # one line per request, filterable apart

UNLIMITED_PATHS = frozenset({"/health", "/v1/health", "/metrics"})
# The Bearer token of these paths is not a device token (Prometheus sends the metrics token).
NOT_DEVICE_TOKEN_PATHS = frozenset({"/metrics"})
_MAX_SESSION_ID = 100  # a real session id is 43 characters; a longer cookie is not worth a query
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _header(scope: Scope, name: bytes) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])  # ASGI: (lower-case name, value) byte pairs
    for key, value in headers:
        if key == name:
            return value
    return None


def bearer_token(scope: Scope) -> str | None:
    """The Bearer credential of the request, if it sends one."""
    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == b"bearer ":
        token = auth[7:].decode("latin-1").strip()
        return token or None
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def caller(scope: Scope) -> str:
    """Who is asking, for logs: the verified caller when CallerGate ran, else a hash of the token or the address."""
    verified = scope.get("state", {}).get("caller")
    if verified:
        return str(verified)
    token = bearer_token(scope)
    return "device:" + caller_tag(token) if token else f"ip:{client_address(scope)}"


def route_label(scope: Scope) -> str:
    """The matched route's template with its router prefix (`/v1/models/{version}/bundle`), for bounded labels.

    FastAPI puts the route as declared in its router in the scope (`/models/{version}/bundle`); the prefix is the
    raw path's leading segments that the template does not cover (templates here never span segments).
    """
    route = scope.get("route")
    template: str | None = getattr(route, "path", None)
    if not template:
        return "unmatched"
    path: str = scope["path"]
    raw = path.strip("/").split("/")
    depth = len(template.strip("/").split("/")) if template.strip("/") else 0
    prefix = [part for part in raw[: max(len(raw) - depth, 0)] if part]  # "/" itself has no prefix
    return ("/" + "/".join(prefix) if prefix else "") + template


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
                  headers: dict[str, str] | None = None) -> None:
    rid = scope.get("state", {}).get("request_id")
    await error_response(status, code, message, None, rid, headers)(scope, receive, send)


class RequestObserver:
    """Gives each request an id (echoed as X-Request-ID), times it, counts it by route and logs one line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            label = route_label(scope)  # the template, never the raw path: metric labels stay bounded
            method = scope["method"]
            metrics.REQUESTS.labels(method, label, str(status)).inc()
            metrics.LATENCY.labels(method, label).observe(elapsed)
            access_log.info("%s %s %d %.1fms %s %s", method, label, status, elapsed * 1000, caller(scope), rid)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gate learnt: the device behind the token (None if there is no token or no such live device), the
    rate-limit key the request was charged to, and how long it must wait (0 = go ahead)."""

    device: AuthenticatedDevice | None
    key: str
    wait: float


class CallerGate:
    """401 for a token no live device holds, 429 past the caller's shared bucket; the verified device for the routes.

    The verified device is left in the request state (`request.state.device`), so the routes' dependencies do not
    look the token up a second time. With rate limits off and no token, nothing touches the database.
    """

    def __init__(self, app: ASGIApp, per_second: float, burst: int, session_idle_minutes: float) -> None:
        self.app = app
        self.per_second, self.burst = per_second, burst
        self.session_idle_minutes = session_idle_minutes
        self._limiter: SharedRateLimiter | None = None

    def limiter(self, state: Any) -> SharedRateLimiter:
        if self._limiter is None:  # the database sessions exist only once the app's lifespan has started
            self._limiter = SharedRateLimiter(state.write_sessions, self.per_second, self.burst, "api")
        return self._limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        token = None if path in NOT_DEVICE_TOKEN_PATHS else bearer_token(scope)
        limited = self.per_second > 0 and path not in UNLIMITED_PATHS
        if token is None and not limited:
            await self.app(scope, receive, send)
            return
        session_id = None
        if token is None:
            cookies = cookie_parser((_header(scope, b"cookie") or b"").decode("latin-1"))
            session_id = cookies.get(SESSION_COOKIE)
        try:
            verdict = await run_in_threadpool(self._decide, scope["app"].state, token, session_id,
                                              client_address(scope), limited)
        except SQLAlchemyError as exc:
            # The database is the only place tokens and buckets live: without it no request can be checked.
            log.error("cannot check the caller: database error %s", type(exc).__name__)
            await _answer(scope, receive, send, 503, "service_unavailable",
                          "The service cannot reach its database; try again shortly.", {"Retry-After": "5"})
            return
        state = scope.setdefault("state", {})
        state["caller"] = verdict.key
        if verdict.wait > 0:
            retry = str(max(1, math.ceil(verdict.wait)))
            await _answer(scope, receive, send, 429, "rate_limited", f"Too many requests; retry in {retry} s.",
                          {"Retry-After": retry})
            return
        if token is not None and verdict.device is None:
            await _answer(scope, receive, send, 401, "invalid_token",
                          "The device token is unknown or revoked; enroll the device again.", _CHALLENGE)
            return
        state["device"] = verdict.device
        await self.app(scope, receive, send)

    def _decide(self, app_state: Any, token: str | None, session_id: str | None, address: str,
                limited: bool) -> Verdict:
        """Look the caller up and charge its bucket, in one transaction (blocking: runs in a thread)."""
        sessions = app_state.write_sessions if limited else app_state.sessions
        with sessions() as session:
            device = crud.device_by_token(session, token) if token is not None else None
            key = f"ip:{address}"
            if device is not None:
                key = f"device:{device.id}"
            elif session_id and len(session_id) <= _MAX_SESSION_ID:
                idle = dt.timedelta(minutes=self.session_idle_minutes)
                login = staff_accounts.staff_by_session(session, session_id, idle)
                if login is not None:
                    key = f"staff:{login.staff_id}"
            wait = self.limiter(app_state).charge(session, key) if limited else 0.0
            session.commit()
        return Verdict(device, key, wait)


def _json_api(path: str) -> bool:
    """Paths whose bodies are JSON: the API (/v1/…) and the origin document's /predict. The browser page's forms
    (/app/…) are urlencoded and read by their own bounded parser."""
    return path.startswith("/v1/") or path == "/predict"


class RequestBodyGuard:
    """413 for bodies over `max_body_bytes` (declared or streamed); 422 for JSON that breaks `limits`."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, limits: JsonLimits) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limits = limits

    def _declared_too_large(self, scope: Scope) -> bool:
        declared = _header(scope, b"content-length")
        if declared is None:
            return False
        text = declared.strip()
        # Compared as text first: int() of a few thousand digits is refused by Python (and slow before that).
        return text.isdigit() and (len(text) > 18 or int(text) > self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_too_large(scope):
            await _answer(scope, receive, send, 413, "body_too_large",
                          f"The request body is larger than {self.max_body_bytes} bytes.")
            return
        has_body = _header(scope, b"content-length") not in (None, b"0") or \
            _header(scope, b"transfer-encoding") is not None
        if not has_body:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: there is no one to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                # Answered here, before any route or FastAPI's body parser can turn it into a 400; the rest of the
                # body is never read, and the server closes the connection after the answer.
                await _answer(scope, receive, send, 413, "body_too_large",
                              f"The request body is larger than {self.max_body_bytes} bytes.")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _json_api(scope["path"]):
            try:
                check_json(body, self.limits)
            except JsonRefused as exc:
                await _answer(scope, receive, send, 422, exc.code, exc.message)
                return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives the body already read, then whatever the client sends next (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
