"""The central service end to end: a real `vereda-server serve` on 127.0.0.1, on SQLite and on PostgreSQL.

Each backend gets one server for the module; the tests run in file order against it (model publishing comes after
the "no production model" check, metrics come last).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server.helpers import (
    CASE4,
    DEV_PUBLIC_KEY,
    METRICS_AUTH,
    Server,
    auth,
    create_pg_database,
    enroll,
    enrollment_code,
    feedback_record,
    open_sessions,
    run_cli,
    signed_bundle,
)

TIMEOUT = 30


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'vereda-server.db'}"
    else:
        database = create_pg_database(request.getfixturevalue("pg_admin_url"))
    return start_server(database)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def device(server: Server) -> dict[str, Any]:
    return enroll(server.url, server.database)


def post_batch(server: Server, device: dict[str, Any], records: list[Any]) -> requests.Response:
    return requests.post(f"{server.url}/v1/feedback:batch", json={"records": records}, headers=auth(device),
                         timeout=TIMEOUT)


def stored_payloads(database: str) -> dict[str, dict[str, Any]]:
    from sqlalchemy import select

    from server.db.models import FeedbackRecord

    with open_sessions(database)() as session:
        rows = session.execute(select(FeedbackRecord.uuid, FeedbackRecord.payload)).all()
    uuids = [u for u, _ in rows]
    assert len(uuids) == len(set(uuids))
    return {u: p for u, p in rows}


# --- health, aliases, predict -------------------------------------------------------------------------------------


def test_health_symptoms_and_their_origin_aliases(server: Server) -> None:
    for path in ("/health", "/v1/health"):
        reply = requests.get(server.url + path, timeout=TIMEOUT)
        assert reply.status_code == 200
        assert reply.json()["status"] == "ok" and reply.json()["database"] == "ok"
        assert reply.headers["x-request-id"]
    v1 = requests.get(server.url + "/v1/symptoms", timeout=TIMEOUT).json()
    alias = requests.get(server.url + "/symptoms", timeout=TIMEOUT).json()
    assert v1 == alias
    keys = {s["key"] for s in v1["symptoms"]}
    assert {"fiebre", "tos", "dolor_pecho"} <= keys and len(keys) >= 42
    assert v1["model_version"]
    spec = requests.get(server.url + "/openapi.json", timeout=TIMEOUT).json()
    assert {"/v1/feedback:batch", "/v1/predict", "/predict", "/health", "/symptoms", "/v1/enroll"} <= set(spec["paths"])
    assert "FeedbackRecordCreate" in spec["components"]["schemas"]


def test_predict_origin_case_4_is_acute_on_the_cloud_engine(server: Server) -> None:
    for path in ("/v1/predict", "/predict"):
        reply = requests.post(server.url + path, json=CASE4, timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["severity"] == "ENFERMEDAD_AGUDA"
        assert body["engine"] == "cloud"
        assert body["requires_immediate_attention"] is True
        assert len(body["top_conditions"]) >= 5


def test_predict_contract_errors_are_422_json_without_traces(server: Server) -> None:
    reply = requests.post(server.url + "/v1/predict", json={**CASE4, "nombre": "María"}, timeout=TIMEOUT)
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "unknown_field" and error["field"] == "nombre"
    assert "Campo desconocido" in error["message"]
    english = requests.post(server.url + "/v1/predict?lang=en", json={"age": 40, "sex": "X"}, timeout=TIMEOUT)
    assert english.status_code == 422
    assert english.json()["error"]["message"] == "'sex' must be 'F' or 'M'; got 'X'."
    broken = requests.post(server.url + "/predict", data=b'{"age": 4', timeout=TIMEOUT)
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "invalid_json"
    for r in (reply, english, broken):
        assert "Traceback" not in r.text


# --- enrollment and authentication --------------------------------------------------------------------------------


def test_enroll_code_from_the_cli_is_one_time(server: Server) -> None:
    made = run_cli("enroll-code", "--database", server.database, "--clinic", "Centro de Salud Río Verde",
                   "--expires-hours", "2")
    assert made.returncode == 0, made.stderr
    code = json.loads(made.stdout)["code"]
    # What a technician types: lower case, no dashes, an O for a zero.
    typed = code.replace("-", "").lower().replace("0", "o")
    first = requests.post(server.url + "/v1/enroll", json={"code": typed}, timeout=TIMEOUT)
    assert first.status_code == 201, first.text
    assert first.json()["clinic_name"] == "Centro de Salud Río Verde"
    assert len(first.json()["device_token"]) >= 40
    again = requests.post(server.url + "/v1/enroll", json={"code": code}, timeout=TIMEOUT)
    assert again.status_code == 401 and again.json()["error"]["code"] == "enrollment_code_used"
    unknown = requests.post(server.url + "/v1/enroll", json={"code": "AAAA-BBBB-CCCC-DDDD"}, timeout=TIMEOUT)
    assert unknown.json()["error"]["code"] == "enrollment_code_unknown"


def test_expired_codes_and_malformed_bodies_are_refused(server: Server) -> None:
    import datetime as dt

    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    code = enrollment_code(server.database, "Puesto Antiguo", hours=1, now=old)
    reply = requests.post(server.url + "/v1/enroll", json={"code": code}, timeout=TIMEOUT)
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "enrollment_code_expired"
    extra = requests.post(server.url + "/v1/enroll", json={"code": code, "doctor": "Dra. Pérez"}, timeout=TIMEOUT)
    assert extra.status_code == 422 and extra.json()["error"]["code"] == "invalid_request"
    assert "Pérez" not in extra.text


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/feedback:batch"), ("GET", "/v1/models/latest"),
                                              ("GET", "/v1/models/2026.11.1/bundle")])
def test_device_endpoints_need_a_valid_token(server: Server, method: str, path: str) -> None:
    body = {"json": {"records": [feedback_record("x-clinic")]}} if method == "POST" else {}
    missing = requests.request(method, server.url + path, timeout=TIMEOUT, **body)  # type: ignore[arg-type]
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_token"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = requests.request(method, server.url + path, headers={"Authorization": "Bearer not-a-token"},
                             timeout=TIMEOUT, **body)  # type: ignore[arg-type]
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_token"


# --- feedback -----------------------------------------------------------------------------------------------------


def test_feedback_is_stored_once_and_replays_answer_the_same(server: Server, device: dict[str, Any]) -> None:
    records = [feedback_record(device["clinic_id"]) for _ in range(5)]
    first = post_batch(server, device, records)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 5
    assert [r["status"] for r in first.json()["results"]] == ["accepted"] * 5
    replay = post_batch(server, device, records)
    assert replay.status_code == 200 and replay.json() == first.json()

    changed = {**records[0], "confirmed_diagnosis": "J18.9"}
    fresh = feedback_record(device["clinic_id"])
    mixed = post_batch(server, device, [changed, fresh]).json()
    assert [r["status"] for r in mixed["results"]] == ["conflict", "accepted"]
    assert mixed["results"][0]["error"]["code"] == "uuid_conflict"
    assert mixed["conflict"] == 1 and mixed["accepted"] == 1

    stored = stored_payloads(server.database)
    for record in [*records, fresh]:
        assert stored[record["uuid"]] == record
    assert stored[records[0]["uuid"]]["confirmed_diagnosis"] == "J11"  # the first version is kept


def test_feedback_refuses_identifiers_record_by_record(server: Server, device: dict[str, Any]) -> None:
    clinic = device["clinic_id"]
    good = feedback_record(clinic)
    with_name = {**feedback_record(clinic), "nombre": "María Pérez"}
    with_phone_key = feedback_record(clinic)
    with_phone_key["request"] = {**with_phone_key["request"], "symptoms": {"telefono_3001234567": 5, "tos": 3}}
    named_pseudonym = feedback_record(clinic, pseudonym="mariaperezgomez1985mariaperezgomez")
    with_note = feedback_record(clinic)
    with_note["response_summary"] = {**with_note["response_summary"], "note": "vive en la vereda El Tambo"}
    birth_date = feedback_record(clinic, week="1985-03-14")
    other_clinic = feedback_record("otra-clinica-0000")
    reply = post_batch(server, device, [good, with_name, with_phone_key, named_pseudonym, with_note, birth_date,
                                        other_clinic, "not a record"])
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [r["status"] for r in body["results"]] == ["accepted", "invalid", "invalid", "invalid", "invalid",
                                                      "invalid", "rejected", "invalid"]
    assert body["results"][1]["error"]["field"] == "records[1].nombre"
    assert body["results"][1]["uuid"] == with_name["uuid"]
    assert body["results"][2]["error"]["field"] == "records[2].request.symptoms"
    assert body["results"][6]["error"]["code"] == "wrong_clinic"
    for secret in ("María", "Pérez", "mariaperez", "El Tambo", "1985-03-14", "3001234567"):
        assert secret not in reply.text
    stored = stored_payloads(server.database)
    assert good["uuid"] in stored
    assert not {r["uuid"] for r in (with_name, with_phone_key, named_pseudonym, with_note, other_clinic)} & set(stored)


def test_feedback_batch_shape_and_size(server: Server, device: dict[str, Any]) -> None:
    not_a_batch = requests.post(f"{server.url}/v1/feedback:batch", json=[feedback_record(device["clinic_id"])],
                                headers=auth(device), timeout=TIMEOUT)
    assert not_a_batch.status_code == 422 and not_a_batch.json()["error"]["field"] == "records"
    empty = post_batch(server, device, [])
    assert empty.status_code == 422
    too_many = post_batch(server, device, [{"uuid": "x"}] * 1001)
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "too_many_records"


def test_bodies_over_one_megabyte_get_413(server: Server, device: dict[str, Any]) -> None:
    big = b'{"records": [' + b" " * (1024 * 1024 + 10) + b"]}"
    declared = requests.post(f"{server.url}/v1/feedback:batch", data=big, headers=auth(device), timeout=TIMEOUT)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "body_too_large"

    def chunks() -> Any:  # no Content-Length: the limit must hold on a streamed body too
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    streamed = requests.post(f"{server.url}/v1/predict", data=chunks(), timeout=TIMEOUT)
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "body_too_large"


# --- models -------------------------------------------------------------------------------------------------------


def test_latest_is_404_before_any_production_model(server: Server, device: dict[str, Any]) -> None:
    reply = requests.get(f"{server.url}/v1/models/latest", headers=auth(device), timeout=TIMEOUT)
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "no_production_model"


def test_publish_download_and_resume(server: Server, device: dict[str, Any], tmp_path: Path) -> None:
    from app.core.signing import load_public_key, verify_manifest_bytes

    bundle = signed_bundle(tmp_path / "bundle", "2026.11.1")
    published = run_cli("publish-model", str(bundle), "--stage", "production", "--database", server.database,
                        "--public-key", str(DEV_PUBLIC_KEY), "--by", "tests")
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["signature_verified_with"] == "13c5ba0d5aba22b2"

    latest = requests.get(f"{server.url}/v1/models/latest", headers=auth(device), timeout=TIMEOUT).json()
    assert latest["version"] == "2026.11.1" and latest["stage"] == "production"
    archive = latest["archive"]
    url = server.url + archive["url"]

    whole = requests.get(url, headers=auth(device), timeout=TIMEOUT)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert len(whole.content) == archive["size"] == int(whole.headers["content-length"])
    assert hashlib.sha256(whole.content).hexdigest() == archive["sha256"]
    assert whole.headers["etag"] == f'"{archive["sha256"]}"'
    with tarfile.open(fileobj=io.BytesIO(whole.content), mode="r:gz") as tar:
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
        signature = tar.extractfile("manifest.sig").read()  # type: ignore[union-attr]
    assert hashlib.sha256(manifest).hexdigest() == latest["manifest_sha256"]
    assert signature.decode().strip() == latest["signature"]
    verify_manifest_bytes(manifest, signature, load_public_key(DEV_PUBLIC_KEY))

    # A link that drops after 1000 bytes, then a resume from there.
    cut = requests.get(url, headers={**auth(device), "Range": "bytes=0-999"}, timeout=TIMEOUT)
    assert cut.status_code == 206 and len(cut.content) == 1000
    assert cut.headers["content-range"] == f"bytes 0-999/{archive['size']}"
    rest = requests.get(url, headers={**auth(device), "Range": "bytes=1000-", "If-Range": whole.headers["etag"]},
                        timeout=TIMEOUT)
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 1000-{archive['size'] - 1}/{archive['size']}"
    assert cut.content + rest.content == whole.content

    tail = requests.get(url, headers={**auth(device), "Range": "bytes=-100"}, timeout=TIMEOUT)
    assert tail.status_code == 206 and tail.content == whole.content[-100:]
    past = requests.get(url, headers={**auth(device), "Range": f"bytes={archive['size']}-"}, timeout=TIMEOUT)
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{archive['size']}"
    assert past.json()["error"]["code"] == "range_not_satisfiable"
    stale = requests.get(url, headers={**auth(device), "Range": "bytes=1000-", "If-Range": '"another-archive"'},
                         timeout=TIMEOUT)
    assert stale.status_code == 200 and stale.content == whole.content
    head = requests.head(url, headers=auth(device), timeout=TIMEOUT)
    assert head.status_code == 200 and int(head.headers["content-length"]) == archive["size"] and not head.content
    missing = requests.get(f"{server.url}/v1/models/1999.1.1/bundle", headers=auth(device), timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_predict_follows_promotion_and_registry_refuses_going_back(server: Server, tmp_path: Path) -> None:
    bundle = signed_bundle(tmp_path / "bundle", "2026.12.0")
    staged = run_cli("publish-model", str(bundle), "--stage", "staging", "--database", server.database)
    assert staged.returncode == 0, staged.stderr
    before = requests.post(f"{server.url}/v1/predict", json=CASE4, timeout=TIMEOUT).json()
    assert before["model"]["version"] == "2026.11.1"
    promoted = run_cli("promote", "2026.12.0", "--database", server.database, "--by", "tests")
    assert promoted.returncode == 0, promoted.stderr
    assert json.loads(promoted.stdout)["replaced"] == "2026.11.1"
    after = requests.post(f"{server.url}/v1/predict", json=CASE4, timeout=TIMEOUT).json()
    assert after["model"]["version"] == "2026.12.0" and after["severity"] == "ENFERMEDAD_AGUDA"

    back = run_cli("promote", "2026.11.1", "--database", server.database)
    assert back.returncode == 2
    assert json.loads(back.stderr)["error"]["code"] == "registry_refused"
    listing = run_cli("models", "--json", "--database", server.database)
    stages = {m["version"]: m["stage"] for m in json.loads(listing.stdout)}
    assert stages == {"2026.11.1": "archived", "2026.12.0": "production"}


def test_metrics_count_routes_feedback_and_downloads(server: Server, device: dict[str, Any]) -> None:
    text = requests.get(f"{server.url}/metrics", headers=METRICS_AUTH, timeout=TIMEOUT).text
    assert 'vereda_http_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    assert 'route="/predict"' in text
    assert 'route="/v1/models/{version}/bundle"' in text
    assert f'vereda_feedback_records_total{{clinic="{device["clinic_id"]}",status="accepted"}}' in text
    assert f'vereda_feedback_records_total{{clinic="{device["clinic_id"]}",status="duplicate"}}' in text
    assert "vereda_model_downloads_total{" in text
    assert "vereda_http_request_duration_seconds_bucket{" in text
