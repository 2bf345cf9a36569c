"""POST /v1/predict: the diagnose contract answered by the central service (`"engine": "cloud"`).

The body is the same request as `vereda diagnose` takes and the answer the same response, from the same `app.core`
engine; contract errors are 422 with the contract's own error object, in Spanish unless the caller asks for English
(`?lang=en` or `Accept-Language: en`). The browser page (/app) calls it with its session cookie and CSRF header (see
`deps.predict_caller`); API clients are unaffected. The handler is `async`: requests are validated one by one (so
each gets its own contract error) and diagnosed together with whatever else is waiting (`PredictBatcher`), on the
event loop, because the work is a millisecond or two of CPU and a thread hop would cost more than it frees. The
answer is the typed contract v2 response (`app.core.response.DiagnoseResponse`), declared as `response_model`.

`PredictLane` (innermost middleware, server/main.py) answers the requests that need no caller check — no session
cookie, and either no Authorization header on an open service or a device the `CallerGate` has just verified — with
the same `answer` as the route, past FastAPI's router and dependency solver: under load (bench/predict_http.py)
those cost about a third of a request's CPU outside the engine. Everything else (the browser page's cookie and CSRF
check, a service that requires a device, odd Authorization headers) takes the route. Either way the request has gone
through the request id, metrics, logs, the caller's database-backed rate limit and the body checks first.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.contract import ContractError
from app.core.response import DiagnoseResponse
from server.api.deps import CloudEngineDep, PredictBatcherDep, PredictCallerDep
from server.cloud_engine import CloudEngine, PredictBatcher
from server.core import metrics
from server.schemas import ErrorPublic
from server.web.sessions import SESSION_COOKIE

router = APIRouter(tags=["predict"])

# A contract v2 request: a pregnant woman at 34 weeks with severe pre-eclampsia (EMERGENCIA by the WHO rule).
EXAMPLE = {
    "age": 28, "sex": "F", "duration_days": 1,
    "symptoms": {"dolor_cabeza": 8, "cambios_vision": 6, "nausea": 3},
    "vitals": {"systolic_bp": 168, "diastolic_bp": 112, "heart_rate": 96, "weight_kg": 71.5},
    "pregnancy": {"status": "pregnant", "weeks": 34},
    "consciousness": "A",
    "signs": [],
}
REQUEST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The diagnose contract v2 (docs/api.md): `age` (years, 0-120; a 5-day-old is 0.014) and `sex` "
        "required; optional `duration_days`, `symptoms` (key -> intensity 0-10), `vitals` (including `weight_kg`, "
        "`height_cm`, `muac_mm`, `capillary_refill_s`), `hpo_terms`, `excluded_hpo_terms` (HPO terms looked for and "
        "found absent; not findings for the minimum), `pregnancy` (`status` pregnant with `weeks`, postpartum with "
        "`days_since_delivery`, not_pregnant or unknown; women aged 10-60 only), `consciousness` "
        "(AVPU: A, V, P or U) and `signs` (examination findings from app/core/data/signs.toml). At least 3 findings: "
        "symptoms of intensity 1 or more, signs and HPO terms. Every contract v1 request is valid.",
        "content": {"application/json": {"schema": {"type": "object"}, "example": EXAMPLE}},
    }
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the diagnose response (contract 2), with engine = cloud"},
    401: {"model": ErrorPublic},
    403: {"model": ErrorPublic, "description": "the browser page's session cookie without its CSRF token"},
    413: {"model": ErrorPublic},
    422: {"model": ErrorPublic, "description": "the request breaks the diagnose contract: the contract's error "
          "object naming the field, in Spanish or (with ?lang=en or Accept-Language: en) English"},
    429: {"model": ErrorPublic},
}
# The answer is declared as DiagnoseResponse (the schema a client reads in /openapi.json) and written with orjson,
# not validated and dumped by pydantic on the way out: under load (bench/predict_http.py) that step cost more than
# the whole vectorised diagnosis of the request. The engine builds the answer from fixed code (plain str, int,
# float, bool, list and dict only), and tests/server/test_predict_v2.py holds real answers to the schema.
# Shared by POST /v1/predict and the origin document's POST /predict (server/api/router.py).
ROUTE: dict[str, Any] = {"response_model": DiagnoseResponse, "openapi_extra": REQUEST_DOC, "responses": RESPONSES}


def language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.headers.get("accept-language", "es")
    return "en" if lang.strip().lower().startswith("en") else "es"


@router.post("/predict", **ROUTE)
async def predict(request: Request, cloud: CloudEngineDep, batcher: PredictBatcherDep,
                  caller: PredictCallerDep) -> Response:
    """Diagnose one request with the production model (or the shipped bundle when none is in production)."""
    return await answer(request, cloud, batcher)


async def answer(request: Request, cloud: CloudEngine, batcher: PredictBatcher) -> Response:
    """The diagnosis of a request whose caller has been checked: by the route's dependencies, or by `PredictLane`."""
    if cloud.refresh_due:
        await run_in_threadpool(cloud.refresh)  # may unpack a new bundle: keep it off the event loop
    engine = cloud.current()
    body = await request.body()
    try:
        try:
            raw = _parse(body)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = f"line {exc.lineno}, column {exc.colno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) \
                else "not UTF-8"
            raise ContractError("invalid_json", None, detail=detail) from None
        validated = engine.validate(raw)
    except ContractError as exc:
        body_json = exc.to_json(language(request))
        body_json["error"]["request_id"] = getattr(request.state, "request_id", None)
        return JSONResponse(body_json, status_code=422)
    # `?next_findings=false`: callers that only want the answer (bulk scoring, integrations) skip what to measure or
    # ask next, which costs more CPU than the diagnosis itself; clinics and the browser page get it by default.
    wanted = request.query_params.get("next_findings", "true").lower() not in ("false", "0", "no")
    result = await batcher.diagnose(engine, validated, wanted)
    metrics.PREDICTIONS.labels(result["model"]["version"], result["severity"]).inc()
    return Response(orjson.dumps(result), media_type="application/json")


PREDICT_PATHS = frozenset({"/v1/predict", "/predict"})  # POST /v1/predict and its origin-document alias
_SESSION_COOKIE = SESSION_COOKIE.encode() + b"="


class PredictLane:
    """POST /v1/predict and /predict straight to `answer` when `predict_caller` has nothing to check or look up.

    That is when the request carries no session cookie (whose CSRF token and session the route checks), and either
    sends no Authorization header to a service open to anonymous callers (`predict_auth = "open"`), or sends a
    device token that `CallerGate` has just verified (it answers 401 itself for one that no live device holds). In
    those cases the route's dependencies would decide exactly this and nothing else, so skipping FastAPI's router
    and dependency solver changes no answer; every other request goes on to the route. Installed innermost, after
    the observer, the gate (and its rate limit) and the body guard. An exception propagates as from the route, to
    the 500 handler of server.api.errors.
    """

    def __init__(self, app: ASGIApp, open_to_anonymous: bool) -> None:
        self.app = app
        self.open_to_anonymous = open_to_anonymous
        self._route = next(r for r in router.routes if getattr(r, "path", None) == "/predict")

    def _needs_no_check(self, scope: Scope) -> bool:
        authorization = cookie = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value
            elif key == b"cookie":
                cookie = value
        if cookie is not None and _SESSION_COOKIE in cookie:
            return False
        if authorization is None:
            return self.open_to_anonymous
        return scope.get("state", {}).get("device") is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PREDICT_PATHS or scope["method"] != "POST" \
                or not self._needs_no_check(scope):
            await self.app(scope, receive, send)
            return
        scope["route"] = self._route  # what the router would have set: the metrics' and logs' route label
        request = Request(scope, receive)
        state = scope["app"].state
        response = await answer(request, state.cloud_engine, state.predict_batcher)
        await response(scope, receive, send)


def _parse(body: bytes) -> Any:
    """The request's JSON: orjson when it can (several times faster), else the standard library, so that what is
    accepted and the error that names the fault stay exactly as before (orjson refuses integers beyond 64 bits,
    NaN and lone surrogates, which json accepts and the contract then judges)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)
