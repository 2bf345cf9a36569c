"""Small, in-process checks of the central service's parts: schemas, ranges, rate limits, registry, migrations."""

from __future__ import annotations

import ast
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.server.helpers import DEV_PRIVATE_KEY, DEV_PUBLIC_KEY, ROOT, feedback_record, signed_bundle

# The server never imports the build-time package model_export, not even in admin commands (issue 17): the MLOps
# loop's admin half (server/mlops/) runs the build tools as a child process. tests/test_layering.py checks every arrow.


def test_server_imports_nothing_of_the_app_but_core() -> None:
    bad = []
    for path in (ROOT / "server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                if (name.startswith("app.") and not name.startswith("app.core")) or name.split(".")[0] == "PySide6" \
                        or name.split(".")[0] == "model_export":
                    bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert not bad


def test_the_serving_path_does_not_load_the_build_tools() -> None:
    import subprocess
    import sys

    code = ("import sys, server.main, server.cli; server.main.create_app; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('model_export', 'sklearn') "
            "or m.startswith('server.mlops') or m == 'scipy'); print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the feedback record schema -----------------------------------------------------------------------------------


def test_feedback_record_schema_accepts_the_record_and_canonical_hash_ignores_key_order() -> None:
    from server.db.crud import canonical_sha256
    from server.schemas import FeedbackRecordCreate

    record = feedback_record("san-jose-1a2b")
    parsed = FeedbackRecordCreate.model_validate(record).model_dump(mode="json")
    reordered = FeedbackRecordCreate.model_validate(dict(reversed(list(record.items())))).model_dump(mode="json")
    assert canonical_sha256(parsed) == canonical_sha256(reordered)
    banded = FeedbackRecordCreate.model_validate({**record, "request": {**record["request"], "age": "40-44"}})
    assert banded.request.age == "40-44"


@pytest.mark.parametrize(("change", "where"), [
    ({"nombre": "María"}, "nombre"),
    ({"telefono": "3001234567"}, "telefono"),
    ({"pseudonym": "Maria Perez Gomez 1985 xxxxxxxxxxxxxx"}, "pseudonym"),
    ({"week": "2026-W54"}, "week"),
    ({"week": "2026-11-26"}, "week"),
    ({"confirmed_diagnosis": "neumonia grave"}, "confirmed_diagnosis"),
    ({"clinic_id": "Clínica San José"}, "clinic_id"),
    ({"uuid": "not-a-uuid"}, "uuid"),
    ({"request": {"age": 45, "sex": "F", "symptoms": {"tos": "8"}}}, "request"),  # no coercion of "8"
    ({"request": {"age": 45, "sex": "F", "symptoms": {"tos": True}}}, "request"),
    ({"request": {"age": "140-150", "sex": "F"}}, "request"),
    ({"request": {"age": 45, "sex": "F", "notes": "vive sola"}}, "request"),
    ({"response_summary": {"severity": "GRAVE", "top_condition": "J11", "requires_immediate_attention": False}},
     "response_summary"),
])
def test_feedback_record_schema_refuses_identifiers_and_free_text(change: dict[str, Any], where: str) -> None:
    from server.schemas import FeedbackRecordCreate

    with pytest.raises(ValidationError) as info:
        FeedbackRecordCreate.model_validate({**feedback_record("san-jose-1a2b"), **change})
    assert info.value.errors()[0]["loc"][0] == where


def test_error_fields_never_echo_client_chosen_keys() -> None:
    from server.api.errors import field_path

    assert field_path(("body", "records", 0, "week")) == "records[0].week"
    assert field_path(("request", "symptoms", "María Pérez", "[key]")) == "request.symptoms.?.[key]"
    assert field_path(("request", "symptoms", "telefono_3001234567")) == "request.symptoms.?"


# --- ranges, rate limits, versions, settings ----------------------------------------------------------------------


def test_range_header_parsing() -> None:
    from server.api.errors import ApiError
    from server.api.routes.models import parse_range

    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 10)
    assert parse_range("bytes=90-", 100) == (90, 100)
    assert parse_range("bytes=90-500", 100) == (90, 100)
    assert parse_range("bytes=-10", 100) == (90, 100)
    assert parse_range("bytes=-500", 100) == (0, 100)
    assert parse_range("bytes=5-2", 100) is None  # invalid: ignored, whole archive
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: whole archive
    assert parse_range("items=0-1", 100) is None
    for unsatisfiable in ("bytes=100-", "bytes=-0"):
        with pytest.raises(ApiError) as info:
            parse_range(unsatisfiable, 100)
        assert info.value.status == 416 and info.value.headers == {"Content-Range": "bytes */100"}


def test_token_bucket() -> None:
    from server.core.ratelimit import RateLimiter

    limiter = RateLimiter(per_second=2, burst=3)
    assert [limiter.allow("a", now=0.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.allow("a", now=0.0) == pytest.approx(0.5)
    assert limiter.allow("b", now=0.0) == 0  # buckets are per caller
    assert limiter.allow("a", now=0.5) == 0  # one token back after half a second
    assert not RateLimiter(per_second=0, burst=1).allow("a")


def test_versions_order_numerically() -> None:
    from app.core.bundle import is_newer, version_key

    assert sorted(["2026.11.10", "2026.11.2", "2027.1.0", "2026.9.30"], key=version_key) == [
        "2026.9.30", "2026.11.2", "2026.11.10", "2027.1.0"]
    assert is_newer("2026.12.0", "2026.11.1") and not is_newer("2026.11.1", "2026.11.1")


def test_settings_name_the_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.core.config import Settings, SettingsError

    monkeypatch.setenv("VEREDA_SERVER_MAX_BODY_BYTES", "lots")
    with pytest.raises(SettingsError, match="VEREDA_SERVER_MAX_BODY_BYTES"):
        Settings.load()
    monkeypatch.delenv("VEREDA_SERVER_MAX_BODY_BYTES")
    with pytest.raises(SettingsError, match="VEREDA_SERVER_DATABASE_URL"):
        Settings.load(database_url="mysql://x")
    assert Settings.load(database_url="postgresql://u:p@h/db").database == "postgresql+psycopg://u:p@h/db"


# --- signing, registry, keys --------------------------------------------------------------------------------------


def test_signatures_detect_tampering_and_the_wrong_key(tmp_path: Path) -> None:
    from app.core.signing import (
        SignatureError,
        generate_key_pair,
        load_public_key,
        verify_bundle,
    )

    bundle = signed_bundle(tmp_path / "b", "2026.11.5")
    dev = load_public_key(DEV_PUBLIC_KEY)
    verify_bundle(bundle, dev)
    _, other_pem = generate_key_pair()
    with pytest.raises(SignatureError, match="another key"):
        verify_bundle(bundle, load_public_key(other_pem))
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text().replace("2026.11.5", "2026.11.6"))
    with pytest.raises(SignatureError):
        verify_bundle(bundle, dev)
    (bundle / "manifest.sig").write_text("not base64 at all!")
    with pytest.raises(SignatureError, match="not base64"):
        verify_bundle(bundle, dev)
    (bundle / "manifest.sig").unlink()
    with pytest.raises(SignatureError, match="not signed"):
        verify_bundle(bundle, dev)


def test_registry_refuses_unsigned_expired_and_mismatched_bundles(tmp_path: Path) -> None:
    from server.registry import RegistryError, prepare

    good = signed_bundle(tmp_path / "good", "2026.11.7")
    first, second = prepare(good, public_key=DEV_PUBLIC_KEY), prepare(good, public_key=DEV_PUBLIC_KEY)
    assert first.archive == second.archive  # reproducible archive: same bytes, same sha256 for resumes
    assert first.signed_by == "13c5ba0d5aba22b2"

    unsigned = signed_bundle(tmp_path / "unsigned", "2026.11.8")
    (unsigned / "manifest.sig").unlink()
    with pytest.raises(RegistryError, match="not signed"):
        prepare(unsigned)  # there is no longer a way to store an unsigned bundle (issue 14)

    expired = signed_bundle(tmp_path / "expired", "2026.11.9", expires="2020-01-01")
    with pytest.raises(RegistryError, match="expired"):
        prepare(expired)

    swapped = signed_bundle(tmp_path / "swapped", "2026.11.10")
    (swapped / "state.onnx").write_bytes(b"not the model")
    with pytest.raises(RegistryError, match="does not match"):
        prepare(swapped)

    resigned = signed_bundle(tmp_path / "resigned", "2026.11.11")
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from app.core.signing import generate_key_pair, sign_bundle

    other_private, _ = generate_key_pair()
    sign_bundle(resigned, load_pem_private_key(other_private, None))  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="another key"):
        prepare(resigned, public_key=DEV_PUBLIC_KEY)


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    from app.core.signing import load_private_key, load_public_key
    from server.cli import main

    assert main(["keygen", "--out", str(tmp_path), "--name", "org"]) == 0
    out = json.loads(capsys.readouterr().out)
    private = Path(out["private_key"])
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert load_private_key(private).public_key().public_bytes_raw() == \
        load_public_key(Path(out["public_key"])).public_bytes_raw()
    assert main(["keygen", "--out", str(tmp_path), "--name", "org"]) == 2  # never overwrites silently
    assert "already exist" in capsys.readouterr().err
    secret = tmp_path / "passphrase"
    secret.write_text("una frase larga de prueba\n")
    assert main(["keygen", "--out", str(tmp_path), "--name", "enc", "--passphrase-file", str(secret)]) == 0
    load_private_key(tmp_path / "enc-private.pem", b"una frase larga de prueba")


def test_model_export_sign_module_signs_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from model_export.sign import main

    bundle = signed_bundle(tmp_path / "b", "2026.11.12")
    (bundle / "manifest.sig").unlink()
    assert main([str(bundle), "--key", str(DEV_PRIVATE_KEY), "--public-key", str(DEV_PUBLIC_KEY)]) == 0
    assert json.loads(capsys.readouterr().out)["development_key"] is True
    assert main([str(bundle), "--verify", "--public-key", str(DEV_PUBLIC_KEY)]) == 0
    capsys.readouterr()
    (bundle / "knowledge.json").write_text("{}")
    assert main([str(bundle), "--key", str(DEV_PRIVATE_KEY)]) == 1  # a broken bundle is never signed
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "bundle_error"


# --- database -----------------------------------------------------------------------------------------------------


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    from alembic import command

    from server.db.migrate import alembic_config, upgrade
    from server.db.session import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'check.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        command.check(alembic_config(conn))  # raises when models and migrations differ


def test_one_production_model_is_a_database_rule(tmp_path: Path) -> None:
    from sqlalchemy.exc import IntegrityError

    from server.db import crud
    from server.db.migrate import upgrade
    from server.db.session import make_engine, make_sessions
    from server.registry import prepare

    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    upgrade(engine)
    with make_sessions(engine, write=True)() as session:
        a, _ = crud.add_model(session, prepare(signed_bundle(tmp_path / "a", "2026.11.20")), "t")
        b, _ = crud.add_model(session, prepare(signed_bundle(tmp_path / "b", "2026.11.21")), "t")
        a.stage = b.stage = "production"  # behind crud.promote's back
        with pytest.raises(IntegrityError):
            session.flush()


# --- small HTTP checks in process ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from server.core.config import Settings
    from server.main import create_app

    settings = Settings.load(database_url=f"sqlite:///{tmp_path / 'rl.db'}", data_dir=tmp_path,
                             rate_limit_per_second=0.5, rate_limit_burst=3)
    with TestClient(create_app(settings)) as client:
        codes = [client.get("/v1/symptoms").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = client.get("/v1/symptoms")
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert client.get("/health").status_code == 200  # monitoring is never limited


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_unexpected_errors_answer_500_without_a_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from server.core.config import Settings
    from server.main import create_app

    settings = Settings.load(database_url=f"sqlite:///{tmp_path / 'e.db'}", data_dir=tmp_path)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        def explode() -> Any:
            raise RuntimeError("secret internals /etc/passwd")

        monkeypatch.setattr(app.state.cloud_engine, "current", explode)
        reply = client.post("/v1/predict", json={"age": 40, "sex": "F"})
    assert reply.status_code == 500
    assert reply.json()["error"]["code"] == "internal_error"
    assert "secret internals" not in reply.text and "Traceback" not in reply.text


def test_predict_batcher_answers_each_request_as_the_engine_alone_would(engine: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from server.cloud_engine import PredictBatcher

    cases = [
        {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}},
        {"age": 8, "sex": "M", "symptoms": {"fiebre": 9, "tos": 6, "dolor_garganta": 5}},
        {"age": 67, "sex": "F", "duration_days": 200, "symptoms": {"poliuria": 6, "polidipsia": 7, "fatiga": 4},
         "vitals": {"glucose_mg_dl": 320}},
        {"age": 30, "sex": "M", "symptoms": {"diarrea": 8, "vomito": 6, "dolor_abdominal": 5}},
    ] * 5
    requests = [engine.validate(c) for c in cases]
    calls: list[int] = []
    real = engine.diagnose_many

    def counted(batch: Any, engine: str = "local", next_findings: bool = True) -> Any:
        calls.append(len(batch))
        return real(batch, engine, next_findings)

    monkeypatch.setattr(engine, "diagnose_many", counted)

    async def run() -> list[dict[str, Any]]:
        batcher = PredictBatcher(max_batch=8)
        batcher.start()
        try:
            return list(await asyncio.gather(*(batcher.diagnose(engine, r) for r in requests)))
        finally:
            await batcher.stop()

    answers = asyncio.run(run())
    assert calls == [8, 8, 4]  # twenty concurrent requests, three model calls
    monkeypatch.undo()
    for request, batched in zip(requests, answers, strict=True):
        alone = engine.diagnose(request, engine="cloud")
        for key in ("severity", "severity_probabilities", "requires_immediate_attention", "red_flags",
                    "top_conditions", "recommendations", "model", "engine"):
            assert batched[key] == alone[key], key
        for part in ("severity", "condition"):
            got, want = batched["explanation"][part], alone["explanation"][part]
            assert got["target"] == want["target"]
            assert got["output_value"] == pytest.approx(want["output_value"], abs=1e-4)
            for name, value in want["contributions"].items():
                assert got["contributions"][name] == pytest.approx(value, abs=1e-4)
