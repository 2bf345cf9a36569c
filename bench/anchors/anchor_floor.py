"""The HTTP floor for bench/predict_http.py: FastAPI under uvicorn parsing the request's JSON and answering a constant.

Nothing can answer /v1/predict faster on this stack than this does; the distance between it and Vereda is what the
diagnosis, its checks and its answer cost. Run with 2 workers:

    uvicorn --app-dir bench/anchors anchor_floor:app --workers 2 --port 8002
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request

app = FastAPI()

ANSWER = {"severity": "ENFERMEDAD_AGUDA", "requires_immediate_attention": True}


@app.post("/v1/predict")
async def predict(request: Request) -> dict[str, Any]:
    json.loads(await request.body())
    return ANSWER
