"""Devices that can be revoked, testers, the audit chain head kept per device, and rate limits keyed on who is
verified and shared by every process (issue 14, points 1, 5, 6 and 9).

Real `vereda-server serve` processes: one with two workers on SQLite for most checks, and three on one PostgreSQL
database for what must hold across replicas (a revocation seen by the others within a second, one shared limit).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server.helpers import (
    CASE4,
    Server,
    auth,
    create_pg_database,
    enroll,
    enrollment_code,
    feedback_record,
    run_cli,
    signed_bundle,
)

TIMEOUT = 30
HEAD = "ab" * 32


@pytest.fixture(scope="module")
def server(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    database = f"sqlite:///{tmp_path_factory.mktemp('devices') / 'vereda-server.db'}"
    return start_server(database, workers=2)  # type: ignore[no-any-return]


def device_cli(server: Server, *args: str) -> Any:
    done = run_cli("device", *args, "--database", server.database)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def every_route(server: Server, device: dict[str, Any], include_revoke: bool = True) -> dict[str, int]:
    """The status of each route when called with `device`'s token, on fresh connections (so both workers answer)."""
    headers = auth(device)
    calls: dict[str, tuple[str, str, dict[str, Any]]] = {
        "health": ("GET", "/health", {}), "v1 health": ("GET", "/v1/health", {}),
        "symptoms": ("GET", "/v1/symptoms", {}), "symptoms alias": ("GET", "/symptoms", {}),
        "predict": ("POST", "/v1/predict", {"json": CASE4}), "predict alias": ("POST", "/predict", {"json": CASE4}),
        "feedback": ("POST", "/v1/feedback:batch", {"json": {"records": [feedback_record(device["clinic_id"])]}}),
        "latest": ("GET", "/v1/models/latest", {}), "bundle": ("GET", "/v1/models/2026.11.1/bundle", {}),
        "bundle head": ("HEAD", "/v1/models/2026.11.1/bundle", {}),
        "audit head": ("POST", "/v1/device/audit-head", {"json": {"seq": 1, "hash": HEAD}}),
        "enroll": ("POST", "/v1/enroll", {"json": {"code": "AAAA-BBBB-CCCC-DDDD"}}),
        "app": ("GET", "/app", {}),
    }
    if include_revoke:
        calls["revoke"] = ("POST", "/v1/device/revoke", {})
    return {name: requests.request(method, server.url + path, headers=headers, timeout=TIMEOUT,
                                   allow_redirects=False, **kw).status_code  # type: ignore[arg-type]
            for name, (method, path, kw) in calls.items()}


# --- point 1: revocation ------------------------------------------------------------------------------------------


def test_a_revoked_device_gets_401_on_every_route_of_every_worker(server: Server) -> None:
    device = enroll(server.url, server.database)
    before = every_route(server, device, include_revoke=False)
    assert before["feedback"] == 200 and before["predict"] == 200 and before["health"] == 200
    revoked = device_cli(server, "revoke", str(device["device_id"]), "--reason", "laptop stolen", "--by", "tests")
    assert revoked["revoked_at"] and revoked["revoked_reason"].startswith("laptop stolen")
    for _ in range(3):  # several rounds of fresh connections: every worker refuses it
        after = every_route(server, device)
        assert set(after.values()) == {401}, after
    listed = {d["device_id"]: d for d in device_cli(server, "list", "--json")}
    assert listed[device["device_id"]]["revoked_at"] is not None
    table = run_cli("device", "list", "--database", server.database).stdout
    assert f"revoked {revoked['revoked_at'][:10]}" in table


def test_enrolling_the_same_laptop_again_revokes_its_old_token(server: Server) -> None:
    old = enroll(server.url, server.database)
    code = enrollment_code(server.database, "Puesto de Salud San José")
    reply = requests.post(f"{server.url}/v1/enroll", json={"code": code, "previous_token": old["device_token"]},
                          timeout=TIMEOUT)
    assert reply.status_code == 201, reply.text
    new = reply.json()
    assert requests.get(f"{server.url}/v1/symptoms", headers=auth(old), timeout=TIMEOUT).status_code == 401
    assert requests.post(f"{server.url}/v1/feedback:batch", json={"records": [feedback_record(new["clinic_id"])]},
                         headers=auth(new), timeout=TIMEOUT).status_code == 200
    listed = {d["device_id"]: d for d in device_cli(server, "list", "--json")}
    assert listed[old["device_id"]]["replaced_by"] == new["device_id"]
    assert listed[new["device_id"]]["revoked_at"] is None


def test_a_device_can_end_its_own_access(server: Server) -> None:
    device = enroll(server.url, server.database)
    reply = requests.post(f"{server.url}/v1/device/revoke", headers=auth(device), timeout=TIMEOUT)
    assert reply.status_code == 200 and reply.json()["device_id"] == device["device_id"]
    again = requests.post(f"{server.url}/v1/device/revoke", headers=auth(device), timeout=TIMEOUT)
    assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_token"


# --- point 5: staging bundles only for testers --------------------------------------------------------------------


def test_staging_bundles_go_only_to_devices_marked_as_testers(server: Server, tmp_path: Path) -> None:
    published = run_cli("publish-model", str(signed_bundle(tmp_path / "p", "2026.11.30")), "--stage", "production",
                        "--database", server.database, "--gate-simulated", "200")
    assert published.returncode == 0, published.stderr
    staged = run_cli("publish-model", str(signed_bundle(tmp_path / "s", "2026.12.30")), "--stage", "staging",
                     "--database", server.database)
    assert staged.returncode == 0, staged.stderr
    clinic, tester = enroll(server.url, server.database), enroll(server.url, server.database)
    device_cli(server, "tester", str(tester["device_id"]))

    def latest(device: dict[str, Any]) -> str:
        return str(requests.get(f"{server.url}/v1/models/latest", headers=auth(device), timeout=TIMEOUT)
                   .json()["version"])

    def download(device: dict[str, Any], version: str) -> int:
        return requests.get(f"{server.url}/v1/models/{version}/bundle", headers=auth(device),
                            timeout=TIMEOUT).status_code

    assert latest(clinic) == "2026.11.30" and latest(tester) == "2026.12.30"
    assert download(clinic, "2026.12.30") == 404 and download(tester, "2026.12.30") == 200
    assert download(clinic, "2026.11.30") == 200
    device_cli(server, "tester", str(tester["device_id"]), "--off")
    assert latest(tester) == "2026.11.30" and download(tester, "2026.12.30") == 404


# --- point 9: the audit chain head --------------------------------------------------------------------------------


def test_the_audit_chain_head_is_kept_per_device_and_a_rewound_or_rewritten_history_flagged(server: Server) -> None:
    device = enroll(server.url, server.database)

    def report(seq: int, head: str) -> dict[str, Any]:
        reply = requests.post(f"{server.url}/v1/device/audit-head", json={"seq": seq, "hash": head},
                              headers=auth(device), timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    assert report(120, "1" * 64)["status"] == "recorded"
    assert report(120, "1" * 64)["status"] == "unchanged"
    assert report(180, "2" * 64)["status"] == "recorded"
    assert report(150, "3" * 64)["status"] == "rewound"
    listed = {d["device_id"]: d for d in device_cli(server, "list", "--json")}[device["device_id"]]
    assert (listed["audit_seq"], listed["audit_hash"]) == (150, "3" * 64)
    assert listed["audit_alert"] == "audit chain rewound from entry 180 to 150"
    assert report(150, "4" * 64)["status"] == "rewritten"
    listed = {d["device_id"]: d for d in device_cli(server, "list", "--json")}[device["device_id"]]
    assert "another hash" in listed["audit_alert"]
    for bad in ({"seq": -1, "hash": HEAD}, {"seq": 1, "hash": "XYZ"}, {"seq": "1", "hash": HEAD},
                {"seq": 1, "hash": HEAD, "extra": 1}):
        refused = requests.post(f"{server.url}/v1/device/audit-head", json=bad, headers=auth(device), timeout=TIMEOUT)
        assert refused.status_code == 422


# --- point 6: rate limits on the verified caller, shared by all workers -------------------------------------------


def test_random_tokens_are_charged_to_the_address_and_throttled(start_server: Any, tmp_path: Path) -> None:
    limited = start_server(f"sqlite:///{tmp_path / 'rl.db'}", workers=2,
                           env={"VEREDA_SERVER_RATE_LIMIT_PER_SECOND": "0.01", "VEREDA_SERVER_RATE_LIMIT_BURST": "20"})
    codes = [requests.post(f"{limited.url}/v1/enroll", json={"code": "AAAA-BBBB-CCCC-DDDD"},
                           headers={"Authorization": f"Bearer {secrets.token_urlsafe(32)}"},
                           timeout=TIMEOUT).status_code for _ in range(150)]
    # Two workers with buckets of their own would have let up to 40 through; the shared bucket lets 20.
    assert codes.count(401) == 20 and codes.count(429) == 130
    assert "Traceback" not in limited.log.read_text()


def test_a_verified_device_has_its_own_bucket(start_server: Any, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'own.db'}"
    limited = start_server(database, env={"VEREDA_SERVER_RATE_LIMIT_PER_SECOND": "0.01",
                                          "VEREDA_SERVER_RATE_LIMIT_BURST": "5"})
    device = enroll(limited.url, database)  # one request of the address's five
    for _ in range(4):
        assert requests.get(f"{limited.url}/v1/symptoms", timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{limited.url}/v1/symptoms", timeout=TIMEOUT).status_code == 429
    # The same address with a device token: the device's bucket, not the address's.
    assert [requests.get(f"{limited.url}/v1/symptoms", headers=auth(device), timeout=TIMEOUT).status_code
            for _ in range(6)] == [200] * 5 + [429]


# --- three replicas on one PostgreSQL -----------------------------------------------------------------------------


def test_three_services_on_one_postgresql_share_revocations_and_limits(pg_admin_url: str, start_server: Any) -> None:
    database = create_pg_database(pg_admin_url)
    env = {"VEREDA_SERVER_RATE_LIMIT_PER_SECOND": "0.01", "VEREDA_SERVER_RATE_LIMIT_BURST": "60"}
    servers: list[Server] = [start_server(database, env=env) for _ in range(3)]
    first, *others = servers

    # A revocation through one service: the laptop re-enrolls through the first one, which revokes its old token.
    old = enroll(first.url, database)
    for s in servers:
        assert requests.get(f"{s.url}/v1/models/latest", headers=auth(old), timeout=TIMEOUT).status_code == 404
    code = enrollment_code(database, "Puesto de Salud San José")
    renewed = requests.post(f"{first.url}/v1/enroll", json={"code": code, "previous_token": old["device_token"]},
                            timeout=TIMEOUT)
    assert renewed.status_code == 201
    revoked_at = time.monotonic()
    refused: dict[str, float] = {}
    while len(refused) < len(others) and time.monotonic() - revoked_at < 1.0:
        for s in others:
            if s.url not in refused and requests.get(f"{s.url}/v1/symptoms", headers=auth(old),
                                                     timeout=TIMEOUT).status_code == 401:
                refused[s.url] = time.monotonic() - revoked_at
    assert len(refused) == 2 and max(refused.values()) < 1.0, refused

    # And a device revoking itself through the second one is refused by the first and the third.
    device = renewed.json()
    assert requests.post(f"{others[0].url}/v1/device/revoke", headers=auth(device), timeout=TIMEOUT).ok
    assert {requests.get(f"{s.url}/v1/symptoms", headers=auth(device), timeout=TIMEOUT).status_code
            for s in (first, others[1])} == {401}

    # A limit hit through one holds on the others: the three share one bucket per caller (this address).
    results: list[int] = []
    lock = threading.Lock()

    def hammer(url: str) -> None:
        for _ in range(8):
            status = requests.get(f"{url}/v1/symptoms", timeout=TIMEOUT).status_code
            with lock:
                results.append(status)

    spent = [requests.get(f"{first.url}/v1/symptoms", timeout=TIMEOUT).status_code for _ in range(70)]
    assert spent[-1] == 429 and 0 < spent.count(200) < 60
    assert {requests.get(f"{s.url}/v1/symptoms", timeout=TIMEOUT).status_code for s in others} == {429}
    threads = [threading.Thread(target=hammer, args=(s.url,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(results) == {429}
    for s in servers:
        assert "Traceback" not in s.log.read_text()
