"""POST /v1/predict: the diagnose contract answered by the central service (`"engine": "cloud"`).

The body is the same request as `vereda diagnose` takes and the answer the same response, from the same `app.core`
engine; contract errors are 422 with the contract's own error object, in Spanish unless the caller asks for English
(`?lang=en` or `Accept-Language: en`). The browser page (/app) calls it with its session cookie and CSRF header (see
`deps.predict_caller`); API clients are unaffected. The handler is `async`: requests are validated one by one (so
each gets its own contract error) and diagnosed together with whatever else is waiting (`PredictBatcher`), on the
event loop, because the work is a millisecond or two of CPU and a thread hop would cost more than it frees.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.core.contract import ContractError
from server.api.deps import CloudEngineDep, PredictBatcherDep, PredictCallerDep
from server.core import metrics
from server.schemas import ErrorPublic

router = APIRouter(tags=["predict"])

EXAMPLE = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}
REQUEST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The diagnose contract (docs/api.md): age, sex, duration_days, symptoms, vitals, hpo_terms.",
        "content": {"application/json": {"schema": {"type": "object"}, "example": EXAMPLE}},
    }
}


def language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.headers.get("accept-language", "es")
    return "en" if lang.strip().lower().startswith("en") else "es"


@router.post("/predict", openapi_extra=REQUEST_DOC,
             responses={200: {"description": "the diagnose response, with engine = cloud"},
                        401: {"model": ErrorPublic}, 403: {"model": ErrorPublic, "description": "the browser "
                              "page's session cookie without its CSRF token"}, 413: {"model": ErrorPublic},
                        422: {"model": ErrorPublic, "description": "the request breaks the diagnose contract"},
                        429: {"model": ErrorPublic}})
async def predict(request: Request, cloud: CloudEngineDep, batcher: PredictBatcherDep,
                  caller: PredictCallerDep) -> JSONResponse:
    """Diagnose one request with the production model (or the shipped bundle when none is in production)."""
    if cloud.refresh_due:
        await run_in_threadpool(cloud.refresh)  # may unpack a new bundle: keep it off the event loop
    engine = cloud.current()
    body = await request.body()
    try:
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = f"line {exc.lineno}, column {exc.colno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) \
                else "not UTF-8"
            raise ContractError("invalid_json", None, detail=detail) from None
        validated = engine.validate(raw)
    except ContractError as exc:
        body_json = exc.to_json(language(request))
        body_json["error"]["request_id"] = getattr(request.state, "request_id", None)
        return JSONResponse(body_json, status_code=422)
    result = await batcher.diagnose(engine, validated)
    metrics.PREDICTIONS.labels(result["model"]["version"], result["severity"]).inc()
    return JSONResponse(result)
