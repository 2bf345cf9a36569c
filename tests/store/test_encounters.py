"""Patients, encounters and the feedback outbox: closing writes the outbox row in the same transaction, the outbox
carries no identifying data, closed encounters are complete and final, and search forgives accents and case."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlcipher3

from app.store import StoreError
from app.store.config_vars import AUTO_LOCK_LIMIT
from tests.store.conftest import DOCUMENT, NAMES, Clinic, add_named_patient
from tests.store.test_audit import raw_connection


def test_closing_writes_encounter_and_outbox_together(clinic: Clinic, diagnosis):
    request, response = diagnosis
    with clinic.doctor() as store:
        patient = add_named_patient(store)
        draft = store.encounters.start(patient.id, request=request)
        assert store.outbox.pending() == []
        with pytest.raises(StoreError) as info:
            store.encounters.close(draft.id, "A97")
        assert info.value.code == "encounter_incomplete"  # no response yet: nothing was written
        assert store.outbox.pending() == []
        store.encounters.update(draft.id, response=response, notes="Control en 48 h")
        with pytest.raises(StoreError) as info:
            store.encounters.close(draft.id, "dengue")
        assert info.value.code == "invalid_code"
        closed = store.encounters.close(draft.id, "A97")
        assert closed.status == "closed" and closed.final_code_system == "ICD10"
        assert closed.model_version == response["model"]["version"]
        assert closed.severity == response["severity"]
        outbox = store.outbox.pending()
        assert [row.encounter_id for row in outbox] == [draft.id]
        with pytest.raises(StoreError) as info:
            store.encounters.update(draft.id, notes="cambio")
        assert info.value.code == "encounter_closed"
        rare = store.encounters.record(patient.id, request=request, response=response, final_code="ORPHA:558")
        assert rare.final_code_system == "ORPHA"
        stored = store.encounters.get(closed.id)
        assert stored.response == response and stored.request == request  # explanation and all, round-tripped
        assert [e.id for e in store.encounters.for_patient(patient.id)] == [rare.id, closed.id]


def test_outbox_payload_is_deidentified(clinic: Clinic, diagnosis):
    request, response = diagnosis
    with clinic.doctor() as store:
        patient = add_named_patient(store)
        old = store.patients.add(given_names="Anciano", family_names="Prueba", sex="M")
        store.encounters.record(patient.id, request=request, response=response, final_code="A97",
                                notes=f"{NAMES[0]} vive en Vereda El Carmen")
        store.encounters.record(old.id, request={**request, "age": 97}, response=response, final_code="A97")
        rows = store.outbox.pending()
    payload = rows[0].payload
    text = json.dumps([r.payload for r in rows], ensure_ascii=False)
    for secret in (*NAMES, DOCUMENT, "3104567890", "Vereda El Carmen", "penicilina", "1991", patient.id):
        assert secret not in text
    assert payload["patient"] != patient.id and len(payload["patient"]) == 32
    assert payload["month"] == dt.datetime.now(dt.UTC).strftime("%Y-%m")
    assert set(payload) == {"format", "clinic_id", "patient", "encounter", "month", "request", "prediction",
                            "confirmed"}
    assert payload["request"]["symptoms"] == request["symptoms"]
    assert payload["confirmed"] == {"code": "A97", "system": "ICD10"}
    assert "explanation" not in payload["prediction"]
    assert rows[1].payload["request"]["age"] == 90.0  # ages over 89 are reported as 90


def test_only_doctors_confirm_diagnoses(clinic: Clinic, diagnosis):
    request, response = diagnosis
    with clinic.admin() as admin:
        patient = admin.patients.add(given_names="Ana", family_names="Ruiz", sex="F")
        with pytest.raises(StoreError) as info:
            admin.encounters.record(patient.id, request=request, response=response, final_code="A97")
        assert info.value.code == "not_allowed"


def test_database_refuses_a_closed_encounter_without_its_diagnosis(clinic: Clinic, diagnosis):
    request, response = diagnosis
    with clinic.doctor() as store:
        patient = add_named_patient(store)
        draft = store.encounters.start(patient.id, request=request, response=response)
    conn = raw_connection(clinic)
    with pytest.raises(sqlcipher3.IntegrityError, match="closed_is_complete"):
        conn.execute("UPDATE encounters SET status = 'closed', closed_at = '2026-01-01T00:00:00.000000Z' "
                     "WHERE id = ?", (draft.id,))
    conn.close()


def test_search_by_name_prefix_and_document(clinic: Clinic):
    with clinic.doctor() as store:
        maria = store.patients.add(given_names="María José", family_names="Peña Gómez", sex="F",
                                   document_type="CC", document_number="1.023.456.789")
        jose = store.patients.add(given_names="José", family_names="Pérez", sex="M", document_number="52.111.222")
        store.patients.add(given_names="Marta", family_names="Núñez", sex="F", document_number="9999")

        def names(query: str) -> list[str]:
            return [p.given_names for p in store.patients.search(query)]

        assert names("maria") == ["María José"]
        assert names("MARÍA") == ["María José"]
        assert names("pena") == ["María José"]  # ñ matches n: a keyboard without ñ still finds Peña
        assert names("jose") == ["María José", "José"]  # sorted by family names: Peña before Pérez
        assert names("jos pe") == ["María José", "José"]
        assert names("jose perez") == ["José"]
        assert names("mar") == ["Marta", "María José"]  # Núñez before Peña
        assert names("zzz") == []
        assert [p.id for p in store.patients.search("1023456789")] == [maria.id]
        assert [p.id for p in store.patients.search("1.023.456")] == [maria.id]
        assert [p.id for p in store.patients.search("52111")] == [jose.id]
        assert [p.id for p in store.patients.search("CC 52.111.222")] == [jose.id]
        with pytest.raises(StoreError) as info:
            store.patients.add(given_names="Otra", family_names="Persona", sex="F", document_number="1023456789")
        assert info.value.code == "patient_exists"
        store.patients.update(jose.id, given_names="José Antonio")
        assert names("antonio") == ["José Antonio"]
        with pytest.raises(StoreError) as info:
            store.patients.add(given_names="", family_names="Persona", sex="F")
        assert info.value.code == "missing_field"


def test_settings_and_installed_bundles(clinic: Clinic):
    with clinic.admin() as admin:
        first = admin.bundles.record_installed(version="2026.11.1", sha256="a" * 64, source="shipped",
                                               manifest={"version": "2026.11.1"})
        again = admin.bundles.record_installed(version="2026.11.1", sha256="a" * 64, source="shipped",
                                               manifest={"version": "2026.11.1"})
        assert again.id == first.id
        admin.bundles.record_installed(version="2026.12.1", sha256="b" * 64, source="usb",
                                       manifest={"version": "2026.12.1"})
        assert admin.bundles.active().version == "2026.12.1"
        admin.settings.set(AUTO_LOCK_LIMIT, 5)
        assert admin.settings.get(AUTO_LOCK_LIMIT) == 5 and admin.auto_lock_seconds == 300
        actions = [e.action for e in admin.audit.entries(limit=10)]
        assert actions.count("bundle.install") == 3 and "setting.change" in actions
    with clinic.doctor() as store:
        assert store.auto_lock_seconds == 300  # read at login
        with pytest.raises(StoreError) as info:
            store.settings.set(AUTO_LOCK_LIMIT, 60)
        assert info.value.code == "not_allowed"
