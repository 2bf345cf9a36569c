"""Request and response bodies of the API (pydantic): `…Create` is what a client sends, `…Public` what it gets back.

The feedback record is validated strictly (`extra="forbid"`, patterns on every string, no type coercion) because it
is the one body that leaves a clinic with clinical data in it: a field that is not in the schema, such as a name, a
phone or a note, is refused rather than stored, and no string field can hold free text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.core.response import Severity
from server.db.models import AuditStatus, ModelStage

# Every string a feedback record may carry is an identifier of a known shape, never prose.
SnakeKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
HpoTerm = Annotated[str, StringConstraints(pattern=r"^HP:\d{7}$")]
# ICD-10 (A00, J18.9, A01.0, and national extensions such as S72.001A) or Orphanet (ORPHA:558): the same rule the
# clinic's store applies when the doctor confirms (app/store/store.py), so nothing it accepts is refused here.
DiagnosisCode = Annotated[str, StringConstraints(pattern=r"^([A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?|ORPHA:[0-9]{1,7})$")]
ClinicId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,39}$")]
ModelVersionText = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$")]
# The keyed pseudonym is an HMAC in hex: letters of a name cannot pass.
Pseudonym = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32,128}$")]
RecordUuid = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
]
IsoWeek = Annotated[str, StringConstraints(pattern=r"^\d{4}-W\d{2}$")]
AgeBand = Annotated[str, StringConstraints(pattern=r"^(\d{1,3}-\d{1,3}|\d{1,3}\+)$")]
Intensity = Annotated[int, Field(ge=0, le=10, strict=True)]
VitalValue = Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False, strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- errors -------------------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_request"])
    field: str | None = Field(default=None, examples=["records[0].week"])
    message: str
    request_id: str | None = None


class ErrorPublic(BaseModel):
    """Every error the API returns has this shape (the same as the diagnose contract's errors)."""

    error: ErrorDetail


# --- health and vocabulary ----------------------------------------------------------------------------------------


class HealthPublic(BaseModel):
    status: Literal["ok"]
    service: str = "vereda-server"
    version: str
    database: Literal["ok"]
    model_version: str | None


# --- enrollment ---------------------------------------------------------------------------------------------------


class EnrollBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrollCreate(EnrollBase):
    code: str = Field(min_length=4, max_length=64, examples=["K7QM-3XPD-9VTA-HR2C"])
    previous_token: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="the token this laptop held before (`vereda enroll --force`): that device is revoked when the "
        "code is spent, so one laptop never holds two live tokens",
    )


class EnrollPublic(EnrollBase):
    device_id: int
    device_token: str = Field(description="send as `Authorization: Bearer …`; shown once, stored only hashed")
    clinic_id: str
    clinic_name: str


# --- devices ------------------------------------------------------------------------------------------------------


class DevicePublic(BaseModel):
    """A device as `vereda-server device list` shows it (never its token, of which only the hash is stored)."""

    device_id: int
    clinic_id: str
    clinic_name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_reason: str | None
    replaced_by: int | None = Field(description="the device this laptop re-enrolled as, when that revoked it")
    tester: bool = Field(description="receives staging bundles before they are promoted")
    audit_seq: int | None
    audit_hash: str | None
    audit_reported_at: dt.datetime | None
    audit_alert: str | None = Field(description="the last time the laptop's audit history went backwards or changed")
    audit_alert_at: dt.datetime | None


class DeviceRevokedPublic(BaseModel):
    device_id: int
    revoked_at: dt.datetime


class AuditHeadCreate(_Strict):
    """The newest entry of the laptop's append-only audit log: its sequence number and chain hash."""

    seq: Annotated[int, Field(ge=0, le=2**62, strict=True)]
    hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class AuditHeadPublic(BaseModel):
    status: AuditStatus = Field(
        description="recorded: a first or newer head; unchanged: the same head as last time; rewound: a lower "
        "sequence than reported before (entries removed, or an older backup restored); rewritten: the same sequence "
        "with another hash. rewound and rewritten are kept as the device's alert for the administrators"
    )
    seq: int
    hash: str


class EnrollmentCodePublic(BaseModel):
    """What `vereda-server enroll-code` prints."""

    clinic: str
    clinic_id: str
    code: str
    expires_at: dt.datetime


# --- feedback -----------------------------------------------------------------------------------------------------


class FeedbackPregnancy(_Strict):
    """Contract v2's pregnancy: a stage (weeks, or days since delivery), never a date."""

    status: Literal["pregnant", "postpartum", "not_pregnant", "unknown"]
    weeks: Annotated[float, Field(ge=1, le=45, allow_inf_nan=False, strict=True)] | None = None
    days_since_delivery: Annotated[float, Field(ge=0, le=42, allow_inf_nan=False, strict=True)] | None = None


class FeedbackRequest(_Strict):
    """The diagnose request as sent to the model, minus anything identifying. Age in years or as a band."""

    age: Annotated[float, Field(ge=0, le=120, allow_inf_nan=False, strict=True)] | AgeBand
    sex: Literal["F", "M"]
    duration_days: Annotated[float, Field(ge=0, le=3650, allow_inf_nan=False, strict=True)] | None = None
    symptoms: dict[SnakeKey, Intensity] = Field(default_factory=dict, max_length=80)
    vitals: dict[SnakeKey, VitalValue] = Field(default_factory=dict, max_length=20)
    hpo_terms: list[HpoTerm] = Field(default_factory=list, max_length=50)
    # Findings looked for and absent (issue 18): optional, so older clinics' records validate and, stored with
    # exclude_unset, keep their hash; never also among hpo_terms, as in the diagnose contract.
    excluded_hpo_terms: list[HpoTerm] = Field(default_factory=list, max_length=50)
    pregnancy: FeedbackPregnancy | None = None
    consciousness: Literal["A", "V", "P", "U"] | None = None
    signs: list[SnakeKey] = Field(default_factory=list, max_length=40)

    @field_validator("age")
    @classmethod
    def _band_in_range(cls, value: float | str) -> float | str:
        if isinstance(value, str):
            numbers = [int(n) for n in re.findall(r"\d+", value)]
            if numbers[-1] > 120 or (len(numbers) == 2 and numbers[0] > numbers[1]):
                raise ValueError("an age band is LOW-HIGH with 0 <= LOW <= HIGH <= 120, or LOW+")
        return value

    @model_validator(mode="after")
    def _absent_is_not_present(self) -> FeedbackRequest:
        clash = sorted(set(self.hpo_terms) & set(self.excluded_hpo_terms))
        if clash:
            raise ValueError(f"{', '.join(clash)} both in hpo_terms and excluded_hpo_terms")
        return self


class ResponseSummary(_Strict):
    severity: Severity
    top_condition: DiagnosisCode
    requires_immediate_attention: Annotated[bool, Field(strict=True)]


class FeedbackRecordBase(_Strict):
    uuid: RecordUuid = Field(description="made by the client once per record; the key of idempotent intake")
    clinic_id: ClinicId
    pseudonym: Pseudonym = Field(description="HMAC of the patient with a clinic secret that never leaves the laptop")
    week: IsoWeek = Field(examples=["2026-W48"], description="ISO week of the encounter, never the date")
    request: FeedbackRequest
    response_summary: ResponseSummary
    confirmed_diagnosis: DiagnosisCode
    model_version: ModelVersionText

    @field_validator("uuid")
    @classmethod
    def _canonical_uuid(cls, value: str) -> str:
        return value.lower()

    @field_validator("week")
    @classmethod
    def _real_week(cls, value: str) -> str:
        year, week = int(value[:4]), int(value[6:])
        try:
            dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValueError(f"{value} is not an ISO week") from None
        return value


class FeedbackRecordCreate(FeedbackRecordBase):
    """One de-identified, doctor-confirmed outcome, as the clinic's sync client sends it."""


class FeedbackBatchCreate(BaseModel):
    """Records are validated one by one: a bad record is reported in its place and does not block the others."""

    model_config = ConfigDict(extra="forbid")
    records: list[FeedbackRecordCreate] = Field(min_length=1)


RecordStatus = Literal["accepted", "conflict", "invalid", "rejected"]


class FeedbackRecordStatus(BaseModel):
    index: int = Field(description="position in the batch")
    uuid: str | None
    status: RecordStatus = Field(
        description="accepted: stored (now or by an earlier identical send: replays answer the same); conflict: "
        "this uuid was stored with a different payload (the 422 of issue 5); invalid: the record fails the schema; "
        "rejected: the record names another clinic than the device's"
    )
    error: ErrorDetail | None = None


class FeedbackBatchPublic(BaseModel):
    accepted: int
    conflict: int
    invalid: int
    rejected: int
    results: list[FeedbackRecordStatus]


# --- models -------------------------------------------------------------------------------------------------------


class ModelArchivePublic(BaseModel):
    url: str
    format: str
    media_type: str
    sha256: str
    size: int


class ModelBase(BaseModel):
    version: str
    stage: ModelStage
    created: str
    expires: str


class ModelPublic(ModelBase):
    """A registry entry as clients see it: enough to decide, download, and verify."""

    manifest_sha256: str
    signature: str | None = Field(description="content of manifest.sig (base64 Ed25519 over manifest.json's bytes)")
    manifest: dict[str, Any]
    archive: ModelArchivePublic
    published_at: dt.datetime
    promoted_at: dt.datetime | None


class ModelListItem(ModelBase):
    """A row of `vereda-server models`."""

    manifest_sha256: str
    signed_by: str | None
    archive_sha256: str
    archive_size: int
    published_at: dt.datetime
    published_by: str
    promoted_at: dt.datetime | None
    promoted_by: str | None
    metrics: dict[str, Any]


class StaffPublic(BaseModel):
    """A staff account as `vereda-server staff list` shows it (never the password hash)."""

    username: str
    enabled: bool
    created_at: dt.datetime
    password_changed_at: dt.datetime
    last_login_at: dt.datetime | None
    disabled_at: dt.datetime | None
