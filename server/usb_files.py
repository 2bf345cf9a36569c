"""USB files on the central service: sealed feedback files from clinics that are never online, and bundle archives
for their USB sticks (`vereda-server import-feedback`, `vereda-server export-model`).

A feedback file (app/core/sealed_file.py) names its device in a clear, authenticated header; it is opened with the
key derived from that device's stored token hash, so only a file sealed by the enrolled device (or by someone who
can read this database) opens, and a revoked device's files are refused. Its records go through the same intake as
`POST /v1/feedback:batch` (server/intake.py), so a record that arrives by USB and by network is stored once. The
receipt is sealed the same way, for the laptop to mark what was stored.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.bundle import shipped_bundle_dir
from app.core.files import write_atomic
from app.core.sealed_file import SealedFileError, open_sealed, read_header, seal
from server.db import crud
from server.db.models import Device


class UsbFileError(Exception):
    """A file the service refuses; the message says why, for the operator."""


def _replace(target: Path, data_chunks: Any) -> None:
    write_atomic(target, data_chunks)


def import_feedback_file(sessions: sessionmaker[Session], cache_dir: Path, file: Path,
                         receipt: Path | None = None, public_key: Path | None = None) -> dict[str, Any]:
    """Store a sealed feedback file's records (idempotently) and write the sealed receipt. Returns a summary.

    `public_key` is the key bundles must be signed with (default: the one the clinics pin)."""
    from app.core.signing import pinned_public_key_path
    from server.cloud_engine import CloudEngine
    from server.intake import take_in

    try:
        data = Path(file).read_bytes()
        device_id = read_header(data)["device_id"]
    except OSError as exc:
        raise UsbFileError(f"cannot read {file}: {exc.strerror}") from None
    except SealedFileError as exc:
        raise UsbFileError(f"{file}: {exc}") from None
    # The vocabulary first: loading it reads the registry in its own session, which SQLite would make wait behind
    # the write session below.
    vocabulary = CloudEngine(sessions, cache_dir, 0, shipped_bundle_dir(),
                             public_key=public_key or pinned_public_key_path()).current().vocabulary
    with sessions() as session:
        device = session.scalar(select(Device).where(Device.id == device_id))
        if device is None or device.revoked_at is not None:
            raise UsbFileError(f"{file}: device {device_id} is unknown or revoked; its files are not accepted")
        key_material = bytes.fromhex(device.token_hash)
        try:
            header, payload = open_sealed(data, key_material=key_material, kind="feedback")
        except SealedFileError as exc:
            raise UsbFileError(f"{file}: {exc}") from None
        clinic = device.clinic
        if header["clinic_id"] != clinic.public_id or not isinstance(payload.get("records"), list):
            raise UsbFileError(f"{file}: it names another clinic than device {device_id}'s, or holds no records")
        intake = take_in(session, payload["records"], clinic_id=clinic.public_id, clinic_pk=clinic.id,
                         device_id=device.id, vocabulary=vocabulary)
        session.commit()
    answer = intake.answer
    target = Path(receipt) if receipt is not None else Path(file).with_name(Path(file).name + ".receipt")
    sealed = seal("receipt", {"results": [r.model_dump(mode="json") for r in answer.results]},
                  key_material=key_material, device_id=device_id, clinic_id=header["clinic_id"],
                  count=len(answer.results))
    _replace(target, [sealed])
    return {"device_id": device_id, "clinic_id": header["clinic_id"], "records": len(answer.results),
            "accepted": answer.accepted, "new": intake.new, "conflict": answer.conflict, "invalid": answer.invalid,
            "rejected": answer.rejected, "receipt": str(target)}


def export_model(sessions: sessionmaker[Session], version: str, out: Path) -> dict[str, Any]:
    """Write a published bundle's archive (the bytes /v1/models/{version}/bundle serves) to `out`."""
    with sessions() as session:
        model = crud.get_model(session, version)
        if model is None:
            raise UsbFileError(f"no published model has version {version}; see `vereda-server models`")
        digest = hashlib.sha256()

        def chunks() -> Any:
            for chunk in crud.archive_chunks(session, model.id):
                digest.update(chunk)
                yield chunk

        _replace(Path(out), chunks())
        if digest.hexdigest() != model.archive_sha256:
            Path(out).unlink()
            raise UsbFileError(f"the stored archive of {version} does not match its sha256; re-publish it")
        return {"version": model.version, "stage": model.stage, "file": str(out), "sha256": model.archive_sha256,
                "size": model.archive_size}
