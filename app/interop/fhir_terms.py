"""FHIR R4 terminology and small builders for app/interop/fhir.py: code systems, LOINC vital codes, ids.

Ids are UUIDs derived from Vereda's own ids under a fixed namespace, so the same record always gets the same id
(a server's PUT replaces instead of doubling).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from fhirclient.models import codeableconcept, coding, fhirdatetime, fhirinstant, fhirreference, meta, quantity

FHIR_VERSION = "4.0.1"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
HPO = "http://human-phenotype-ontology.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ORPHA = "http://www.orpha.net"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
PROFILE = "http://hl7.org/fhir/StructureDefinition/"
# Vereda's own code systems (symptom keys, signs, states, vitals without a LOINC code here, model digests). URNs, not
# web addresses: nothing resolves them, and a ministry that registers its own can rewrite them on import.
VEREDA = "urn:vereda:"
SYMPTOM_SYSTEM = VEREDA + "symptom"
SIGN_SYSTEM = VEREDA + "sign"
STATE_SYSTEM = VEREDA + "state"
VITAL_SYSTEM = VEREDA + "vital"
DOCUMENT_SYSTEM = VEREDA + "document:"  # + document type (CC, TI, RC ...)
MODEL_SHA256_SYSTEM = VEREDA + "model-sha256"
ENCOUNTER_SYSTEM = VEREDA + "encounter"
PHENOPACKET_FORMAT = VEREDA + "format:ga4gh-phenopacket"
NAMESPACE = uuid.UUID("6b1d1c3e-7a5e-4f0e-9d8a-2f3c4b5a6d7e")  # fixed: the same record always gets the same id


@dataclass(frozen=True, slots=True)
class VitalCode:
    """How one contract vital is written: LOINC (or Vereda's code), display, UCUM unit, R4 profile, category."""

    key: str
    system: str
    code: str
    display: str
    unit: str  # UCUM
    profile: str | None
    category: str = "vital-signs"


VITALS: tuple[VitalCode, ...] = (
    VitalCode("temperature_c", LOINC, "8310-5", "Body temperature", "Cel", "bodytemp"),
    VitalCode("heart_rate", LOINC, "8867-4", "Heart rate", "/min", "heartrate"),
    VitalCode("respiratory_rate", LOINC, "9279-1", "Respiratory rate", "/min", "resprate"),
    VitalCode("spo2", LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "oxygensat"),
    VitalCode("glucose_mg_dl", LOINC, "2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", None, "laboratory"),
    VitalCode("weight_kg", LOINC, "29463-7", "Body weight", "kg", "bodyweight"),
    VitalCode("height_cm", LOINC, "8302-2", "Body height", "cm", "bodyheight"),
    # No LOINC code is claimed for these two: Vereda's own code, still in the vital-signs category.
    VitalCode("muac_mm", VITAL_SYSTEM, "muac_mm", "Mid-upper arm circumference", "mm", None),
    VitalCode("capillary_refill_s", VITAL_SYSTEM, "capillary_refill_s", "Capillary refill time", "s", None),
)
VITALS_BY_KEY = {v.key: v for v in VITALS}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
BP_PARTS = (("systolic_bp", "8480-6", "Systolic blood pressure"),
            ("diastolic_bp", "8462-4", "Diastolic blood pressure"))
OXYGEN_SATURATION = ("2708-6", "Oxygen saturation in Arterial blood")  # the R4 oxygensat profile requires it too
# An HPO finding's presence or absence, as the HL7 Phenomics Exchange IG's PhenotypicFeature profile codes it
# (valueCodeableConcept from LOINC's answer list: the phenopacket's `excluded` flag in FHIR).
FINDING_PRESENT = ("LA9633-4", "Present")
FINDING_ABSENT = ("LA9634-2", "Absent")
REFERRAL_CODE = (SNOMED, "3457005", "Patient referral")
REFERRAL_NOTE = (LOINC, "57133-1", "Referral note")


@dataclass(frozen=True, slots=True)
class Referral:
    """A referral made at this encounter: the letter's PDF and where the patient is sent."""

    pdf: bytes
    receiving_facility: str = ""
    title: str = "Carta de remisión"
    # The GA4GH Phenopacket v2 (JSON) of the findings when the rare-disease alert fired (app/interop/phenopacket.py),
    # for the genetics centre: a second DocumentReference beside the letter.
    phenopacket: bytes | None = None


class FhirExportError(ValueError):
    """An encounter that cannot be exported (not closed, or its patient missing)."""


def fhir_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands datetimes back naive; the store writes them in UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def fhir_datetime(value: dt.datetime) -> fhirdatetime.FHIRDateTime:
    return fhirdatetime.FHIRDateTime(utc(value).isoformat(timespec="seconds").replace("+00:00", "Z"))


def fhir_instant(value: dt.datetime) -> fhirinstant.FHIRInstant:
    return fhirinstant.FHIRInstant(utc(value).isoformat(timespec="seconds").replace("+00:00", "Z"))


def make_coding(system: str, code: str, display: str | None = None) -> coding.Coding:
    c = coding.Coding()
    c.system, c.code, c.display = system, code, display
    return c


def concept(*codings: coding.Coding, text: str | None = None) -> codeableconcept.CodeableConcept:
    c = codeableconcept.CodeableConcept()
    c.coding = list(codings) or None
    c.text = text
    return c


def reference(resource: Any, display: str | None = None) -> fhirreference.FHIRReference:
    r = fhirreference.FHIRReference()
    r.reference = f"urn:uuid:{resource.id}"
    r.display = display
    return r


def make_quantity(value: float, unit: str) -> quantity.Quantity:
    q = quantity.Quantity()
    q.value, q.unit, q.system, q.code = value, unit, UCUM, unit
    return q


def category(code: str, display: str) -> list[codeableconcept.CodeableConcept]:
    return [concept(make_coding(OBSERVATION_CATEGORY, code, display))]


def make_meta(*profiles: str) -> meta.Meta:
    m = meta.Meta()
    m.profile = [PROFILE + p for p in profiles]
    return m
