"""Signed model updates from a real `vereda-server` (through the fault proxy) and from files: every refusal, the
resumed download, atomic activation, the audit log, and rollback.

The module's server gets a production chain 2026.12.1 < .2 < ... in file order (the registry refuses to promote an
older version), so the tests run in order against it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import update as sql_update

from app.core.bundle import shipped_bundle_dir
from app.core.signing import generate_key_pair, load_private_key, sign_bundle
from app.store.config_vars import CENTRAL_URL
from app.sync.client import CentralClient, RetryPolicy
from app.sync.enrollment import load_enrollment
from app.sync.messages import SyncError
from app.sync.updates import (
    active_bundle_dir,
    active_version,
    install_archive,
    read_active,
    rollback,
    update_from_service,
)
from tests.server.helpers import SHIPPED_VERSION, Server, open_sessions, signed_bundle, smuggled_bundle
from tests.sync.conftest import Clinic, direct, enroll_clinic, no_sleep
from tests.sync.proxy import Fault, FaultProxy

BUNDLE = "/bundle"


@pytest.fixture(scope="module")
def device_clinic(tmp_path_factory: pytest.TempPathFactory, server: Server) -> Clinic:
    """One enrolled clinic for the whole module (its models folder carries over from test to test)."""
    from app.store import ClinicStore
    from tests.sync.conftest import ADMIN_PASS, DOCTOR_PASS, FAST_KDF

    folder = tmp_path_factory.mktemp("updates") / "clinic"
    store, _ = ClinicStore.create(folder, clinic_name="Puesto", municipality="Inzá", admin_login="admin",
                                  admin_name="Ana", admin_passphrase=ADMIN_PASS, kdf=FAST_KDF)
    store.users.add("doctora", "Dra. Luz", "doctor", DOCTOR_PASS, must_change_passphrase=False, kdf=FAST_KDF)
    store.lock()
    return Clinic(folder)


@pytest.fixture
def module_proxy(server: Server, device_clinic: Clinic) -> Any:
    proxy = FaultProxy(server.port)
    with device_clinic.admin() as admin:
        if load_enrollment(admin) is None:
            admin.lock()
            enroll_clinic(device_clinic, proxy.url, server, name="Puesto de Salud Modelos")
        else:
            admin.settings.set(CENTRAL_URL, proxy.url)
    yield proxy
    proxy.close()


def update(clinic: Clinic, proxy: FaultProxy, attempts: int = 3, **kwargs: Any) -> Any:
    """Run one update check as the doctor (the role that syncs)."""
    with clinic.doctor() as doctor:
        enrollment = load_enrollment(doctor)
        assert enrollment is not None
        retry = RetryPolicy(attempts=attempts, base_delay=0.01, sleep=no_sleep)
        with CentralClient(proxy.url, enrollment.token, retry) as client:
            return update_from_service(client, clinic.data_dir, direct(doctor), **kwargs)


def publish(server: Server, bundle: Path, *, unchecked: bool = False, today: dt.date | None = None,
            now: dt.datetime | None = None) -> None:
    """Publish and promote `bundle`; `unchecked` stores it as a compromised registry would (the registry itself
    refuses unsigned and otherwise signed bundles), to show the clinic refuses it anyway."""
    from server import registry
    from server.db import crud

    prepared = smuggled_bundle(bundle) if unchecked else registry.prepare(bundle, today=today)
    with open_sessions(server.database)() as session:
        model, _ = crud.add_model(session, prepared, "test", now=now)
        crud.promote(session, model.version, "test", now=now)
        session.commit()


def audit(clinic: Clinic, action: str) -> list[dict[str, Any]]:
    with clinic.admin() as admin:
        return [e.detail for e in admin.audit.entries(limit=500) if e.action == action]


def other_key(tmp_path: Path) -> Path:
    private, _ = generate_key_pair()
    path = tmp_path / "other-private.pem"
    path.write_bytes(private)
    return path


# ------------------------------------------------------------------------------------------------ network
def test_nothing_published_keeps_the_shipped_model(device_clinic: Clinic, module_proxy: FaultProxy) -> None:
    result = update(device_clinic, module_proxy)
    assert result.status == "none_published" and result.active == SHIPPED_VERSION
    assert active_bundle_dir(device_clinic.data_dir) == shipped_bundle_dir()


def test_an_archive_altered_on_the_server_is_refused_and_tried_again_later(
        device_clinic: Clinic, module_proxy: FaultProxy, server: Server, tmp_path: Path) -> None:
    from server.db.models import ModelArchiveChunk, ModelVersion

    publish(server, signed_bundle(tmp_path / "b", "2026.12.1"))
    with open_sessions(server.database)() as session:
        model_id = session.scalar(select(ModelVersion.id).where(ModelVersion.version == "2026.12.1"))
        chunk = session.scalar(select(ModelArchiveChunk).where(ModelArchiveChunk.model_id == model_id))
        data = bytearray(chunk.data)
        data[len(data) // 2] ^= 0xFF
        chunk.data = bytes(data)
        session.commit()
    result = update(device_clinic, module_proxy)
    assert result.status == "refused" and result.error.code == "update_sha256_mismatch"
    assert active_version(device_clinic.data_dir) == SHIPPED_VERSION
    assert not list((device_clinic.data_dir / "models" / ".downloads").glob("*.partial"))
    assert audit(device_clinic, "sync.model_refused")[0]["code"] == "update_sha256_mismatch"
    # Damage in transit is not held against the archive: the next sync downloads it again.
    before = module_proxy.count(BUNDLE)
    assert update(device_clinic, module_proxy).error.code == "update_sha256_mismatch"
    assert module_proxy.count(BUNDLE) == before + 1


def test_a_bundle_signed_with_another_key_is_refused_once_and_not_downloaded_again(
        device_clinic: Clinic, module_proxy: FaultProxy, server: Server, tmp_path: Path) -> None:
    publish(server, signed_bundle(tmp_path / "b", "2026.12.2", key=other_key(tmp_path)), unchecked=True)
    result = update(device_clinic, module_proxy)
    assert result.status == "refused" and result.error.code == "update_bad_signature"
    before = module_proxy.count(BUNDLE)
    again = update(device_clinic, module_proxy)
    assert again.error.code == "update_bad_signature" and module_proxy.count(BUNDLE) == before
    assert active_version(device_clinic.data_dir) == SHIPPED_VERSION


def test_an_unsigned_bundle_is_refused(device_clinic: Clinic, module_proxy: FaultProxy, server: Server,
                                       tmp_path: Path) -> None:
    bundle = signed_bundle(tmp_path / "b", "2026.12.3")
    (bundle / "manifest.sig").unlink()
    publish(server, bundle, unchecked=True)
    result = update(device_clinic, module_proxy)
    assert result.status == "refused" and result.error.code == "update_unsigned"


def test_an_expired_bundle_is_refused_even_when_the_registry_says_otherwise(
        device_clinic: Clinic, module_proxy: FaultProxy, server: Server, tmp_path: Path) -> None:
    from server.db.models import ModelVersion

    past = dt.date.today() - dt.timedelta(days=10)
    bundle = signed_bundle(tmp_path / "b", "2026.12.4", expires=(past + dt.timedelta(days=5)).isoformat())
    publish(server, bundle, today=past, now=dt.datetime.combine(past, dt.time(), dt.UTC))
    result = update(device_clinic, module_proxy)  # the registry's own date says expired: not even downloaded
    assert result.status == "refused" and result.error.code == "update_expired"
    with open_sessions(server.database)() as session:  # a registry that lies about the date
        session.execute(sql_update(ModelVersion).where(ModelVersion.version == "2026.12.4")
                        .values(expires="2099-01-01"))
        session.commit()
    before = module_proxy.count(BUNDLE)
    result = update(device_clinic, module_proxy)
    assert result.error.code == "update_expired" and module_proxy.count(BUNDLE) == before + 1  # the signed date wins


def test_a_bundle_larger_than_allowed_is_not_downloaded_and_endless_data_is_cut(
        device_clinic: Clinic, module_proxy: FaultProxy, server: Server, tmp_path: Path) -> None:
    publish(server, signed_bundle(tmp_path / "b", "2026.12.5"))
    before = module_proxy.count(BUNDLE)
    result = update(device_clinic, module_proxy, max_bytes=10_000)
    assert result.error.code == "update_too_large" and module_proxy.count(BUNDLE) == before
    module_proxy.add(Fault("endless", BUNDLE, 64 * 1024 * 1024))
    result = update(device_clinic, module_proxy)
    assert result.status == "refused" and result.error.code == "update_endless"
    assert not list((device_clinic.data_dir / "models" / ".downloads").glob("*.partial"))
    assert active_version(device_clinic.data_dir) == SHIPPED_VERSION


def test_a_cut_download_resumes_where_it_stopped_then_installs_atomically(
        device_clinic: Clinic, module_proxy: FaultProxy, server: Server, tmp_path: Path) -> None:
    publish(server, signed_bundle(tmp_path / "b", "2026.12.6"))
    module_proxy.add(Fault("cut_response", BUNDLE, 20_000))
    first = update(device_clinic, module_proxy, attempts=1)
    assert first.status == "interrupted" and first.error.code == "unreachable"
    (partial,) = (device_clinic.data_dir / "models" / ".downloads").glob("*.partial")
    have = partial.stat().st_size
    assert 0 < have < 20_000
    result = update(device_clinic, module_proxy)
    assert result.status == "installed" and result.version == "2026.12.6"
    last_get = [h for h in module_proxy.request_heads if BUNDLE.encode() in h.split(b"\r\n", 1)[0]][-1].lower()
    assert f"range: bytes={have}-".encode() in last_get and b"if-range:" in last_get
    installed = device_clinic.data_dir / "models" / "2026.12.6"
    assert active_bundle_dir(device_clinic.data_dir) == installed
    pointer = read_active(device_clinic.data_dir)
    assert pointer is not None and pointer.version == "2026.12.6" and pointer.previous is None
    assert not list((device_clinic.data_dir / "models").glob(".staging-*"))
    with device_clinic.doctor() as doctor:
        assert doctor.bundles.active().version == "2026.12.6"
    assert audit(device_clinic, "sync.model_installed")[0]["version"] == "2026.12.6"
    assert update(device_clinic, module_proxy).status == "up_to_date"


def test_a_second_update_keeps_the_previous_one_and_rollback_withdraws_it(
        device_clinic: Clinic, module_proxy: FaultProxy, server: Server, tmp_path: Path) -> None:
    publish(server, signed_bundle(tmp_path / "b", "2026.12.7"))
    assert update(device_clinic, module_proxy).status == "installed"
    models = device_clinic.data_dir / "models"
    assert sorted(p.name for p in models.iterdir() if p.is_dir() and not p.name.startswith(".")) == [
        "2026.12.6", "2026.12.7"]
    pointer = rollback(device_clinic.data_dir)
    assert pointer.version == "2026.12.6" and "2026.12.7" in pointer.withdrawn
    assert active_bundle_dir(device_clinic.data_dir) == models / "2026.12.6"
    assert update(device_clinic, module_proxy).status == "up_to_date"  # a withdrawn version is not reinstalled
    assert active_version(device_clinic.data_dir) == "2026.12.6"


# ------------------------------------------------------------------------------------------------ files (USB road)
def archive_of(bundle: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    from server.registry import build_archive

    names = sorted(p.name for p in bundle.iterdir())
    target.write_bytes(build_archive(bundle, names))
    if extra:
        with tarfile.open(target, "r:gz") as tar:
            members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for member, data in members:
                tar.addfile(member, io.BytesIO(data))
            for name, data in extra.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        target.write_bytes(raw.getvalue())
    return target


def refusal(archive: Path, data_dir: Path) -> str:
    with pytest.raises(SyncError) as info:
        install_archive(archive, data_dir, source="usb")
    assert not list((data_dir / "models").glob(".staging-*"))
    return info.value.code


def test_older_and_equal_versions_are_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert refusal(archive_of(signed_bundle(tmp_path / "old", "2026.10.0"), tmp_path / "o.tgz"), data_dir) \
        == "update_older"
    assert refusal(archive_of(signed_bundle(tmp_path / "same", SHIPPED_VERSION), tmp_path / "s.tgz"), data_dir) \
        == "update_older"
    assert active_bundle_dir(data_dir) == shipped_bundle_dir()


def test_files_that_do_not_match_the_signed_manifest_are_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    swapped = signed_bundle(tmp_path / "swapped", "2026.12.9")
    knowledge = json.loads((swapped / "knowledge.json").read_text(encoding="utf-8"))
    knowledge["tampered"] = True  # a file from another build, next to this build's signed manifest
    (swapped / "knowledge.json").write_text(json.dumps(knowledge), encoding="utf-8")
    assert refusal(archive_of(swapped, tmp_path / "a.tgz"), data_dir) == "update_files_mismatch"
    good = signed_bundle(tmp_path / "extra", "2026.12.9")
    assert refusal(archive_of(good, tmp_path / "b.tgz", {"payload.py": b"print('hi')"}), data_dir) \
        == "update_files_mismatch"
    resigned = signed_bundle(tmp_path / "manifest", "2026.12.9")
    manifest = json.loads((resigned / "manifest.json").read_text(encoding="utf-8"))
    manifest["thresholds"]["attention_acute_probability"] = 0.99  # the manifest edited after signing
    (resigned / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert refusal(archive_of(resigned, tmp_path / "c.tgz"), data_dir) == "update_bad_signature"


@pytest.mark.parametrize("kind", ["symlink", "dotdot", "absolute", "hardlink"])
def test_archives_with_links_or_paths_outside_the_bundle_are_refused(tmp_path: Path, kind: str) -> None:
    bundle = signed_bundle(tmp_path / "b", "2026.12.9")
    archive = tmp_path / "evil.tgz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for path in sorted(bundle.iterdir()):
            tar.add(path, arcname=path.name)
        info = tarfile.TarInfo({"symlink": "link", "dotdot": "../escape.txt", "absolute": "/tmp/vereda-escape.txt",
                                "hardlink": "hard"}[kind])
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "manifest.json"
        data = b"x"
        info.size = 0 if kind in ("symlink", "hardlink") else len(data)
        tar.addfile(info, io.BytesIO(data) if info.size else None)
    archive.write_bytes(raw.getvalue())
    assert refusal(archive, tmp_path / "data") == "update_unsafe_archive"
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/vereda-escape.txt").exists()


def test_a_bundle_failing_its_own_check_cases_is_refused(tmp_path: Path) -> None:
    from hashlib import sha256

    from tests.server.helpers import DEV_PRIVATE_KEY

    bundle = tmp_path / "b"
    shutil.copytree(shipped_bundle_dir(), bundle)
    checks = {"format": 1, "cases": [{"name": "impossible", "request": {"age": 40, "sex": "F", "symptoms": {
        "fatiga": 1, "mareos": 1, "dolor_muscular": 1}}, "expect": {"severity_at_least": "ENFERMEDAD_AGUDA"}}]}
    (bundle / "checks.json").write_text(json.dumps(checks), encoding="utf-8")
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = "2026.12.9"
    manifest["files"]["checks.json"] = sha256((bundle / "checks.json").read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    sign_bundle(bundle, load_private_key(DEV_PRIVATE_KEY))
    with pytest.raises(SyncError) as info:
        install_archive(archive_of(bundle, tmp_path / "c.tgz"), tmp_path / "data", source="usb")
    assert info.value.code == "update_checks_failed" and "impossible" in info.value.message("en")


def test_a_damaged_pointer_falls_back_to_the_shipped_model(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    installed = install_archive(archive_of(signed_bundle(tmp_path / "b", "2026.12.9"), tmp_path / "a.tgz"),
                                data_dir, source="usb")
    assert active_bundle_dir(data_dir) == installed.path
    (data_dir / "models" / "active").write_text("{not json", encoding="utf-8")
    assert active_bundle_dir(data_dir) == shipped_bundle_dir()
