"""GET /v1/models/latest and GET /v1/models/{version}/bundle: model updates for enrolled devices.

The bundle is one archive made at publish time, served with HTTP Range so a download cut by a bad link resumes where
it stopped: `Range: bytes=N-` gives 206 and the rest; `If-Range` with the ETag (the archive's sha256) makes sure the
rest belongs to the same archive; a range past the end gives 416. The client verifies sha256 and the signature.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from server.api.deps import DeviceDep, SessionDep
from server.api.errors import ApiError
from server.core import metrics
from server.db import crud
from server.db.models import ModelVersion
from server.registry import ARCHIVE_MEDIA_TYPE
from server.schemas import ErrorPublic, ModelArchivePublic, ModelPublic

router = APIRouter(tags=["models"])

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def bundle_url(version: str) -> str:
    return f"/v1/models/{version}/bundle"


def public(model: ModelVersion) -> ModelPublic:
    return ModelPublic(
        version=model.version, stage=model.stage, created=model.created, expires=model.expires,  # type: ignore[arg-type]
        manifest_sha256=model.manifest_sha256, signature=model.signature, manifest=model.manifest,
        archive=ModelArchivePublic(url=bundle_url(model.version), format=model.archive_format,
                                   media_type=ARCHIVE_MEDIA_TYPE, sha256=model.archive_sha256,
                                   size=model.archive_size),
        published_at=model.published_at, promoted_at=model.promoted_at,
    )


@router.get("/models/latest", response_model=ModelPublic,
            responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic, "description": "no production model"}})
def latest(device: DeviceDep, session: SessionDep) -> ModelPublic:
    """The production model's manifest, signature and archive (URL, sha256, size)."""
    model = crud.production_model(session)
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
        suffix = int(last)
        if suffix == 0:
            raise ApiError(416, "range_not_satisfiable", "An empty suffix range cannot be served.",
                           headers={"Content-Range": f"bytes */{size}"})
        return max(size - suffix, 0), size
    start = int(first)
    if last and int(last) < start:  # last before first: an invalid range, ignored
        return None
    if start >= size:
        raise ApiError(416, "range_not_satisfiable", f"The archive has {size} bytes; the range starts at {start}.",
                       headers={"Content-Range": f"bytes */{size}"})
    return start, size if not last else min(int(last) + 1, size)


BUNDLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {ARCHIVE_MEDIA_TYPE: {}}, "description": "the whole archive"},
    206: {"content": {ARCHIVE_MEDIA_TYPE: {}}, "description": "the requested range (Content-Range says which)"},
    401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}, 416: {"model": ErrorPublic},
}


@router.get("/models/{version}/bundle", response_class=Response, responses=BUNDLE_RESPONSES,
            operation_id="download_model_bundle")
def bundle(version: str, request: Request, device: DeviceDep, session: SessionDep) -> Response:
    """The bundle archive (tar.gz), whole or by range; ETag is its sha256 in quotes."""
    model = crud.get_model(session, version)
    if model is None:
        raise ApiError(404, "model_not_found", f"No published model has version {version}.", "version")
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
                     responses=BUNDLE_RESPONSES, operation_id="model_bundle_headers",
                     summary="Size, ETag and sha256 of the bundle archive, without the body")
