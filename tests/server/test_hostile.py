"""Hostile and careless input against a real `vereda-server serve` (issue 14, points 2, 3, 5, 7 and 9): every answer
a 4xx in the documented JSON shape, never a 5xx, and never a traceback in the server's log.

The property-based run over the whole OpenAPI schema is tests/server/test_schema_fuzz.py; these are the inputs the
issue named, each of which gave a 500, a 400 or an unguarded answer before.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server.helpers import (
    CASE4,
    METRICS_AUTH,
    SHIPPED_BUNDLE,
    SHIPPED_VERSION,
    Server,
    auth,
    enroll,
    feedback_record,
    open_sessions,
    run_cli,
    signed_bundle,
    smuggled_bundle,
)

TIMEOUT = 30
JSON = {"content-type": "application/json"}
JSON_ROUTES = ("/v1/predict", "/predict", "/v1/feedback:batch", "/v1/enroll", "/v1/device/audit-head")


@pytest.fixture(scope="module")
def server(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    database = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'vereda-server.db'}"
    return start_server(database)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def device(server: Server) -> dict[str, Any]:
    return enroll(server.url, server.database)


@pytest.fixture(autouse=True)
def no_traceback(server: Server) -> Iterator[None]:
    """Whatever a test sends, the server's log gains no traceback and no 5xx line."""
    before = server.log.read_text(errors="replace")
    yield
    added = server.log.read_text(errors="replace")[len(before):]
    assert "Traceback" not in added, added[-3000:]
    assert " 500 " not in added and " 503 " not in added, added[-3000:]


def assert_error(reply: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert reply.status_code == status, (reply.status_code, reply.text[:500])
    error = reply.json()["error"]
    assert set(error) == {"code", "field", "message", "request_id"}
    assert error["request_id"] == reply.headers["x-request-id"]
    if code is not None:
        assert error["code"] == code, error
    return error  # type: ignore[no-any-return]


# --- point 2: bodies that broke the parser or what came after it --------------------------------------------------


HOSTILE_BODIES = {
    "nested 400,000 deep": (b"[" * 400_000 + b"]" * 400_000, "json_too_deep"),
    "objects nested 100 deep": (b'{"a":' * 100 + b"1" + b"}" * 100, "json_too_deep"),
    "age of 400 digits": (b'{"age": ' + b"9" * 400 + b', "sex": "F", "symptoms": {"fiebre": 5, "tos": 5, '
                          b'"fatiga": 5}}', "number_too_long"),
    "exponent too large": (b'{"age": 1e999, "sex": "F", "symptoms": {"fiebre": 5, "tos": 5, "fatiga": 5}}',
                           "number_out_of_range"),
    "lone surrogate as a key": (b'{"age": 30, "sex": "F", "symptoms": {"\\ud800": 5, "tos": 5, "fatiga": 5}}',
                                "invalid_json"),
    "lone low surrogate in a value": (b'{"code": "\\udc00AAAA-BBBB"}', "invalid_json"),
    "NaN": (b'{"age": NaN, "sex": "F"}', "invalid_json"),
    "Latin-1 bytes": ('{"age": 30, "sex": "F", "symptoms": {"fiebre": 5, "tos": 5, "náusea": 5}}'
                      .encode("latin-1"), "invalid_json"),
}


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_json_is_refused_before_parsing(server: Server, device: dict[str, Any], route: str,
                                                name: str) -> None:
    body, code = HOSTILE_BODIES[name]
    reply = requests.post(server.url + route, data=body, headers={**JSON, **auth(device)}, timeout=TIMEOUT)
    assert_error(reply, 422, code)
    # Without a content type too: /v1/predict reads the body whatever the header says.
    bare = requests.post(server.url + route, data=body, headers=auth(device), timeout=TIMEOUT)
    assert_error(bare, 422, code)


def test_what_is_within_the_limits_still_works(server: Server) -> None:
    pair = {**CASE4, "symptoms": {**CASE4["symptoms"], "\U0001f600": 1}}  # an escaped surrogate *pair* is text
    reply = requests.post(f"{server.url}/v1/predict", data=json.dumps(pair, ensure_ascii=True), headers=JSON,
                          timeout=TIMEOUT)
    assert_error(reply, 422, "unknown_symptom")
    assert requests.post(f"{server.url}/v1/predict", json=CASE4, timeout=TIMEOUT).status_code == 200


def test_a_client_chosen_name_is_echoed_only_as_a_short_excerpt(server: Server, device: dict[str, Any]) -> None:
    long_key = "María Pérez " * 400
    reply = requests.post(f"{server.url}/v1/predict",
                          json={**CASE4, "symptoms": {**CASE4["symptoms"], long_key: 3}}, timeout=TIMEOUT)
    assert reply.status_code == 422 and len(reply.text) < 1000 and long_key not in reply.text
    version = "9" * 3000
    missing = requests.get(f"{server.url}/v1/models/{version}/bundle", headers=auth(device), timeout=TIMEOUT)
    error = assert_error(missing, 404, "model_not_found")
    assert "999999" not in error["message"]
    traversal = requests.get(f"{server.url}/v1/models/..%2F..%2Fetc/bundle", headers=auth(device), timeout=TIMEOUT)
    assert traversal.status_code == 404


# --- point 2: the Range header -------------------------------------------------------------------------------------


def test_a_range_header_with_a_huge_number_is_answered_not_crashed(server: Server, device: dict[str, Any],
                                                                   tmp_path: Path) -> None:
    published = run_cli("publish-model", str(signed_bundle(tmp_path / "b", "2026.11.2")), "--stage", "staging",
                        "--database", server.database)
    assert published.returncode == 0, published.stderr
    from sqlalchemy import update

    from server.db.models import Device

    with open_sessions(server.database)() as session:  # a tester may download the staging bundle
        session.execute(update(Device).where(Device.id == device["device_id"]).values(tester=True))
        session.commit()
    url = f"{server.url}/v1/models/2026.11.2/bundle"
    huge = "9" * 5000
    past = requests.get(url, headers={**auth(device), "Range": f"bytes={huge}-"}, timeout=TIMEOUT)
    assert_error(past, 416, "range_not_satisfiable")
    whole = requests.get(url, headers=auth(device), timeout=TIMEOUT)
    to_huge = requests.get(url, headers={**auth(device), "Range": f"bytes=0-{huge}"}, timeout=TIMEOUT)
    assert to_huge.status_code == 206 and to_huge.content == whole.content
    suffix = requests.get(url, headers={**auth(device), "Range": f"bytes=-{huge}"}, timeout=TIMEOUT)
    assert suffix.status_code == 206 and suffix.content == whole.content
    padded = requests.get(url, headers={**auth(device), "Range": f"bytes={'0' * 5000}10-19"}, timeout=TIMEOUT)
    assert padded.status_code == 206 and padded.content == whole.content[10:20]
    # The same in a Content-Length (sent raw: requests would correct the header).
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as conn:
        conn.sendall(f"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {huge}\r\n\r\n{{}}".encode())
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.split()[1] in (b"400", b"413"), status_line  # uvicorn may refuse such a header first


# --- point 3: one uuid twice in a batch ----------------------------------------------------------------------------


def _feedback_counter(server: Server, clinic: str, status: str) -> float:
    text = requests.get(f"{server.url}/metrics", headers=METRICS_AUTH, timeout=TIMEOUT).text
    line = f'vereda_feedback_records_total{{clinic="{clinic}",status="{status}"}} '
    return sum(float(row[len(line):]) for row in text.splitlines() if row.startswith(line))


def test_the_same_uuid_twice_in_one_batch(server: Server, device: dict[str, Any]) -> None:
    clinic = device["clinic_id"]
    first = feedback_record(clinic)
    changed = {**first, "confirmed_diagnosis": "J18.9"}
    reply = requests.post(f"{server.url}/v1/feedback:batch", json={"records": [first, changed]},
                          headers=auth(device), timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    assert [r["status"] for r in reply.json()["results"]] == ["accepted", "conflict"]
    from tests.sync.conftest import stored

    assert stored(server.database)[first["uuid"]]["confirmed_diagnosis"] == first["confirmed_diagnosis"]

    accepted, duplicate = (_feedback_counter(server, clinic, s) for s in ("accepted", "duplicate"))
    twin = feedback_record(clinic)
    reply = requests.post(f"{server.url}/v1/feedback:batch", json={"records": [twin, twin]}, headers=auth(device),
                          timeout=TIMEOUT)
    assert [r["status"] for r in reply.json()["results"]] == ["accepted", "accepted"]
    # One record stored and one copy of it: counted once as new and once as a duplicate, never twice as new.
    assert _feedback_counter(server, clinic, "accepted") == accepted + 1
    assert _feedback_counter(server, clinic, "duplicate") == duplicate + 1


# --- point 7: chunked bodies past the limit -------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/v1/feedback:batch", "/v1/enroll", "/v1/predict"])
def test_a_chunked_body_past_the_limit_is_413(server: Server, device: dict[str, Any], route: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while the body streams in
        yield b'{"records": ['
        for _ in range(40):
            yield b" " * 32 * 1024

    reply = requests.post(server.url + route, data=chunks(), headers={**JSON, **auth(device)}, timeout=TIMEOUT)
    assert_error(reply, 413, "body_too_large")


# --- point 5: the registry trusts nothing it is given ---------------------------------------------------------------


def test_the_registry_refuses_unsigned_otherwise_signed_and_misnamed_bundles(server: Server, tmp_path: Path) -> None:
    from app.core.signing import generate_key_pair

    other_private, _ = generate_key_pair()
    (tmp_path / "other.pem").write_bytes(other_private)
    env = {"VEREDA_SERVER_PUBLIC_KEY": ""}  # nothing configured: the key the clinics pin is the one trusted

    def publish(bundle: Path) -> dict[str, Any]:
        done = run_cli("publish-model", str(bundle), "--stage", "staging", "--database", server.database, env=env)
        assert done.returncode == 2, done.stdout
        return json.loads(done.stderr)["error"]  # type: ignore[no-any-return]

    other = signed_bundle(tmp_path / "other", "2026.11.3", key=tmp_path / "other.pem")
    assert "another key" in publish(other)["message"]
    edited = signed_bundle(tmp_path / "edited", "2026.11.4")
    manifest = json.loads((edited / "manifest.json").read_text())
    manifest["thresholds"] = {k: 0.0 for k in manifest["thresholds"]}
    (edited / "manifest.json").write_text(json.dumps(manifest))
    assert "changed after signing" in publish(edited)["message"]
    unsigned = signed_bundle(tmp_path / "unsigned", "2026.11.5")
    (unsigned / "manifest.sig").unlink()
    assert "not signed" in publish(unsigned)["message"]
    for version in ("../../x", "2026.11.6/../../x", "2026.11.6-rc1", "x" * 100):
        named = signed_bundle(tmp_path / hashlib.sha256(version.encode()).hexdigest()[:8], version)
        assert "not a bundle version" in publish(named)["message"]
    assert run_cli("publish-model", str(unsigned), "--stage", "staging", "--allow-unsigned",
                   "--database", server.database).returncode == 2  # the flag is gone

    cache = Path(server.env["VEREDA_SERVER_DATA_DIR"]) / "cache"
    outside = cache.parent.parent / "x"
    promoted = run_cli("promote", "../../x", "--database", server.database, env=env)
    assert promoted.returncode == 2 and "not a bundle version" in promoted.stderr
    assert not outside.exists()
    listed = json.loads(run_cli("models", "--json", "--database", server.database).stdout)
    assert {m["version"] for m in listed} <= {"2026.11.2"}


def test_the_service_refuses_to_load_a_production_bundle_it_cannot_verify(server: Server, device: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    from app.core.signing import generate_key_pair
    from server.db import crud

    other_private, _ = generate_key_pair()
    (tmp_path / "other.pem").write_bytes(other_private)
    bundle = signed_bundle(tmp_path / "b", "2026.11.7", key=tmp_path / "other.pem")
    with open_sessions(server.database)() as session:  # as a compromised registry database would hold it
        crud.add_model(session, smuggled_bundle(bundle), "attacker")
        crud.promote(session, "2026.11.7", "attacker")
        session.commit()
    answer = requests.post(f"{server.url}/v1/predict", json=CASE4, timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.json()["model"]["version"] == SHIPPED_VERSION  # the shipped bundle
    log = server.log.read_text(errors="replace")
    assert "refused the production model" in log and "another key" in log
    assert list((Path(server.env["VEREDA_SERVER_CACHE_DIR"])).glob("2026.11.7-*")) == []


def test_a_cached_bundle_changed_on_disk_is_refused(tmp_path: Path) -> None:
    from server.registry import RegistryError, prepare, unpack

    prepared = prepare(signed_bundle(tmp_path / "b", "2026.11.8"))
    cache = tmp_path / "cache"
    folder = unpack(prepared.chunks(), prepared.archive_sha256, cache, "2026.11.8", SHIPPED_BUNDLE.parent / "keys" /
                    "dev-public.pem")
    (folder / "state.onnx").write_bytes(b"changed in the cache")
    with pytest.raises(RegistryError, match="does not match"):
        unpack(prepared.chunks(), prepared.archive_sha256, cache, "2026.11.8",
               SHIPPED_BUNDLE.parent / "keys" / "dev-public.pem")
    with pytest.raises(RegistryError, match="not a bundle version"):
        unpack(prepared.chunks(), prepared.archive_sha256, cache, "../../escape", SHIPPED_BUNDLE)
    assert not (tmp_path / "escape").exists() and not list(tmp_path.glob("*escape*"))
    shutil.rmtree(cache)


# --- point 9: /metrics and /docs ------------------------------------------------------------------------------------


def test_metrics_need_their_token_and_docs_are_off(server: Server, start_server: Any, tmp_path: Path) -> None:
    assert_error(requests.get(f"{server.url}/metrics", timeout=TIMEOUT), 401, "invalid_metrics_token")
    wrong = requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer " + "x" * 44}, timeout=TIMEOUT)
    assert_error(wrong, 401, "invalid_metrics_token")
    assert requests.get(f"{server.url}/metrics", headers=METRICS_AUTH, timeout=TIMEOUT).status_code == 200
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert_error(requests.get(server.url + path, timeout=TIMEOUT), 404)
    assert requests.get(f"{server.url}/openapi.json", timeout=TIMEOUT).status_code == 200

    silent = start_server(f"sqlite:///{tmp_path / 'quiet.db'}", env={"VEREDA_SERVER_METRICS_TOKEN": ""})
    assert_error(requests.get(f"{silent.url}/metrics", headers=METRICS_AUTH, timeout=TIMEOUT), 404)

    assets = tmp_path / "swagger"
    assets.mkdir()
    (assets / "swagger-ui-bundle.js").write_text("/* swagger-ui-dist stand-in */")
    (assets / "swagger-ui.css").write_text("/* swagger-ui-dist stand-in */")
    documented = start_server(f"sqlite:///{tmp_path / 'docs.db'}", env={"VEREDA_SERVER_API_DOCS_DIR": str(assets)})
    page = requests.get(f"{documented.url}/docs", timeout=TIMEOUT)
    assert page.status_code == 200 and "/docs/files/swagger-ui-bundle.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN, nothing from outside
    script = requests.get(f"{documented.url}/docs/files/swagger-ui-bundle.js", timeout=TIMEOUT)
    assert script.status_code == 200 and "stand-in" in script.text
    assert requests.get(f"{documented.url}/docs/files/..%2F..%2Fetc%2Fpasswd", timeout=TIMEOUT).status_code == 404
