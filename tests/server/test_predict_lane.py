"""/v1/predict's short lane (`server.api.routes.predict.PredictLane`): the requests whose caller needs no further
check are answered past FastAPI's router and dependency solver, and nothing a client, an operator or Prometheus sees
changes: the same answers and errors, the same caller checks (device tokens, the page's cookie and CSRF token, a
service closed to anonymous callers), the shared rate limit, the request id, the route labels of the metrics. Plus
the batcher's batch-size histogram that shows how many requests each engine call diagnosed.

Real `vereda-server serve` processes on loopback; one in-process app only to see which requests took the route.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import Request

from tests.server.helpers import CASE4, METRICS_AUTH, Server, auth, enroll

TIMEOUT = 60
CONCURRENT = 24
# Any Authorization that is not a device token: the gate does not look it up, so the route's dependencies decide.
NOT_A_DEVICE_TOKEN = {"Authorization": "Basic dXNlcjpwYXNz"}


@pytest.fixture(scope="module")
def server(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    database = f"sqlite:///{tmp_path_factory.mktemp('predict-lane') / 'vereda-server.db'}"
    served: Server = start_server(database)
    return served


def _metric(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$" if labels else rf"^{re.escape(name)} ([0-9.e+]+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def _metrics(server: Server) -> str:
    reply = requests.get(server.url + "/metrics", headers=METRICS_AUTH, timeout=TIMEOUT)
    assert reply.status_code == 200
    return reply.text


def test_the_lane_answers_exactly_as_the_route(server: Server) -> None:
    for path in ("/v1/predict", "/predict"):
        lane = requests.post(server.url + path, json=CASE4, timeout=TIMEOUT)
        route = requests.post(server.url + path, json=CASE4, headers=NOT_A_DEVICE_TOKEN, timeout=TIMEOUT)
        assert lane.status_code == route.status_code == 200, (lane.text, route.text)
        assert lane.content == route.content  # byte for byte: one request each, so the same batch of one
        assert lane.headers["content-type"] == route.headers["content-type"] == "application/json"
        assert lane.headers["x-request-id"] != route.headers["x-request-id"]
        for field in ("dolor_pecho", "age"):
            broken = {**CASE4, "symptoms": {**CASE4["symptoms"], "dolor_pecho": 11}} if field == "dolor_pecho" \
                else {**CASE4, "age": -1}
            errors = [requests.post(server.url + path + "?lang=en", json=broken, headers=headers, timeout=TIMEOUT)
                      for headers in ({}, NOT_A_DEVICE_TOKEN)]
            assert [e.status_code for e in errors] == [422, 422]
            bodies = [e.json()["error"] for e in errors]
            for body, reply in zip(bodies, errors, strict=True):
                assert body.pop("request_id") == reply.headers["x-request-id"]  # the error names its own request
            assert bodies[0] == bodies[1] and field in (bodies[0]["field"] or "")


def test_device_tokens_are_still_checked(server: Server) -> None:
    device = enroll(server.url, server.database)
    known = requests.post(server.url + "/v1/predict", json=CASE4, headers=auth(device), timeout=TIMEOUT)
    assert known.status_code == 200 and known.json()["severity"] == "ENFERMEDAD_AGUDA"
    unknown = requests.post(server.url + "/v1/predict", json=CASE4, headers={"Authorization": "Bearer nadie"},
                            timeout=TIMEOUT)
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "invalid_token"


def test_the_page_cookie_still_needs_its_csrf_token(server: Server) -> None:
    # A session cookie without the X-CSRF-Token header is what a forged cross-site request sends: 403, never an
    # anonymous answer, whether or not the session exists.
    reply = requests.post(server.url + "/v1/predict", json=CASE4, cookies={"vereda_session": "x" * 43},
                          timeout=TIMEOUT)
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "csrf_failed"
    # Another site's cookie alone changes nothing.
    other = requests.post(server.url + "/v1/predict", json=CASE4, cookies={"theme": "dark"}, timeout=TIMEOUT)
    assert other.status_code == 200


def test_metrics_keep_their_route_labels_and_show_batch_sizes(server: Server) -> None:
    before = _metrics(server)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=CONCURRENT))
    paths = ["/v1/predict", "/predict"] * (CONCURRENT // 2)
    with ThreadPoolExecutor(CONCURRENT) as pool:
        replies = list(pool.map(lambda p: session.post(server.url + p, json=CASE4, timeout=TIMEOUT), paths))
    assert [r.status_code for r in replies] == [200] * CONCURRENT
    after = _metrics(server)
    for route in ("/v1/predict", "/predict"):
        labels = f'{{method="POST",route="{route}",status="200"}}'
        counted = _metric(after, "vereda_http_requests_total", labels) - _metric(before, "vereda_http_requests_total",
                                                                                labels)
        assert counted == CONCURRENT // 2
    # Every diagnosed request is in exactly one engine call of the batcher.
    diagnosed = _metric(after, "vereda_predict_batch_size_sum") - _metric(before, "vereda_predict_batch_size_sum")
    calls = _metric(after, "vereda_predict_batch_size_count") - _metric(before, "vereda_predict_batch_size_count")
    assert diagnosed == CONCURRENT and 1 <= calls <= CONCURRENT


def test_a_service_closed_to_anonymous_callers_stays_closed(start_server: Any, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'closed.db'}"
    closed: Server = start_server(database, env={"VEREDA_SERVER_PREDICT_AUTH": "device"})
    anonymous = requests.post(closed.url + "/v1/predict", json=CASE4, timeout=TIMEOUT)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "missing_token"
    device = enroll(closed.url, database)
    assert requests.post(closed.url + "/predict", json=CASE4, headers=auth(device), timeout=TIMEOUT).status_code == 200


def test_the_shared_rate_limit_still_applies(start_server: Any, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'limited.db'}"
    limited: Server = start_server(database, workers=2, env={"VEREDA_SERVER_RATE_LIMIT_PER_SECOND": "0.05",
                                                             "VEREDA_SERVER_RATE_LIMIT_BURST": "3"})
    # Two workers, one bucket in the database: the fourth request is refused whichever worker takes it.
    codes = [requests.post(limited.url + "/v1/predict", json=CASE4, timeout=TIMEOUT).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_only_requests_with_a_caller_to_check_take_the_route(tmp_path: Path) -> None:
    """Which requests the lane answers: seen by counting calls of the route's caller dependency in process."""
    from fastapi.testclient import TestClient

    from server.api.deps import predict_caller
    from server.core.config import Settings
    from server.main import create_app

    app = create_app(Settings.load(database_url=f"sqlite:///{tmp_path / 'lane.db'}", data_dir=tmp_path,
                                   rate_limit_per_second=0))
    routed: list[str] = []

    async def counted_caller(request: Request) -> None:
        routed.append(request.url.path)

    app.dependency_overrides[predict_caller] = counted_caller
    with TestClient(app) as client:
        for path in ("/v1/predict", "/predict"):
            assert client.post(path, json=CASE4).status_code == 200
        assert routed == []  # anonymous on an open service: nothing for the route to check
        assert client.post("/v1/predict", json=CASE4, headers=NOT_A_DEVICE_TOKEN).status_code == 200
        client.cookies.set("vereda_session", "x" * 43)
        assert client.post("/predict", json=CASE4).status_code == 200  # the override answers anonymous
        assert routed == ["/v1/predict", "/predict"]
