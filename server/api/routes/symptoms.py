"""GET /v1/symptoms: the vocabulary of the model that answers /v1/predict (symptoms, vitals, conditions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from server.api.deps import CloudEngineDep

router = APIRouter(tags=["predict"])


@router.get("/symptoms", responses={200: {"description": "model_version plus the bundle's vocabulary"}})
async def symptoms(cloud: CloudEngineDep) -> dict[str, Any]:
    """Keys, es/en labels and HPO terms of every symptom; vital signs with units and plausible ranges."""
    if cloud.refresh_due:
        await run_in_threadpool(cloud.refresh)
    engine = cloud.current()
    return {"model_version": engine.bundle.version, **engine.vocabulary.to_json()}
