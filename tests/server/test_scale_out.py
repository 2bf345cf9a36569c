"""Scaling out: two `vereda-server serve` processes on one PostgreSQL, and one server with two workers.

Idempotency must come from the database, not from a process's memory: a client whose batches alternate between two
servers, replays included, and two servers receiving the same batch at the same moment, still leave every record
stored exactly once. Metrics of a multi-worker server add up across its workers.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import requests

from tests.server.helpers import (
    CASE4,
    METRICS_AUTH,
    auth,
    create_pg_database,
    enroll,
    feedback_record,
    open_sessions,
)

TIMEOUT = 60


def test_two_servers_on_one_postgresql_store_every_record_once(pg_admin_url: str, start_server: Any) -> None:
    from sqlalchemy import func, select

    from server.db.models import FeedbackRecord

    database = create_pg_database(pg_admin_url)
    servers = [start_server(database), start_server(database)]
    device = enroll(servers[0].url, database)
    records = [feedback_record(device["clinic_id"]) for _ in range(600)]
    batches = [records[i : i + 50] for i in range(0, len(records), 50)]

    # The client alternates servers; every batch is also replayed on the other one (a lost acknowledgement).
    answers: list[dict[str, Any]] = []
    for n, batch in enumerate(batches):
        for server in (servers[n % 2], servers[(n + 1) % 2]):
            reply = requests.post(f"{server.url}/v1/feedback:batch", json={"records": batch}, headers=auth(device),
                                  timeout=TIMEOUT)
            assert reply.status_code == 200, reply.text
            answers.append(reply.json())
    assert all(a["accepted"] == 50 and a["conflict"] == 0 for a in answers)

    # Both servers get the same batches at the same moment, several times over.
    racing = [feedback_record(device["clinic_id"]) for _ in range(200)]
    race_batches = [racing[i : i + 40] for i in range(0, len(racing), 40)]
    failures: list[str] = []

    def push(url: str) -> None:
        for batch in race_batches:
            reply = requests.post(f"{url}/v1/feedback:batch", json={"records": batch}, headers=auth(device),
                                  timeout=TIMEOUT)
            if reply.status_code != 200 or reply.json()["accepted"] != len(batch):
                failures.append(reply.text)

    threads = [threading.Thread(target=push, args=(s.url,)) for s in servers for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures[:2]

    expected = {r["uuid"] for r in records + racing}
    with open_sessions(database)() as session:
        uuids = session.scalars(select(FeedbackRecord.uuid)).all()
        total = session.scalar(select(func.count()).select_from(FeedbackRecord))
    assert total == len(expected) == 800
    assert set(uuids) == expected


def _counter(text: str, route: str) -> float:
    pattern = rf'^vereda_http_requests_total{{method="GET",route="{re.escape(route)}",status="200"}} (\S+)$'
    return sum(float(m) for m in re.findall(pattern, text, flags=re.MULTILINE))


def test_metrics_add_up_across_workers(start_server: Any, tmp_path_factory: Any) -> None:
    database = f"sqlite:///{tmp_path_factory.mktemp('workers') / 'vereda-server.db'}"
    server = start_server(database, workers=2)
    session = requests.Session()
    for _ in range(40):  # new connections, so both workers get some
        assert requests.get(f"{server.url}/v1/symptoms", timeout=TIMEOUT).status_code == 200
    assert session.post(f"{server.url}/v1/predict", json=CASE4, timeout=TIMEOUT).json()["engine"] == "cloud"
    text = requests.get(f"{server.url}/metrics", headers=METRICS_AUTH, timeout=TIMEOUT).text
    assert _counter(text, "/v1/symptoms") == 40
