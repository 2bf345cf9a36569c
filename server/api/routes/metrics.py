"""GET /metrics: Prometheus exposition (see server.core.metrics). Restrict it at the reverse proxy."""

from __future__ import annotations

from fastapi import APIRouter, Response

from server.core import metrics as service_metrics

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics() -> Response:
    body, content_type = service_metrics.render()
    return Response(body, media_type=content_type)
