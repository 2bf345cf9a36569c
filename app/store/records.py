"""What the store's parts hand out: frozen copies of rows, taken inside the transaction that read them.

ORM rows stay inside app/store: a row outlives its session only half-alive (lazy attributes, accidental writes on
the next flush), and the app moves results between its database worker and the GUI thread. A record is plain data,
safe on any thread. The JSON fields (an encounter's request and response, an outbox payload, a manifest) are the
decoded dicts; nothing writes them back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any, Self


class _FromRow:
    @classmethod
    def from_row(cls, row: Any) -> Self:
        """Copy the fields of the same names from an ORM row (called inside the session that loaded it)."""
        # `fields` wants a dataclass; this mixin is not one, every class that calls it is.
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]  # cls: a dataclass record (see above)
        values: dict[str, Any] = {name: getattr(row, name) for name in names}
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ClinicRecord(_FromRow):
    """The clinic this laptop serves (its pseudonym key stays inside the store)."""

    id: str
    name: str
    municipality: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UserRecord(_FromRow):
    id: str
    login: str
    display_name: str
    role: str
    active: bool
    must_change_passphrase: bool
    created_at: dt.datetime
    created_by: str | None
    disabled_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PatientRecord(_FromRow):
    id: str
    given_names: str
    family_names: str
    sort_name: str
    document_type: str
    document_number: str | None
    birth_date: dt.date | None
    sex: str
    village: str | None
    phone: str | None
    notes: str | None
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class EncounterRecord(_FromRow):
    id: str
    patient_id: str
    clinician_id: str
    started_at: dt.datetime
    closed_at: dt.datetime | None
    status: str
    request: dict[str, Any] | None
    response: dict[str, Any] | None
    model_version: str | None
    model_sha256: str | None
    severity: str | None
    requires_attention: bool | None
    notes: str | None
    final_code: str | None
    final_code_system: str | None


@dataclass(frozen=True, slots=True)
class OutboxRecord(_FromRow):
    """One closed encounter's de-identified outcome waiting to be sent (or sent, or refused)."""

    id: int
    encounter_id: str
    created_at: dt.datetime
    payload: dict[str, Any]
    sent_at: dt.datetime | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class BundleRecord(_FromRow):
    """A model bundle this laptop installed."""

    id: int
    version: str
    sha256: str
    source: str
    installed_at: dt.datetime
    installed_by: str | None
    manifest: dict[str, Any]
    active: bool


@dataclass(frozen=True, slots=True)
class AuditRecord(_FromRow):
    seq: int
    at: dt.datetime
    user_id: str | None
    action: str
    subject: str | None
    detail: dict[str, Any]
    prev_hash: str
    entry_hash: str


RECORD_TYPES = (ClinicRecord, UserRecord, PatientRecord, EncounterRecord, OutboxRecord, BundleRecord, AuditRecord)
