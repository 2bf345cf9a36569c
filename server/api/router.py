"""The API's routes: every resource under /v1, /health and /metrics at the root, and the origin aliases.

The origin document's service answered `/predict`, `/health` and `/symptoms`; those paths stay, served by the same
handlers as their /v1 counterparts.
"""

from __future__ import annotations

from fastapi import APIRouter

from server.api.routes import device, enroll, feedback, health, metrics, models, predict, symptoms

v1 = APIRouter(prefix="/v1")
for resource in (health, enroll, device, feedback, models, predict, symptoms):
    v1.include_router(resource.router)

root = APIRouter()
root.include_router(health.router)
root.include_router(metrics.router)

aliases = APIRouter(tags=["origin document aliases"])
aliases.add_api_route("/predict", predict.predict, methods=["POST"], summary="Alias of POST /v1/predict",
                      **predict.ROUTE)
aliases.add_api_route("/symptoms", symptoms.symptoms, methods=["GET"], summary="Alias of GET /v1/symptoms")
