"""Pure ASGI middleware: request ids, access logs and metrics; body size limit and rate limit.

Written as plain ASGI callables, not Starlette's BaseHTTPMiddleware, because they run on every predict request and
must cost microseconds, and because a streamed bundle download must pass through untouched.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.errors import BodyTooLarge, error_response
from server.core import metrics
from server.core.ratelimit import RateLimiter
from server.core.security import caller_tag

access_log = logging.getLogger("vereda.server.access")

UNLIMITED_PATHS = frozenset({"/health", "/v1/health", "/metrics"})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def caller(scope: Scope) -> str:
    """Who is asking, for logs and rate limits: a device (hashed token) or an address."""
    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == b"bearer ":
        return "device:" + caller_tag(auth[7:].decode("latin-1").strip())
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def route_label(scope: Scope) -> str:
    """The matched route's template with its router prefix (`/v1/models/{version}/bundle`), for bounded labels.

    FastAPI puts the route as declared in its router in the scope (`/models/{version}/bundle`); the prefix is the
    raw path's leading segments that the template does not cover (templates here never span segments).
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return "unmatched"
    raw = scope["path"].strip("/").split("/")
    depth = len(template.strip("/").split("/")) if template.strip("/") else 0
    prefix = [part for part in raw[: max(len(raw) - depth, 0)] if part]  # "/" itself has no prefix
    return ("/" + "/".join(prefix) if prefix else "") + template


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


class RequestLimits:
    """413 for bodies over `max_body_bytes` (declared or streamed), 429 past the caller's token bucket."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, limiter: RateLimiter) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = scope.get("state", {}).get("request_id")
        if self.limiter.enabled and scope["path"] not in UNLIMITED_PATHS:
            wait = self.limiter.allow(caller(scope))
            if wait > 0:
                retry = str(max(1, math.ceil(wait)))
                response = error_response(429, "rate_limited", f"Too many requests; retry in {retry} s.", None, rid,
                                          {"Retry-After": retry})
                await response(scope, receive, send)
                return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            response = error_response(413, "body_too_large",
                                      f"The request body is larger than {self.max_body_bytes} bytes.", None, rid)
            await response(scope, receive, send)
            return
        limit = self.max_body_bytes
        seen = 0

        async def counted_receive() -> Message:
            # A chunked body has no Content-Length: count it as it arrives and stop at the limit.
            nonlocal seen
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message  # type: ignore[return-value]

        await self.app(scope, counted_receive, send)
