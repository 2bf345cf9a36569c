"""Modes: offline never touches the network; hybrid asks the real service with a hard 2 s deadline and falls back to
the local engine ("engine" says which answered); cloud says clearly, in the clinic's language, when it cannot."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.core.contract import ContractError
from app.sync.messages import SyncError
from app.sync.predict import ModePredictor
from tests.server.helpers import CASE4, Server, free_port
from tests.sync.proxy import Fault, FaultProxy

PREDICT = "/v1/predict"


def test_offline_never_opens_a_connection(engine: Any, proxy: FaultProxy) -> None:
    predictor = ModePredictor(engine, "offline", proxy.url, "token")
    assert predictor.diagnose(CASE4)["engine"] == "local"
    assert proxy.connections == 0


def test_hybrid_falls_back_to_the_local_engine_and_uses_the_cloud_when_it_is_back(
        engine: Any, server: Server, proxy: FaultProxy) -> None:
    proxy.upstream_port = free_port()  # the service is down: nothing listens there
    predictor = ModePredictor(engine, "hybrid", proxy.url, None, cooldown=60)
    started = time.monotonic()
    answer = predictor.diagnose(CASE4)
    assert answer["engine"] == "local" and answer["severity"] == "ENFERMEDAD_AGUDA"
    assert time.monotonic() - started < 2.5
    tried = proxy.count(PREDICT)
    assert predictor.diagnose(CASE4)["engine"] == "local" and proxy.count(PREDICT) == tried  # cooling down

    proxy.upstream_port = server.port  # back up
    predictor = ModePredictor(engine, "hybrid", proxy.url, None, cooldown=0)
    cloud = predictor.diagnose(CASE4)
    assert cloud["engine"] == "cloud" and cloud["severity"] == "ENFERMEDAD_AGUDA"
    assert cloud["top_conditions"][0]["code"] == predictor.diagnose(CASE4)["top_conditions"][0]["code"]


def test_hybrid_gives_up_on_a_slow_service_at_the_deadline(engine: Any, proxy: FaultProxy) -> None:
    proxy.add(Fault("slow_response", PREDICT, 4.0))
    predictor = ModePredictor(engine, "hybrid", proxy.url, None)
    started = time.monotonic()
    assert predictor.diagnose(CASE4)["engine"] == "local"
    assert time.monotonic() - started < 2.6
    assert predictor.cloud_suspended


def test_cloud_mode_says_so_when_the_service_cannot_answer(engine: Any, server: Server, proxy: FaultProxy) -> None:
    proxy.add(Fault("status", PREDICT, 503))
    predictor = ModePredictor(engine, "cloud", proxy.url, None, cloud_timeout=2.0)
    with pytest.raises(SyncError) as info:
        predictor.diagnose(CASE4)
    assert info.value.code == "cloud_unavailable"
    assert "híbrido" in info.value.message("es") and "hybrid" in info.value.message("en")
    assert predictor.diagnose(CASE4)["engine"] == "cloud"  # no cooldown in cloud mode: the next try goes out
    with pytest.raises(SyncError) as info:
        ModePredictor(engine, "cloud", None).diagnose(CASE4)
    assert info.value.code == "cloud_not_configured"


@pytest.mark.parametrize("mode", ["offline", "hybrid", "cloud"])
def test_an_invalid_request_gets_the_same_error_in_every_mode_and_is_never_sent(engine: Any, proxy: FaultProxy,
                                                                                mode: str) -> None:
    predictor = ModePredictor(engine, mode, proxy.url, None)
    with pytest.raises(ContractError) as info:
        predictor.diagnose({"age": 40, "sex": "F", "symptoms": {"fiebre": 3}, "nombre": "María Pérez"})
    assert info.value.code == "unknown_field"
    assert proxy.count(PREDICT) == 0
