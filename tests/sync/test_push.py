"""Pushing the outbox to a real `vereda-server` through the capturing proxy: acknowledgement, refusals, and what the
bytes on the wire contain (no identifier of the patient, ever)."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from typing import Any

import requests

from app.sync.client import CentralClient
from app.sync.outbox import push_outbox
from tests.server.helpers import Server
from tests.sync.conftest import (
    FAST_RETRY,
    Clinic,
    close_encounters,
    direct,
    enroll_clinic,
    expected_uuids,
    stored,
)
from tests.sync.proxy import FaultProxy


def push(clinic: Clinic, url: str, batch_size: int = 500) -> Any:
    from app.sync.enrollment import load_enrollment

    with clinic.doctor() as doctor:
        enrollment = load_enrollment(doctor)
        assert enrollment is not None
        with CentralClient(url, enrollment.token, FAST_RETRY) as client:
            summary = push_outbox(direct(doctor), client, enrollment.clinic_id, batch_size=batch_size)
        return summary, doctor.outbox.counts()


def test_push_marks_accepted_rows_and_a_replay_stores_nothing_twice(clinic: Clinic, answers: Any, server: Server,
                                                                     proxy: FaultProxy) -> None:
    enrollment = enroll_clinic(clinic, proxy.url, server)
    close_encounters(clinic, answers, 25)
    summary, counts = push(clinic, proxy.url, batch_size=10)
    assert (summary.pushed, summary.acknowledged, summary.failed, summary.batches) == (25, 25, 0, 3)
    assert counts == {"pending": 0, "refused": 0, "sent": 25}
    held = stored(server.database)
    mine = expected_uuids(clinic)
    assert mine <= set(held)
    record = held[sorted(mine)[0]]
    assert record["clinic_id"] == enrollment.clinic_id
    assert record["week"] == "{}-W{:02d}".format(*dt.datetime.now(dt.UTC).isocalendar()[:2])
    ages = {held[u]["request"]["age"] for u in mine}
    assert ages == {34.0, 90.0, 8.0}  # 95 is sent as 90 (ages above 89 are not exact)
    assert all(set(held[u]["request"]["symptoms"]) <= {"fiebre", "dolor_cabeza", "dolor_retroocular",
                                                       "dolor_muscular", "tos", "dificultad_respirar", "diarrea",
                                                       "vomito", "dolor_abdominal"} for u in mine)

    # A lost acknowledgement, replayed by hand: the same records come back "accepted", nothing is stored twice.
    with clinic.admin() as admin, admin.context.transaction() as s:
        from sqlalchemy import select

        from app.store.models import FeedbackOutbox
        from app.sync.outbox import service_record

        rows = list(s.scalars(select(FeedbackOutbox)))
        again = [service_record(r.payload, r.created_at, enrollment.clinic_id) for r in rows]
    reply = requests.post(f"{proxy.url}/v1/feedback:batch", json={"records": again},
                          headers={"Authorization": f"Bearer {enrollment.token}"}, timeout=30)
    assert reply.json()["accepted"] == 25
    assert len(stored(server.database)) == len(held)


def test_refused_records_are_kept_with_their_reason_and_not_sent_again(clinic: Clinic, answers: Any,
                                                                        server: Server, proxy: FaultProxy) -> None:
    enrollment = enroll_clinic(clinic, proxy.url, server)
    close_encounters(clinic, answers, 4)
    with clinic.doctor() as doctor:
        patient = doctor.patients.add(given_names="Otra", family_names="Persona", sex="M")
        request, response, _ = answers[1]
        # A finding the laptop's newer model knows and the service's vocabulary does not: "invalid".
        newer = {**request, "symptoms": {**request["symptoms"], "sintoma_de_un_modelo_futuro": 3}}
        doctor.encounters.record(patient.id, request=newer, response=response, final_code="J18.9")
        rows = doctor.outbox.pending()
    # Someone already stored the first record's uuid with other content: "conflict".
    from app.sync.outbox import service_record

    first = service_record(rows[0].payload, rows[0].created_at, enrollment.clinic_id)
    other = {**first, "confirmed_diagnosis": "Z00.0"}
    headers = {"Authorization": f"Bearer {enrollment.token}"}
    assert requests.post(f"{server.url}/v1/feedback:batch", json={"records": [other]}, headers=headers,
                         timeout=30).json()["accepted"] == 1

    summary, counts = push(clinic, proxy.url)
    assert summary.acknowledged == 3 and dict(summary.refused) == {"conflict": 1, "invalid": 1}
    assert counts == {"pending": 0, "refused": 2, "sent": 3}
    with clinic.admin() as admin, admin.context.transaction() as s:
        from sqlalchemy import select

        from app.store.models import FeedbackOutbox

        errors = sorted(r.last_error for r in s.scalars(select(FeedbackOutbox)) if r.last_error)
    assert errors[0].startswith("refused: conflict uuid_conflict") and errors[1].startswith("refused: invalid")
    assert "request.symptoms" in errors[1]  # the service names the field...
    assert "sintoma_de_un_modelo_futuro" not in errors[1]  # ...never what was sent in it
    sent_before = proxy.count("feedback:batch")
    summary, counts = push(clinic, proxy.url)
    assert summary.pushed == 0 and proxy.count("feedback:batch") == sent_before  # refused rows are not retried


def test_records_of_another_clinic_are_rejected(clinic: Clinic, answers: Any, server: Server,
                                                proxy: FaultProxy) -> None:
    enrollment = enroll_clinic(clinic, proxy.url, server)
    close_encounters(clinic, answers, 2)
    with clinic.doctor() as doctor, CentralClient(proxy.url, enrollment.token, FAST_RETRY) as client:
        summary = push_outbox(direct(doctor), client, "otra-clinica-1234")
        assert dict(summary.refused) == {"rejected": 2} and doctor.outbox.counts()["refused"] == 2


IDENTIFIERS = {
    "given_names": "Yesenia Xiomara",
    "family_names": "Quiñónez Zambrano",
    "document_number": "1098765432",
    "birth_date": dt.date(1991, 4, 17),
    "village": "El Carmen de Atrato",
    "phone": "3104567890",
    "notes": "Alérgica a la penicilina; vive con su prima Rosalba",
    "encounter_notes": "Llamar a la hija, Marleny, al 3209876543",
}


def _variants(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = {text, text.lower(), text.upper(), folded, folded.lower()}
    out |= {json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}  # as JSON would write it
    return out


def test_no_identifier_of_the_patient_is_in_the_bytes_sent(clinic: Clinic, answers: Any, server: Server,
                                                           proxy: FaultProxy) -> None:
    enroll_clinic(clinic, proxy.url, server)
    encounter_ids = close_encounters(clinic, answers, 3, **IDENTIFIERS)
    with clinic.doctor() as doctor:
        patient_id = doctor.encounters.get(encounter_ids[0]).patient_id
        local_clinic_id = doctor.clinic.id
    summary, counts = push(clinic, proxy.url)
    assert summary.acknowledged == 3 and counts["pending"] == 0
    wire = bytes(proxy.captured).decode("utf-8", errors="replace")
    assert "feedback:batch" in wire  # the records did go through the proxy

    forbidden: set[str] = set()
    for key in ("given_names", "family_names", "village", "notes", "encounter_notes"):
        text = str(IDENTIFIERS[key])
        forbidden |= _variants(text)
        forbidden |= {w for word in text.replace(",", " ").replace(";", " ").split() if len(word) >= 5
                      for w in _variants(word)}
    birth = IDENTIFIERS["birth_date"]
    forbidden |= {"1098765432", "3104567890", "3209876543", birth.isoformat(), birth.strftime("%d/%m/%Y"),
                  birth.strftime("%Y%m%d"), dt.date.today().isoformat(), patient_id, local_clinic_id,
                  *encounter_ids}
    found = sorted(f for f in forbidden if f and f in wire)
    assert found == [], f"identifiers on the wire: {found}"
