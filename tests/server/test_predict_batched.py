"""/v1/predict under concurrent load on a real `vereda-server serve`: requests that arrive together are diagnosed in
one vectorised `diagnose_many` call (server/cloud_engine.py) and written with orjson, and each answer is still the
engine's one-request answer; the faster JSON reading changes nothing a client can see.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from app.core.engine import DiagnosisEngine
from model_export import knowledge
from model_export.simulator import Simulator
from tests.core.reference_engine import reference_diagnose_many
from tests.core.test_engine_batch import _worst
from tests.server.helpers import Server

TIMEOUT = 60
CONCURRENT = 64  # more than the batcher's default 32 per call and the engine's array-rules threshold (32)
# onnxruntime's float32 sums depend on the batch's shape, and the service's batches are whatever arrived together:
# a probability (4 decimals) or a model score (6) may then differ by one unit of its last decimal, nothing more.
# Everything else (states, levels, flags, conditions, rare diseases, explanations' inputs) must be identical.
LAST_DECIMAL = 1e-4 + 1e-9


@pytest.fixture(scope="module")
def server(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    database = f"sqlite:///{tmp_path_factory.mktemp('predict-batched') / 'vereda-server.db'}"
    server: Server = start_server(database)
    return server


def test_concurrent_answers_are_the_one_request_answers(server: Server, engine: DiagnosisEngine) -> None:
    patients = Simulator(knowledge.load()).sample(CONCURRENT * 3, seed=161).requests
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=CONCURRENT))

    def post(body: dict[str, Any]) -> requests.Response:
        return session.post(server.url + "/v1/predict", json=body, timeout=TIMEOUT)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        replies = list(pool.map(post, patients))
    assert [r.status_code for r in replies] == [200] * len(patients)
    assert {r.headers["content-type"] for r in replies} == {"application/json"}
    expected = reference_diagnose_many(engine, [engine.validate(p) for p in patients], "cloud")
    for reply, want in zip(replies, expected, strict=True):
        assert _worst(reply.json(), json.loads(json.dumps(want))) <= LAST_DECIMAL


@pytest.mark.parametrize(("body", "code", "detail"), [
    # 30 digits: orjson refuses integers beyond 64 bits; the standard library reads it and the contract judges it.
    (b'{"age": 100000000000000000000000000000, "sex": "F", "symptoms": {"fiebre": 5, "tos": 5, "fatiga": 5}}',
     "out_of_range", None),
    (b'{"age": 40, "sex": "F", "symptoms": {"fiebre": 5,}}', "invalid_json", "line 1, column 50"),
    # NaN is not JSON: refused before the route reads the body (server/api/limits.py), as it always was.
    (b'{"age": NaN, "sex": "F", "symptoms": {"fiebre": 5, "tos": 5, "fatiga": 5}}', "invalid_json", "NaN"),
])
def test_json_is_read_as_before(server: Server, body: bytes, code: str, detail: str | None) -> None:
    reply = requests.post(server.url + "/v1/predict", data=body, headers={"Content-Type": "application/json"},
                          timeout=TIMEOUT)
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == code
    if detail is not None:
        assert detail in error["message"]
