"""`store.encounters`: a consultation from its draft to the doctor's confirmed diagnosis.

Anyone who records findings can start or update a draft; only a doctor closes one. Closing writes the encounter,
its feedback outbox row (app/store/feedback.py: pseudonymised, no names) and the audit entry in one transaction:
after a crash either all three exist or none does (tests/store/test_crash.py kills the writer to check).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.context import StoreContext, new_id
from app.store.feedback import feedback_payload
from app.store.messages import StoreError
from app.store.models import Encounter, FeedbackOutbox, utcnow
from app.store.patients import require_patient
from app.store.records import EncounterRecord

_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
_ORPHA = re.compile(r"^ORPHA:[0-9]{1,7}$")


def diagnosis_code_system(code: str) -> str:
    """"ICD10" or "ORPHA" for a confirmed diagnosis code; `invalid_code` for anything else."""
    if _ORPHA.match(code):
        return "ORPHA"
    if _ICD10.match(code):
        return "ICD10"
    raise StoreError("invalid_code", code=code)


class Encounters:
    def __init__(self, context: StoreContext) -> None:
        self._context = context

    def start(self, patient_id: str, *, request: dict[str, Any] | None = None,
              response: Mapping[str, Any] | None = None, notes: str | None = None) -> EncounterRecord:
        """A draft encounter (a nurse can open one; the request and response may come later)."""
        c = self._context
        c.require("write_records")
        with c.transaction() as s:
            require_patient(s, patient_id)
            encounter = Encounter(id=new_id(), patient_id=patient_id, clinician_id=c.principal.user_id,
                                  started_at=utcnow(), status="draft", notes=notes)
            _apply_diagnosis(encounter, request, response)
            s.add(encounter)
            c.audit(s, "encounter.start", f"encounter:{encounter.id}", {"patient": patient_id})
            return EncounterRecord.from_row(encounter)

    def update(self, encounter_id: str, *, request: dict[str, Any] | None = None,
               response: Mapping[str, Any] | None = None, notes: str | None = None) -> EncounterRecord:
        c = self._context
        c.require("write_records")
        with c.transaction() as s:
            encounter = _encounter(s, encounter_id)
            if encounter.status == "closed":
                raise StoreError("encounter_closed", encounter=encounter_id)
            _apply_diagnosis(encounter, request, response)
            if notes is not None:
                encounter.notes = notes
            changed = [k for k, v in (("request", request), ("response", response), ("notes", notes)) if v is not None]
            c.audit(s, "encounter.update", f"encounter:{encounter_id}", {"fields": changed})
            return EncounterRecord.from_row(encounter)

    def close(self, encounter_id: str, final_code: str, *, notes: str | None = None) -> EncounterRecord:
        """The doctor confirms the final diagnosis. The encounter, its feedback outbox row and the audit entry are
        written in one transaction: after a crash either all three exist or none does."""
        c = self._context
        c.require("close_encounter")
        system = diagnosis_code_system(final_code)
        with c.transaction() as s:
            encounter = _encounter(s, encounter_id)
            if encounter.status == "closed":
                raise StoreError("encounter_closed", encounter=encounter_id)
            self._close_in(s, encounter, final_code, system, notes)
            return EncounterRecord.from_row(encounter)

    # `response` is the engine's DiagnoseResponse (or a stored or cloud answer of the same shape): read as a Mapping,
    # stored as a plain dict.
    def record(self, patient_id: str, *, request: dict[str, Any], response: Mapping[str, Any], final_code: str,
               notes: str | None = None) -> EncounterRecord:
        """Start and close an encounter in one transaction (a doctor working alone, imports, the demo clinic)."""
        c = self._context
        c.require("close_encounter")
        system = diagnosis_code_system(final_code)
        with c.transaction() as s:
            require_patient(s, patient_id)
            encounter = Encounter(id=new_id(), patient_id=patient_id, clinician_id=c.principal.user_id,
                                  started_at=utcnow(), status="draft")
            _apply_diagnosis(encounter, request, response)
            s.add(encounter)
            c.audit(s, "encounter.start", f"encounter:{encounter.id}", {"patient": patient_id})
            self._close_in(s, encounter, final_code, system, notes)
            return EncounterRecord.from_row(encounter)

    def get(self, encounter_id: str) -> EncounterRecord:
        c = self._context
        c.require("read_records")
        with c.transaction() as s:
            encounter = _encounter(s, encounter_id)
            c.audit(s, "encounter.read", f"encounter:{encounter_id}", {"patient": encounter.patient_id})
            return EncounterRecord.from_row(encounter)

    def for_patient(self, patient_id: str) -> list[EncounterRecord]:
        """A patient's encounters, newest first (logged as a read of the patient's record)."""
        c = self._context
        c.require("read_records")
        with c.transaction() as s:
            require_patient(s, patient_id)
            rows = [EncounterRecord.from_row(e) for e in s.scalars(
                select(Encounter).where(Encounter.patient_id == patient_id).order_by(Encounter.started_at.desc()))]
            c.audit(s, "patient.read_encounters", f"patient:{patient_id}", {"count": len(rows)})
        return rows

    def closed(self, since: dt.datetime | None = None, until: dt.datetime | None = None) -> list[EncounterRecord]:
        """Closed encounters with `since <= closed_at < until` (either end open), oldest first: the exports (FHIR,
        spreadsheets, the notification report). One audit entry with the period and the count, not one per record."""
        c = self._context
        c.require("read_records")
        query = select(Encounter).where(Encounter.status == "closed")
        if since is not None:
            query = query.where(Encounter.closed_at >= since)
        if until is not None:
            query = query.where(Encounter.closed_at < until)
        with c.transaction() as s:
            rows = [EncounterRecord.from_row(e) for e in s.scalars(query.order_by(Encounter.closed_at, Encounter.id))]
            c.audit(s, "encounter.read_closed", None, {"since": since.isoformat() if since else None,
                                                       "until": until.isoformat() if until else None,
                                                       "count": len(rows)})
        return rows

    def _close_in(self, s: Session, encounter: Encounter, code: str, system: str, notes: str | None) -> None:
        c = self._context
        if encounter.request is None or encounter.response is None:
            raise StoreError("encounter_incomplete")
        now = utcnow()
        encounter.status = "closed"
        encounter.closed_at = now
        encounter.final_code = code
        encounter.final_code_system = system
        if notes is not None:
            encounter.notes = notes
        s.flush()
        payload = feedback_payload(clinic_id=c.clinic_id, pseudonym_key=bytes(c.pseudonym_key),
                                   patient_id=encounter.patient_id, encounter_id=encounter.id, closed_at=now,
                                   request=encounter.request, response=encounter.response, final_code=code,
                                   final_code_system=system)
        s.add(FeedbackOutbox(encounter_id=encounter.id, created_at=now, payload=payload, attempts=0))
        c.audit(s, "encounter.close", f"encounter:{encounter.id}", {"code": code, "system": system})


def _apply_diagnosis(encounter: Encounter, request: dict[str, Any] | None, response: Mapping[str, Any] | None) -> None:
    if request is not None:
        encounter.request = request
    if response is not None:
        encounter.response = dict(response)
        model = response.get("model") or {}
        encounter.model_version = model.get("version")
        encounter.model_sha256 = model.get("sha256")
        encounter.severity = response.get("severity")
        encounter.requires_attention = bool(response.get("requires_immediate_attention"))


def _encounter(s: Session, encounter_id: str) -> Encounter:
    encounter = s.get(Encounter, encounter_id)
    if encounter is None:
        raise StoreError("unknown_encounter", encounter=encounter_id)
    return encounter
