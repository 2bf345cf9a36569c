"""The audit log: everything that touches a patient record or an account is logged with its user, the log is
append-only, and `vereda check` finds an edited or deleted row even when the tamperer dropped the triggers."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlcipher3

from app.store import ClinicStore, StoreError
from app.store.keys import Keyring, normalise_passphrase, open_wrap
from tests.store.conftest import ADMIN_PASS, DOCUMENT, NAMES, Clinic, add_named_patient, vereda


def raw_connection(clinic: Clinic) -> sqlcipher3.Connection:
    """What someone holding the data key could do with any SQLCipher tool."""
    keyring = Keyring.load(clinic.data_dir / "keys.json")
    key = open_wrap(keyring.user_wrap("admin"), normalise_passphrase(ADMIN_PASS), keyring.clinic_id)
    assert key is not None
    conn = sqlcipher3.connect(str(clinic.data_dir / "vereda.db"), isolation_level=None)
    conn.execute(key.hex_pragma())
    return conn


def check(clinic: Clinic, tmp_path: Path) -> tuple[int, str]:
    (tmp_path / "pass").write_text(ADMIN_PASS)
    p = vereda("--lang", "en", "check", "--data-dir", str(clinic.data_dir), "--passphrase-file",
               str(tmp_path / "pass"))
    assert "Traceback" not in p.stdout + p.stderr
    return p.returncode, p.stdout


def populate(clinic: Clinic, diagnosis) -> None:
    request, response = diagnosis
    with clinic.doctor() as store:
        patient = add_named_patient(store)
        store.patients.get(patient.id)
        store.encounters.record(patient.id, request=request, response=response, final_code="A97")


def test_every_kind_of_event_is_logged_with_its_user(clinic: Clinic, diagnosis):
    request, response = diagnosis
    with pytest.raises(StoreError):
        ClinicStore.unlock(clinic.data_dir, "doctora", "wrong passphrase")
    with clinic.doctor() as store:
        patient = add_named_patient(store)
        store.patients.get(patient.id)
        store.patients.search("yes")
        store.patients.update(patient.id, phone="3000000000")
        draft = store.encounters.start(patient.id, request=request, response=response)
        store.encounters.close(draft.id, "A97")
        store.encounters.for_patient(patient.id)
        store.audit.record_export("report:monthly", {"rows": 1})
        outbox = store.outbox.pending()
        store.outbox.mark_sent([row.id for row in outbox])
        store.audit.record_sync("connected", {"server": "central"})
        doctor_id = store.principal.user_id
    with clinic.admin() as admin:
        admin.users.add("enfermera", "Enf. Rosa", "nurse", "temporal-12345")
        entries = admin.audit.entries(limit=1000)
    by_action = {}
    for entry in entries:
        by_action.setdefault(entry.action, []).append(entry)
    for action in ("login", "login.failed", "lock", "patient.create", "patient.read", "patient.search",
                   "patient.update", "encounter.start", "encounter.close", "patient.read_encounters", "export",
                   "sync.feedback_sent", "sync.connected", "user.add"):
        assert action in by_action, action
    assert by_action["patient.read"][0].user_id == doctor_id
    assert by_action["patient.read"][0].subject == f"patient:{patient.id}"
    assert by_action["patient.update"][0].detail == {"fields": ["phone"]}
    # The log says what happened, never the record itself: no names, documents, phones or search text.
    text = " ".join(f"{e.subject} {e.detail}" for e in entries)
    for secret in (*NAMES, DOCUMENT, "3000000000", "3104567890", "yes"):
        assert secret not in text


def test_log_is_append_only(clinic: Clinic, diagnosis):
    populate(clinic, diagnosis)
    conn = raw_connection(clinic)
    with pytest.raises(sqlcipher3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET action = 'nothing' WHERE seq = 3")
    with pytest.raises(sqlcipher3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 3")
    conn.close()


@pytest.mark.parametrize("tamper", ["edit", "delete_middle", "delete_newest", "drop_triggers"])
def test_check_detects_tampering(clinic: Clinic, diagnosis, tmp_path: Path, tamper: str):
    populate(clinic, diagnosis)
    with clinic.admin() as admin:
        assert admin.check().ok
    conn = raw_connection(clinic)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    if tamper == "edit":
        conn.execute("UPDATE audit_log SET action = 'patient.create' WHERE action = 'patient.read'")
    elif tamper == "delete_middle":
        conn.execute("DELETE FROM audit_log WHERE action = 'patient.read'")
    elif tamper == "delete_newest":
        conn.execute("DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log)")
    conn.close()
    code, out = check(clinic, tmp_path)
    assert code == 1, out
    problems = {
        "edit": "was edited",
        "delete_middle": "are missing",
        "delete_newest": "entries were deleted",
        "drop_triggers": "audit_log_no_update",
    }
    assert problems[tamper] in out, out


def test_the_anchor_survives_a_torn_write_of_its_newest_slot(tmp_path: Path) -> None:
    """The anchor is written in place in two slots in turn: damaging the slot being written (a crash mid-write)
    leaves the previous head readable, one transaction behind and never ahead."""
    from app.store.audit import AuditAnchor

    path = tmp_path / "audit-anchor.json"
    anchor = AuditAnchor(path, b"k" * 32)
    anchor.write(1, "a" * 64)
    anchor.write(2, "b" * 64)
    anchor.write(3, "c" * 64)
    assert anchor.read() == (3, "c" * 64)
    raw = bytearray(path.read_bytes())
    newest_slot = 0 if raw.startswith(b'{"seq":3,') else 1
    raw[newest_slot * AuditAnchor.SLOT + 20] ^= 0xFF  # torn: the slot being written holds garbage
    path.write_bytes(bytes(raw))
    assert AuditAnchor(path, b"k" * 32).read() == (2, "b" * 64)
    # A fresh anchor object (the app restarted) overwrites the damaged slot next, keeping the good one.
    again = AuditAnchor(path, b"k" * 32)
    again.write(4, "d" * 64)
    assert again.read() == (4, "d" * 64)
    raw = path.read_bytes()
    assert b'"seq":2' in raw and b'"seq":4' in raw
    # Another key (a forged file) verifies nothing.
    assert AuditAnchor(path, b"x" * 32).read() is None


def test_the_anchor_moves_back_only_when_rewritten_whole(tmp_path: Path) -> None:
    from app.store.audit import AuditAnchor

    path = tmp_path / "audit-anchor.json"
    anchor = AuditAnchor(path, b"k" * 32)
    for seq in range(1, 6):
        anchor.write(seq, f"{seq:064d}")
    anchor.write(2, "2" * 64)  # a restore put an older database back
    assert anchor.read() == (2, "2" * 64)
    assert AuditAnchor(path, b"k" * 32).read() == (2, "2" * 64)
