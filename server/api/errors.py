"""Errors as JSON, always in one shape: `{"error": {"code", "field", "message", "request_id"}}`.

No traceback or exception text ever reaches a client: unexpected errors are logged with the request id and answered
with a 500 that carries only that id. Validation errors name the field but never echo the value sent, which may be
clinical data or an identifier that should not have been sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("vereda.server.errors")

STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 413: "body_too_large", 415: "unsupported_media_type",
    416: "range_not_satisfiable", 422: "invalid_request", 429: "rate_limited", 500: "internal_error",
}


class ApiError(Exception):
    """An error the API answers on purpose, with its status, code and message."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.headers = status, code, message, field, headers


class BodyTooLarge(Exception):
    """Raised from the receive channel when a streamed body passes the limit (see middleware)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_body(code: str, message: str, field: str | None = None, rid: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "field": field, "message": message, "request_id": rid}}


def error_response(status: int, code: str, message: str, field: str | None = None, rid: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field, rid), status_code=status, headers=headers)


_SAFE_NAME = re.compile(r"^[a-z_\[\]]{1,40}$")


def field_path(loc: Sequence[int | str]) -> str | None:
    """`("body", "records", 0, "week")` -> `records[0].week`.

    A location part can be a key the client chose (`{"symptoms": {"María Pérez": 1}}`), so only parts that look
    like field names are echoed; anything else (capitals, digits, spaces) shows as `?`.
    """
    out = ""
    for part in loc:
        if part == "body" and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _SAFE_NAME.match(part) else "?"
            out += f".{name}" if out else name
    return out or None


def validation_message(errors: Sequence[Any]) -> tuple[str | None, str]:
    """The first pydantic error as (field, message), without the offending input."""
    if not errors:
        return None, "invalid request"
    first = errors[0]
    field = field_path(first.get("loc", ()))
    msg = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return field, f"{field}: {msg}{more}" if field else f"{msg}{more}"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field, request_id(request), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return error_response(exc.status_code, code, message, None, request_id(request), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        field, message = validation_message(exc.errors())
        return error_response(422, "invalid_request", message, field, request_id(request))

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return error_response(413, "body_too_large", f"The request body is larger than {exc.limit} bytes.", None,
                              request_id(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        log.error("unhandled error in %s %s [%s]", request.method, request.url.path, rid, exc_info=exc)
        return error_response(500, "internal_error", f"Internal error; the server log has the details ({rid}).",
                              None, rid)
