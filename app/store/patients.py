"""`store.patients`: registering, correcting, opening and finding patients.

Opening a record is logged as a read of that patient; a search is logged with its kind and result count only (a
search box fires on every keystroke, and the query is a name or a document number). Names are searched through
`patient_name_tokens` (app/store/names.py): "mar gom" finds María Gómez with two index range scans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session

from app.store.context import StoreContext, new_id, required_text
from app.store.messages import StoreError
from app.store.models import DOCUMENT_TYPES, SEXES, Patient, PatientNameToken, utcnow
from app.store.names import name_tokens, normalise_document, prefix_upper_bound, sort_key
from app.store.records import PatientRecord

SEARCH_LIMIT = 50
EDITABLE = ("given_names", "family_names", "sex", "document_type", "document_number", "birth_date", "village",
            "phone", "notes")


class Patients:
    def __init__(self, context: StoreContext) -> None:
        self._context = context

    def add(self, *, given_names: str, family_names: str, sex: str, document_type: str = "CC",
            document_number: str | None = None, birth_date: dt.date | None = None, village: str | None = None,
            phone: str | None = None, notes: str | None = None) -> PatientRecord:
        c = self._context
        c.require("write_records")
        fields = _patient_fields(given_names=given_names, family_names=family_names, sex=sex,
                                 document_type=document_type, document_number=document_number,
                                 birth_date=birth_date, village=village, phone=phone, notes=notes)
        now = utcnow()
        with c.transaction() as s:
            _refuse_duplicate_document(s, fields["document_type"], fields["document_norm"], None)
            patient = Patient(id=new_id(), created_at=now, updated_at=now, created_by=c.principal.user_id, **fields)
            s.add(patient)
            s.flush()
            s.add_all(PatientNameToken(token=t, patient_id=patient.id)
                      for t in name_tokens(patient.given_names, patient.family_names))
            c.audit(s, "patient.create", f"patient:{patient.id}")
            return PatientRecord.from_row(patient)

    def update(self, patient_id: str, **changes: Any) -> PatientRecord:
        """Change any of EDITABLE; the audit entry names the fields that changed, never their values."""
        c = self._context
        c.require("write_records")
        with c.transaction() as s:
            patient = _patient(s, patient_id)
            merged = {k: getattr(patient, k) for k in EDITABLE}
            unknown = set(changes) - set(merged)
            if unknown:
                raise StoreError("invalid_field", field=sorted(unknown)[0])
            merged.update(changes)
            fields = _patient_fields(**merged)
            _refuse_duplicate_document(s, fields["document_type"], fields["document_norm"], patient_id)
            changed = sorted(k for k, v in fields.items() if getattr(patient, k) != v)
            for k in changed:
                setattr(patient, k, fields[k])
            patient.updated_at = utcnow()
            if {"given_names", "family_names"} & set(changed):
                tokens = cast(Table, PatientNameToken.__table__)  # declared as FromClause; an ORM class's is a Table
                s.execute(tokens.delete().where(PatientNameToken.patient_id == patient_id))
                s.add_all(PatientNameToken(token=t, patient_id=patient_id)
                          for t in name_tokens(patient.given_names, patient.family_names))
            # Which fields changed, never their values: the audit log must not become a copy of the records.
            c.audit(s, "patient.update", f"patient:{patient_id}", {"fields": changed})
            return PatientRecord.from_row(patient)

    def get(self, patient_id: str) -> PatientRecord:
        """Open one patient's record (logged as a read of that record)."""
        c = self._context
        c.require("read_records")
        with c.transaction() as s:
            patient = _patient(s, patient_id)
            c.audit(s, "patient.read", f"patient:{patient_id}")
            return PatientRecord.from_row(patient)

    def search(self, query: str, limit: int = SEARCH_LIMIT) -> list[PatientRecord]:
        """Patients whose document number starts with `query` (when it has a digit), or every word of whose name
        starts with one of the query's words ("mar gom" finds María Gómez), accent- and case-insensitive."""
        c = self._context
        c.require("read_records")
        words = query.split()
        # "CC 1023..." or "DNI 4567..." as read off the card; only before a number, since some codes are also words
        # of names ("DE" in "de la Cruz").
        if len(words) > 1 and words[0].upper() in DOCUMENT_TYPES and any(ch.isdigit() for ch in words[1]):
            query = " ".join(words[1:])
        tokens = name_tokens(query)
        by_document = any(ch.isdigit() for ch in query)
        with c.transaction() as s:
            ids = _ids_by_document(s, normalise_document(query), limit) if by_document \
                else _ids_by_name(s, tokens, limit)
            patients = [PatientRecord.from_row(p) for p in s.scalars(select(Patient).where(Patient.id.in_(ids)))] \
                if ids else []
            # Neither the query (a name or a document number) nor the list shown is logged: a search box fires on
            # every keystroke, and opening a record (`get`) is the access that names the patient.
            c.audit(s, "patient.search", None, {"by": "document" if by_document else "name",
                                                "results": len(patients)})
        patients.sort(key=lambda p: (p.sort_name, p.id))
        return patients

    def register(self) -> list[PatientRecord]:
        """Every patient, by name: the patient register the exports write (one audit entry with the count)."""
        c = self._context
        c.require("read_records")
        with c.transaction() as s:
            patients = [PatientRecord.from_row(p) for p in s.scalars(select(Patient).order_by(Patient.sort_name,
                                                                                              Patient.id))]
            c.audit(s, "patient.read_register", None, {"count": len(patients)})
        return patients


def require_patient(s: Session, patient_id: str) -> None:
    """Raise `unknown_patient` unless the patient exists (for other parts, inside their transaction)."""
    _patient(s, patient_id)


def _patient(s: Session, patient_id: str) -> Patient:
    patient = s.get(Patient, patient_id)
    if patient is None:
        raise StoreError("unknown_patient", patient=patient_id)
    return patient


def _patient_fields(*, given_names: str, family_names: str, sex: str, document_type: str,
                    document_number: str | None, birth_date: dt.date | None, village: str | None,
                    phone: str | None, notes: str | None) -> dict[str, Any]:
    given = required_text(given_names, "given_names")
    family = required_text(family_names, "family_names")
    sex = (sex or "").strip().upper()
    if sex not in SEXES:
        raise StoreError("invalid_field", field="sex")
    document_type = (document_type or "").strip().upper()
    if document_type not in DOCUMENT_TYPES:
        raise StoreError("invalid_document_type", value=document_type, allowed=", ".join(DOCUMENT_TYPES))
    if birth_date is not None and (not isinstance(birth_date, dt.date) or birth_date > dt.date.today()):
        raise StoreError("invalid_field", field="birth_date")
    number = document_number.strip() if document_number and document_number.strip() else None
    return {
        "given_names": given, "family_names": family, "sort_name": sort_key(given, family), "sex": sex,
        "document_type": document_type, "document_number": number, "document_norm": normalise_document(number),
        "birth_date": birth_date, "village": (village or "").strip() or None,
        "phone": (phone or "").strip() or None, "notes": notes or None,
    }


def _refuse_duplicate_document(s: Session, document_type: str, norm: str | None, patient_id: str | None) -> None:
    if norm is None:
        return
    other = s.scalar(select(Patient.id).where(Patient.document_type == document_type, Patient.document_norm == norm))
    if other is not None and other != patient_id:
        raise StoreError("patient_exists", document_type=document_type)


def _ids_by_document(s: Session, norm: str | None, limit: int) -> list[str]:
    if not norm:
        return []
    rows = s.execute(text("SELECT id FROM patients WHERE document_norm >= :lo AND document_norm < :hi "
                          "ORDER BY document_norm LIMIT :n"),
                     {"lo": norm, "hi": prefix_upper_bound(norm), "n": limit})
    return [r[0] for r in rows]


def _ids_by_name(s: Session, tokens: Sequence[str], limit: int) -> list[str]:
    if not tokens:
        return []
    # Drive the scan with the longest word (usually the most selective); the other words must each match some
    # token of the same patient, checked through the (patient_id, token) index.
    ordered = sorted(tokens, key=len, reverse=True)
    params: dict[str, Any] = {"lo0": ordered[0], "hi0": prefix_upper_bound(ordered[0]), "n": limit * 3}
    sql = "SELECT t.patient_id FROM patient_name_tokens t WHERE t.token >= :lo0 AND t.token < :hi0"
    for i, token in enumerate(ordered[1:], start=1):
        params[f"lo{i}"], params[f"hi{i}"] = token, prefix_upper_bound(token)
        sql += (f" AND EXISTS (SELECT 1 FROM patient_name_tokens u{i} WHERE u{i}.patient_id = t.patient_id"
                f" AND u{i}.token >= :lo{i} AND u{i}.token < :hi{i})")
    sql += " ORDER BY t.token, t.patient_id LIMIT :n"
    out: list[str] = []
    for (pid,) in s.execute(text(sql), params):
        if pid not in out:
            out.append(pid)
            if len(out) == limit:
                break
    return out
