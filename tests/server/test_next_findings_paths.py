"""next_findings (issue 19) on every path a user takes: the `vereda diagnose` process, a real `vereda-server serve`
(/v1/predict, alone and in the micro-batched path of concurrent requests) and `diagnose_many`, all the same list."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from app.core.engine import DiagnosisEngine
from model_export import knowledge
from model_export.simulator import Simulator
from tests.server.helpers import ROOT, Server

TIMEOUT = 60
RESPIRATORY: dict[str, Any] = {"age": 45, "sex": "M", "duration_days": 3,
               "symptoms": {"tos": 7, "fiebre": 8, "dificultad_respirar": 6},
               "vitals": {"temperature_c": 38.9, "heart_rate": 100, "respiratory_rate": 24, "systolic_bp": 125,
                          "diastolic_bp": 80}}


@pytest.fixture(scope="module")
def server(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    database = f"sqlite:///{tmp_path_factory.mktemp('next-findings') / 'vereda-server.db'}"
    server: Server = start_server(database)
    return server


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return [RESPIRATORY, *Simulator(knowledge.load()).sample(40, seed=1902).requests]


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "app.cli", "diagnose", "--data-dir", str(tmp_path / "clinic"),
                           *args], capture_output=True, timeout=300, cwd=ROOT)


def test_the_cli_process_gives_the_engines_list(tmp_path: Path, engine: DiagnosisEngine,
                                                cases: list[dict[str, Any]]) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(RESPIRATORY), encoding="utf-8")
    p = _cli(tmp_path, "--input", str(one))
    assert p.returncode == 0, p.stderr
    answer = json.loads(p.stdout)
    assert answer["next_findings"][0]["finding"] == "spo2"
    assert answer["next_findings"] == engine.diagnose(RESPIRATORY)["next_findings"]

    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(json.dumps(c) for c in cases), encoding="utf-8")
    p = _cli(tmp_path, "--batch", str(batch))
    assert p.returncode == 0, p.stderr
    lists = [json.loads(line)["next_findings"] for line in p.stdout.splitlines()]
    assert lists == [engine.diagnose(c)["next_findings"] for c in cases]
    assert sum(bool(x) for x in lists) > len(cases) // 2

    p = _cli(tmp_path, "--batch", str(batch), "--no-next-findings")
    assert p.returncode == 0, p.stderr
    assert [json.loads(line)["next_findings"] for line in p.stdout.splitlines()] == [[]] * len(cases)


def test_the_service_gives_the_engines_list_alone_and_batched(server: Server, engine: DiagnosisEngine,
                                                              cases: list[dict[str, Any]]) -> None:
    reply = requests.post(server.url + "/v1/predict", json=RESPIRATORY, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    first = reply.json()["next_findings"][0]
    assert (first["finding"], first["kind"]) == ("spo2", "vital")
    assert reply.json()["next_findings"] == engine.diagnose(RESPIRATORY)["next_findings"]

    # Concurrent requests go through the batcher's diagnose_many (server/cloud_engine.py).
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=len(cases)))
    with ThreadPoolExecutor(len(cases)) as pool:
        replies = list(pool.map(lambda c: session.post(server.url + "/v1/predict", json=c, timeout=TIMEOUT), cases))
    assert [r.status_code for r in replies] == [200] * len(cases)
    expected = engine.diagnose_many([engine.validate(c) for c in cases])
    assert [r.json()["next_findings"] for r in replies] == [e["next_findings"] for e in expected]
    assert [e["next_findings"] for e in expected] == [engine.diagnose(c)["next_findings"] for c in cases]
    # Adding the proposed SpO2 at 86 % makes it an emergency through the service too.
    entered = {**RESPIRATORY, "vitals": {**RESPIRATORY["vitals"], "spo2": 86}}
    assert requests.post(server.url + "/v1/predict", json=entered, timeout=TIMEOUT).json()["triage"]["level"] == \
        "EMERGENCIA"


def test_callers_who_only_want_the_answer_can_skip_next_findings(server: Server, engine: DiagnosisEngine,
                                                                  cases: list[dict[str, Any]]) -> None:
    """`?next_findings=false` leaves the list empty and the rest of the answer as it is, alone and when requests with
    and without it arrive together (the batcher never mixes the two in one engine call)."""
    plain = requests.post(server.url + "/v1/predict?next_findings=false", json=RESPIRATORY, timeout=TIMEOUT).json()
    full = requests.post(server.url + "/v1/predict", json=RESPIRATORY, timeout=TIMEOUT).json()
    assert plain["next_findings"] == [] and full["next_findings"]
    assert {k: v for k, v in plain.items() if k != "next_findings"} == \
        {k: v for k, v in full.items() if k != "next_findings"}
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=len(cases)))
    urls = [server.url + ("/v1/predict?next_findings=false" if i % 2 else "/v1/predict") for i in range(len(cases))]
    with ThreadPoolExecutor(len(cases)) as pool:
        replies = list(pool.map(lambda uc: session.post(uc[0], json=uc[1], timeout=TIMEOUT),
                                zip(urls, cases, strict=True)))
    assert [r.status_code for r in replies] == [200] * len(cases)
    expected = [[] if i % 2 else engine.diagnose(c)["next_findings"] for i, c in enumerate(cases)]
    assert [r.json()["next_findings"] for r in replies] == expected
