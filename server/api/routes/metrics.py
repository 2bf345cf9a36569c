"""GET /metrics: Prometheus exposition (see server.core.metrics), for whoever holds the metrics token.

The counters name clinics and show how much each one sends, so they are not for anyone who can reach the service:
Prometheus sends `Authorization: Bearer <VEREDA_SERVER_METRICS_TOKEN>` (its `authorization.credentials_file`), and
without that setting the route answers 404 as if it did not exist.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from server.api.deps import Credentials, SettingsDep
from server.api.errors import ApiError
from server.core import metrics as service_metrics
from server.core.security import same_secret
from server.schemas import ErrorPublic

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorPublic},
                       404: {"model": ErrorPublic, "description": "metrics are off (no metrics token is set)"}})
def metrics(settings: SettingsDep, credentials: Credentials) -> Response:
    expected = settings.metrics_token
    if expected is None:
        raise ApiError(404, "not_found", "Not found.")
    if credentials is None or not same_secret(credentials.credentials, expected.get_secret_value()):
        raise ApiError(401, "invalid_metrics_token", "/metrics needs the metrics token (Authorization: Bearer …).",
                       headers={"WWW-Authenticate": "Bearer"})
    body, content_type = service_metrics.render()
    return Response(body, media_type=content_type)
