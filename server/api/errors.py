"""Errors as JSON, always in one shape: `{"error": {"code", "field", "message", "request_id"}}`.

No traceback or exception text ever reaches a client: unexpected errors are logged with the request id and answered
with a 500 that carries only that id. Validation errors name the field but never echo the value sent, which may be
clinical data or an identifier that should not have been sent. As a last line, every message and field passes
through `printable` on its way out: cut to a short length, with anything that is not printable text (a lone
surrogate, a control character) escaped, so no client-chosen text can be echoed at length or break the answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.core.errors import ApiError as ApiError  # defined beside the service core; raised from here on

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 413: "body_too_large", 415: "unsupported_media_type",
    416: "range_not_satisfiable", 422: "invalid_request", 429: "rate_limited", 500: "internal_error",
}


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


MAX_MESSAGE, MAX_FIELD = 400, 80  # our own messages are shorter; anything longer carries someone else's text


def printable(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with what cannot be printed (or encoded as UTF-8) escaped as \\x or \\u."""
    if len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
                   for ch in text)


def error_body(code: str, message: str, field: str | None = None, rid: str | None = None) -> dict[str, Any]:
    shown_field = None if field is None else printable(field, MAX_FIELD)
    return {"error": {"code": printable(code, MAX_FIELD), "field": shown_field,
                      "message": printable(message, MAX_MESSAGE), "request_id": rid}}


def error_response(status: int, code: str, message: str, field: str | None = None, rid: str | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
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

    @app.exception_handler(ResponseValidationError)
    async def _answer_breaks_its_schema(request: Request, exc: ResponseValidationError) -> JSONResponse:
        # A bug of the service: an answer that does not match its declared response_model. Logged by location and
        # error type only, because the exception's own text repeats the answer, which is clinical data.
        rid = request_id(request)
        problems = "; ".join(f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('type')}"
                             for e in exc.errors()[:5])
        log.error("the answer of %s %s breaks its response schema [%s]: %s", request.method, request.url.path, rid,
                  problems)
        return error_response(500, "internal_error", f"Internal error; the server log has the details ({rid}).",
                              None, rid)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        log.error("unhandled error in %s %s [%s]", request.method, request.url.path, rid, exc_info=exc)
        return error_response(500, "internal_error", f"Internal error; the server log has the details ({rid}).",
                              None, rid)
