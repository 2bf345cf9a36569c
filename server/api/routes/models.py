"""GET /v1/models/latest and GET /v1/models/{version}/bundle: model updates for enrolled devices.

The bundle is one archive made at publish time, served with HTTP Range so a download cut by a bad link resumes where
it stopped: `Range: bytes=N-` gives 206 and the rest; `If-Range` with the ETag (the archive's sha256) makes sure the
rest belongs to the same archive; a range past the end gives 416. The client verifies sha256 and the signature.

Staging bundles go only to devices marked as testers (`vereda-server device tester ID`): for them `latest` is the
newest staging bundle when it is newer than production, and only they may download a staging archive. Every other
device sees production (and may fetch archived versions it may still hold); a staging version is "not found" for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from app.core.bundle import is_newer
from server.api.deps import DeviceDep, SessionDep
from server.api.errors import ApiError
from server.core import metrics
from server.db import crud
from server.db.models import ModelVersion
from server.registry import ARCHIVE_MEDIA_TYPE, VERSION
from server.schemas import ErrorPublic, ModelArchivePublic, ModelPublic

router = APIRouter(tags=["models"])

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_FAR = 10**18  # past any archive: a position written with more digits means "past the end", not an int() to build


def bundle_url(version: str) -> str:
    return f"/v1/models/{version}/bundle"


def public(model: ModelVersion) -> ModelPublic:
    return ModelPublic(
        version=model.version, stage=model.stage, created=model.created, expires=model.expires,
        manifest_sha256=model.manifest_sha256, signature=model.signature, manifest=model.manifest,
        archive=ModelArchivePublic(url=bundle_url(model.version), format=model.archive_format,
                                   media_type=ARCHIVE_MEDIA_TYPE, sha256=model.archive_sha256,
                                   size=model.archive_size),
        published_at=model.published_at, promoted_at=model.promoted_at,
    )


@router.get("/models/latest", response_model=ModelPublic,
            responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic, "description": "no production model"}})
def latest(device: DeviceDep, session: SessionDep) -> ModelPublic:
    """The production model's manifest, signature and archive (URL, sha256, size); for a tester, the newest staging
    model instead when it is newer."""
    model = crud.production_model(session)
    if device.tester:
        candidate = crud.newest_staging_model(session)
        if candidate is not None and (model is None or is_newer(candidate.version, model.version)):
            model = candidate
    if model is None:
        raise ApiError(404, "no_production_model", "No model is in production yet; keep the installed one.")
    return public(model)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, as [start, end) clipped to the archive; None for the whole archive.

    Multiple or malformed ranges are ignored (the whole archive is sent), as RFC 9110 allows; a range that starts
    past the end raises the 416.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        suffix = _position(last)
        if suffix == 0:
            raise ApiError(416, "range_not_satisfiable", "An empty suffix range cannot be served.",
                           headers={"Content-Range": f"bytes */{size}"})
        return max(size - suffix, 0), size
    start = _position(first)
    if last and _position(last) < start:  # last before first: an invalid range, ignored
        return None
    if start >= size:
        raise ApiError(416, "range_not_satisfiable", f"The archive has {size} bytes; the range starts past its end.",
                       headers={"Content-Range": f"bytes */{size}"})
    return start, size if not last else min(_position(last) + 1, size)


def _position(digits: str) -> int:
    """A byte position from the header's digits, read as "far past the end" when it has too many to be real."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else _FAR


BUNDLE_HEADERS: dict[str, Any] = {"parameters": [
    {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"}, "example": "bytes=1000-",
     "description": "one byte range (bytes=N-, bytes=N-M or bytes=-N) to resume a cut download"},
    {"name": "If-Range", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "the ETag the partial file came from: another archive gets the whole of the current one"},
]}
BUNDLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {ARCHIVE_MEDIA_TYPE: {}}, "description": "the whole archive"},
    206: {"content": {ARCHIVE_MEDIA_TYPE: {}}, "description": "the requested range (Content-Range says which)"},
    401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}, 416: {"model": ErrorPublic},
}


@router.get("/models/{version}/bundle", response_class=Response, responses=BUNDLE_RESPONSES,
            operation_id="download_model_bundle", openapi_extra=BUNDLE_HEADERS)
def bundle(version: str, request: Request, device: DeviceDep, session: SessionDep) -> Response:
    """The bundle archive (tar.gz), whole or by range; ETag is its sha256 in quotes."""
    # The same answer for a malformed version, an unknown one and a staging one asked for by a non-tester: the
    # message does not repeat what was asked, and does not tell which versions are in staging.
    model = crud.get_model(session, version) if VERSION.match(version) else None
    if model is None or (model.stage == "staging" and not device.tester):
        raise ApiError(404, "model_not_found", "No published model has this version.", "version")
    size, etag = model.archive_size, f'"{model.archive_sha256}"'
    wanted = parse_range(request.headers.get("range"), size)
    if_range = request.headers.get("if-range")
    if wanted is not None and if_range is not None and if_range.strip() != etag:
        wanted = None  # the client's partial file is of another archive: start over
    start, end = wanted if wanted is not None else (0, size)
    headers = {
        "Accept-Ranges": "bytes", "ETag": etag, "Content-Length": str(end - start),
        "Content-Disposition": f'attachment; filename="vereda-model-{version}.tar.gz"',
        "Cache-Control": "private, no-transform", "X-Archive-SHA256": model.archive_sha256,
    }
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=ARCHIVE_MEDIA_TYPE)
    metrics.DOWNLOADS.labels(version, device.clinic_id, "true" if wanted is not None else "false").inc()
    sessions, model_id = request.app.state.sessions, model.id
    session.close()  # give the connection back now, not after a download that may take minutes

    def stream() -> Iterator[bytes]:
        # Its own session: the request's session is closed once the handler returns, before the body is sent.
        with sessions() as own:
            yield from crud.archive_chunks(own, model_id, start, end)

    return StreamingResponse(stream(), status_code=status, headers=headers, media_type=ARCHIVE_MEDIA_TYPE)


router.add_api_route("/models/{version}/bundle", bundle, methods=["HEAD"], response_class=Response,
                     responses=BUNDLE_RESPONSES, operation_id="model_bundle_headers", openapi_extra=BUNDLE_HEADERS,
                     summary="Size, ETag and sha256 of the bundle archive, without the body")
