"""GET /health: is the process up and can it reach its database (for load balancers and monitoring)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from app import __version__
from server.api.deps import CloudEngineDep, SessionDep
from server.schemas import ErrorPublic, HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic, responses={500: {"model": ErrorPublic}})
def health(session: SessionDep, cloud: CloudEngineDep) -> HealthPublic:
    """Answers 200 only when the database answers; never needs a token and is not rate limited."""
    session.execute(text("SELECT 1"))
    return HealthPublic(status="ok", version=__version__, database="ok", model_version=cloud.loaded_version)
