"""Closed encounters as a FHIR R4 (4.0.1) Bundle, built with fhirclient's R4 models.

What goes in, per encounter (docs/interoperability.md has the full mapping):

- `Patient` (once per patient), `Organization` (the clinic), `Encounter` (ambulatory, finished);
- one `Observation` per vital, with its LOINC code, UCUM unit and the R4 vital-signs profile (blood pressure as the
  85354-9 panel with 8480-6/8462-4 components; glucose 2339-0 as a laboratory result, which is not a vital sign);
- one `Observation` per symptom with intensity >= 1, coded with its HPO term (and Vereda's own key), value the
  intensity 0–10; extra HPO findings as present (valueBoolean); examination signs with Vereda's sign codes;
- the doctor's confirmed diagnosis as a `Condition` (ICD-10, or ORPHA for a rare disease);
- the model's answer as a `RiskAssessment` (the five states and the ranked conditions with their probabilities),
  with a `Device` for the model bundle and a `Provenance` naming its version and sha256;
- for a referral, a `ServiceRequest` and a `DocumentReference` carrying the letter's PDF.

Every resource is an instance of fhirclient's generated R4 classes; `as_json()` checks types and required elements
while serialising, so a bundle that is written has passed the library's validation. Resource ids are UUIDs derived
from the encounter's id, so exporting the same encounter twice gives the same ids (a server's PUT replaces).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gc
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fhirclient.models import (
    address,
    annotation,
    attachment,
    bundle,
    codeableconcept,
    coding,
    condition,
    device,
    documentreference,
    encounter,
    fhirdate,
    fhirdatetime,
    fhirinstant,
    fhirreference,
    humanname,
    identifier,
    meta,
    observation,
    organization,
    patient,
    period,
    provenance,
    quantity,
    riskassessment,
    servicerequest,
)

from app.core.files import write_atomic
from app.core.vocabulary import STATE_LABELS, STATES, Vocabulary
from app.store.records import ClinicRecord, EncounterRecord, PatientRecord

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


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands datetimes back naive; the store writes them in UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _datetime(value: dt.datetime) -> fhirdatetime.FHIRDateTime:
    return fhirdatetime.FHIRDateTime(_utc(value).isoformat(timespec="seconds").replace("+00:00", "Z"))


def _instant(value: dt.datetime) -> fhirinstant.FHIRInstant:
    return fhirinstant.FHIRInstant(_utc(value).isoformat(timespec="seconds").replace("+00:00", "Z"))


def _coding(system: str, code: str, display: str | None = None) -> coding.Coding:
    c = coding.Coding()
    c.system, c.code, c.display = system, code, display
    return c


def _concept(*codings: coding.Coding, text: str | None = None) -> codeableconcept.CodeableConcept:
    c = codeableconcept.CodeableConcept()
    c.coding = list(codings) or None
    c.text = text
    return c


def _ref(resource: Any, display: str | None = None) -> fhirreference.FHIRReference:
    r = fhirreference.FHIRReference()
    r.reference = f"urn:uuid:{resource.id}"
    r.display = display
    return r


def _quantity(value: float, unit: str) -> quantity.Quantity:
    q = quantity.Quantity()
    q.value, q.unit, q.system, q.code = value, unit, UCUM, unit
    return q


def _category(code: str, display: str) -> list[codeableconcept.CodeableConcept]:
    return [_concept(_coding(OBSERVATION_CATEGORY, code, display))]


def _meta(*profiles: str) -> meta.Meta:
    m = meta.Meta()
    m.profile = [PROFILE + p for p in profiles]
    return m


class FhirExport:
    """Collects closed encounters into one Bundle; each patient, clinic and model appears once however many
    encounters refer to it."""

    def __init__(self, vocabulary: Vocabulary, clinic: ClinicRecord, *, lang: str = "es",
                 bundle_type: str = "collection") -> None:
        if bundle_type not in ("collection", "transaction"):
            raise ValueError(f"bundle type {bundle_type!r}: collection or transaction")
        self.vocabulary = vocabulary
        self.lang = lang
        self.bundle_type = bundle_type
        self._entries: list[Any] = []
        self._seen: set[str] = set()
        self.organization = self._organization(clinic)
        self.encounters = 0

    # ------------------------------------------------------------------------------------------------ the bundle
    def add(self, person: PatientRecord, record: EncounterRecord, referral: Referral | None = None) -> None:
        if record.status != "closed" or record.closed_at is None or record.final_code is None:
            raise FhirExportError(f"encounter {record.id} is not closed")
        if record.patient_id != person.id:
            raise FhirExportError(f"encounter {record.id} belongs to another patient")
        who = self._patient(person)
        visit = self._encounter(record, who)
        request = record.request or {}
        response = record.response or {}
        findings = [*self._vitals(request, record, who, visit), *self._findings(request, record, who, visit)]
        diagnosis = self._condition(record, response, who, visit)
        if response:
            self._risk_assessment(record, response, who, visit, findings)
        if referral is not None:
            self._referral(record, referral, who, visit, diagnosis)
        self.encounters += 1

    def bundle(self, now: dt.datetime | None = None) -> bundle.Bundle:
        b = bundle.Bundle()
        b.id = str(uuid.uuid4())
        b.type = self.bundle_type
        b.timestamp = _instant(now or dt.datetime.now(dt.UTC))
        b.meta = meta.Meta()
        b.meta.tag = [_coding(VEREDA + "fhir-version", FHIR_VERSION)]
        b.entry = list(self._entries)
        return b

    def to_json(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """The bundle as JSON; fhirclient validates every resource on the way (FHIRValidationError if not)."""
        return self.bundle(now).as_json()

    def _add(self, resource: Any) -> Any:
        if resource.id in self._seen:
            return resource
        self._seen.add(resource.id)
        entry = bundle.BundleEntry()
        entry.fullUrl = f"urn:uuid:{resource.id}"
        entry.resource = resource
        if self.bundle_type == "transaction":
            entry.request = bundle.BundleEntryRequest()
            entry.request.method = "PUT"
            entry.request.url = f"{resource.resource_type}/{resource.id}"
        self._entries.append(entry)
        return resource

    # ------------------------------------------------------------------------------------------------ resources
    def _organization(self, clinic: ClinicRecord) -> organization.Organization:
        o = organization.Organization()
        o.id = _id("clinic", clinic.id)
        o.active = True
        o.name = clinic.name
        o.identifier = [self._identifier(VEREDA + "clinic", clinic.id)]
        place = address.Address()
        place.city = clinic.municipality
        o.address = [place]
        return o

    @staticmethod
    def _identifier(system: str, value: str) -> identifier.Identifier:
        i = identifier.Identifier()
        i.system, i.value = system, value
        return i

    def _patient(self, person: PatientRecord) -> patient.Patient:
        p = patient.Patient()
        p.id = _id("patient", person.id)
        if p.id in self._seen:
            return p
        if self.organization.id not in self._seen:
            self._add(self.organization)
        ids = [self._identifier(VEREDA + "patient", person.id)]
        if person.document_number:
            doc = self._identifier(DOCUMENT_SYSTEM + person.document_type, person.document_number)
            doc.type = _concept(text=person.document_type)
            ids.append(doc)
        p.identifier = ids
        name = humanname.HumanName()
        name.use = "official"
        name.family = person.family_names
        name.given = person.given_names.split()
        name.text = f"{person.given_names} {person.family_names}"
        p.name = [name]
        p.gender = {"F": "female", "M": "male"}.get(person.sex, "unknown")
        if person.birth_date is not None:
            p.birthDate = fhirdate.FHIRDate(person.birth_date.isoformat())
        if person.village:
            home = address.Address()
            home.text = person.village
            p.address = [home]
        p.managingOrganization = _ref(self.organization, self.organization.name)
        return self._add(p)

    def _encounter(self, record: EncounterRecord, who: patient.Patient) -> encounter.Encounter:
        e = encounter.Encounter()
        e.id = _id("encounter", record.id)
        e.identifier = [self._identifier(ENCOUNTER_SYSTEM, record.id)]
        e.status = "finished"
        e.class_fhir = _coding(ACT_CODE, "AMB", "ambulatory")
        e.subject = _ref(who)
        e.serviceProvider = _ref(self.organization, self.organization.name)
        when = period.Period()
        when.start = _datetime(record.started_at)
        when.end = _datetime(record.closed_at or record.started_at)
        e.period = when
        return self._add(e)

    def _observation(self, record: EncounterRecord, key: str, who: patient.Patient,
                     visit: encounter.Encounter) -> observation.Observation:
        o = observation.Observation()
        o.id = _id("observation", record.id, key)
        o.status = "final"
        o.subject = _ref(who)
        o.encounter = _ref(visit)
        o.effectiveDateTime = _datetime(record.started_at)
        return o

    def _vitals(self, request: dict[str, Any], record: EncounterRecord, who: patient.Patient,
                visit: encounter.Encounter) -> list[observation.Observation]:
        vitals = {k: v for k, v in (request.get("vitals") or {}).items() if v is not None}
        out = []
        for key, value in vitals.items():
            code = VITALS_BY_KEY.get(key)
            if code is None:
                continue  # blood pressure below; an unknown vital cannot come out of a validated request
            o = self._observation(record, f"vital/{key}", who, visit)
            o.category = _category(code.category, "Vital Signs" if code.category == "vital-signs" else "Laboratory")
            codings = [_coding(code.system, code.code, code.display)]
            if key == "spo2":
                codings.append(_coding(LOINC, *OXYGEN_SATURATION))
            o.code = _concept(*codings, text=code.display)
            o.valueQuantity = _quantity(float(value), code.unit)
            if code.profile:
                o.meta = _meta("vitalsigns", code.profile)
            out.append(self._add(o))
        parts = [(key, loinc, display) for key, loinc, display in BP_PARTS if key in vitals]
        if parts:
            o = self._observation(record, "vital/blood_pressure", who, visit)
            o.meta = _meta("vitalsigns", "bp")
            o.category = _category("vital-signs", "Vital Signs")
            o.code = _concept(_coding(LOINC, *BP_PANEL), text="Blood pressure")
            components = []
            for key, loinc, display in parts:
                c = observation.ObservationComponent()
                c.code = _concept(_coding(LOINC, loinc, display))
                c.valueQuantity = _quantity(float(vitals[key]), "mm[Hg]")
                components.append(c)
            o.component = components
            out.append(self._add(o))
        return out

    def _findings(self, request: dict[str, Any], record: EncounterRecord, who: patient.Patient,
                  visit: encounter.Encounter) -> list[observation.Observation]:
        out = []
        for key, intensity in (request.get("symptoms") or {}).items():
            if int(intensity) < 1:
                continue  # 0 means "not present" on the screen: the contract counts only >= 1 as a finding
            symptom = self.vocabulary.symptom(key.lower())
            o = self._observation(record, f"symptom/{symptom.key}", who, visit)
            o.category = _category("survey", "Survey")
            o.code = _concept(_coding(HPO, symptom.hpo, symptom.hpo_label),
                              _coding(SYMPTOM_SYSTEM, symptom.key, symptom.label[self.lang]),
                              text=symptom.label[self.lang])
            o.valueInteger = int(intensity)
            note = annotation.Annotation()
            note.text = "Intensidad 0-10 referida por el paciente" if self.lang == "es" else \
                "Patient-reported intensity 0-10"
            o.note = [note]
            out.append(self._add(o))
        for term in request.get("hpo_terms") or []:
            o = self._observation(record, f"hpo/{term}", who, visit)
            o.category = _category("exam", "Exam")
            o.code = _concept(_coding(HPO, term))
            o.valueBoolean = True
            out.append(self._add(o))
        if request.get("signs"):
            from app.core.signs import signs

            known = signs()
            for code in request["signs"]:
                o = self._observation(record, f"sign/{code}", who, visit)
                o.category = _category("exam", "Exam")
                label = known.sign(code).label[self.lang] if code in known.codes else code
                o.code = _concept(_coding(SIGN_SYSTEM, code, label), text=label)
                o.valueBoolean = True
                out.append(self._add(o))
        return out

    def _condition_display(self, code: str, system: str | None, response: dict[str, Any]) -> str | None:
        if system == "ORPHA":
            for rare in response.get("rare_diseases") or []:
                if rare.get("orpha_code") == code:
                    return str(rare.get("name"))
            return None
        try:
            return self.vocabulary.condition(code).name[self.lang]
        except KeyError:
            return None

    def _condition(self, record: EncounterRecord, response: dict[str, Any], who: patient.Patient,
                   visit: encounter.Encounter) -> condition.Condition:
        code = str(record.final_code)
        c = condition.Condition()
        c.id = _id("condition", record.id)
        display = self._condition_display(code, record.final_code_system, response)
        system = ORPHA if record.final_code_system == "ORPHA" else ICD10
        c.code = _concept(_coding(system, code, display), text=display or code)
        c.clinicalStatus = _concept(_coding(CONDITION_CLINICAL, "active", "Active"))
        c.verificationStatus = _concept(_coding(CONDITION_VERIFICATION, "confirmed", "Confirmed"))
        c.category = [_concept(_coding(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis"))]
        c.subject = _ref(who)
        c.encounter = _ref(visit)
        c.recordedDate = _datetime(record.closed_at or record.started_at)
        if record.notes:
            note = annotation.Annotation()
            note.text = record.notes
            c.note = [note]
        return self._add(c)

    def _model_device(self, version: str, sha256: str) -> device.Device:
        d = device.Device()
        d.id = _id("model", version, sha256)
        if d.id in self._seen:
            return d
        d.identifier = [self._identifier(MODEL_SHA256_SYSTEM, sha256)]
        name = device.DeviceDeviceName()
        name.name, name.type = "Vereda diagnosis model", "model-name"
        d.deviceName = [name]
        v = device.DeviceVersion()
        v.value = version
        d.version = [v]
        d.type = _concept(text="Clinical decision support model (Vereda model bundle)")
        d.status = "active"
        return self._add(d)

    def _risk_assessment(self, record: EncounterRecord, response: dict[str, Any], who: patient.Patient,
                         visit: encounter.Encounter, findings: list[observation.Observation]) -> None:
        r = riskassessment.RiskAssessment()
        r.id = _id("risk", record.id)
        r.status = "final"
        r.subject = _ref(who)
        r.encounter = _ref(visit)
        r.occurrenceDateTime = _datetime(record.started_at)
        model = response.get("model") or {}
        version = str(model.get("version") or record.model_version or "unknown")
        sha256 = str(model.get("sha256") or record.model_sha256 or "")
        r.method = _concept(text=f"Vereda {version} ({response.get('engine', 'local')})")
        r.basis = [_ref(o) for o in findings] or None
        predictions = []
        probabilities = response.get("severity_probabilities") or {}
        for state in STATES:
            if state in probabilities:
                p = riskassessment.RiskAssessmentPrediction()
                p.outcome = _concept(_coding(STATE_SYSTEM, state, STATE_LABELS[state][self.lang]))
                p.probabilityDecimal = float(probabilities[state])
                predictions.append(p)
        for top in response.get("top_conditions") or []:
            p = riskassessment.RiskAssessmentPrediction()
            name = (top.get("name") or {}).get(self.lang)
            p.outcome = _concept(_coding(ICD10, top["code"], name), text=name)
            p.probabilityDecimal = float(top["probability"])
            predictions.append(p)
        for rare in response.get("rare_diseases") or []:
            p = riskassessment.RiskAssessmentPrediction()
            p.outcome = _concept(_coding(ORPHA, rare["orpha_code"], rare.get("name")), text=rare.get("name"))
            p.probabilityDecimal = float(rare["score"])
            p.rationale = "Rare-disease ranking score (HPO/Orphanet), not a calibrated probability"
            predictions.append(p)
        r.prediction = predictions or None
        notes = []
        triage = response.get("triage") or {}
        if triage.get("level"):
            notes.append(f"triage: {triage['level']}")
        if response.get("requires_immediate_attention"):
            notes.append("requires immediate attention")
        if response.get("rare_disease_alert"):
            notes.append("rare-disease alert")
        if notes:
            note = annotation.Annotation()
            note.text = "; ".join(notes)
            r.note = [note]
        self._add(r)
        model_device = self._model_device(version, sha256)
        r.performer = _ref(model_device, f"Vereda model {version}")
        prov = provenance.Provenance()
        prov.id = _id("provenance", record.id)
        prov.target = [_ref(r)]
        prov.recorded = _instant(record.started_at)
        agent = provenance.ProvenanceAgent()
        agent.type = _concept(_coding(PROVENANCE_AGENT, "assembler", "Assembler"))
        agent.who = _ref(model_device, f"Vereda model {version} sha256:{sha256}")
        prov.agent = [agent]
        entity = provenance.ProvenanceEntity()
        entity.role = "source"
        entity.what = _ref(model_device, f"model bundle manifest sha256:{sha256}")
        prov.entity = [entity]
        self._add(prov)

    def _referral(self, record: EncounterRecord, referral: Referral, who: patient.Patient,
                  visit: encounter.Encounter, diagnosis: condition.Condition) -> None:
        doc = documentreference.DocumentReference()
        doc.id = _id("referral-letter", record.id)
        doc.status = "current"
        doc.type = _concept(_coding(*REFERRAL_NOTE))
        doc.subject = _ref(who)
        doc.date = _instant(record.closed_at or record.started_at)
        doc.custodian = _ref(self.organization, self.organization.name)
        pdf = attachment.Attachment()
        pdf.contentType = "application/pdf"
        pdf.data = base64.b64encode(referral.pdf).decode("ascii")
        pdf.size = len(referral.pdf)
        pdf.hash = base64.b64encode(hashlib.sha1(referral.pdf).digest()).decode("ascii")  # FHIR asks for SHA-1
        pdf.title = referral.title
        content = documentreference.DocumentReferenceContent()
        content.attachment = pdf
        doc.content = [content]
        context = documentreference.DocumentReferenceContext()
        context.encounter = [_ref(visit)]
        doc.context = context
        self._add(doc)
        supporting = [_ref(doc)]
        if referral.phenopacket is not None:
            packet = documentreference.DocumentReference()
            packet.id = _id("referral-phenopacket", record.id)
            packet.status = "current"
            packet.type = _concept(text="GA4GH Phenopacket v2")
            packet.subject = _ref(who)
            packet.date = doc.date
            body = attachment.Attachment()
            body.contentType = "application/json"
            body.data = base64.b64encode(referral.phenopacket).decode("ascii")
            body.size = len(referral.phenopacket)
            body.hash = base64.b64encode(hashlib.sha1(referral.phenopacket).digest()).decode("ascii")
            body.title = "phenopacket.json"
            packet_content = documentreference.DocumentReferenceContent()
            packet_content.attachment = body
            packet_content.format = _coding(PHENOPACKET_FORMAT, "2.0", "GA4GH Phenopacket schema v2.0")
            packet.content = [packet_content]
            packet_context = documentreference.DocumentReferenceContext()
            packet_context.encounter = [_ref(visit)]
            packet.context = packet_context
            self._add(packet)
            supporting.append(_ref(packet))
        order = servicerequest.ServiceRequest()
        order.id = _id("referral", record.id)
        order.status = "active"
        order.intent = "order"
        order.code = _concept(_coding(*REFERRAL_CODE))
        order.subject = _ref(who)
        order.encounter = _ref(visit)
        order.authoredOn = _datetime(record.closed_at or record.started_at)
        order.requester = _ref(self.organization, self.organization.name)
        order.reasonReference = [_ref(diagnosis)]
        order.supportingInfo = supporting
        if referral.receiving_facility:
            note = annotation.Annotation()
            note.text = referral.receiving_facility
            order.note = [note]
        self._add(order)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic collector paused while a large bundle is built: fhirclient's elements point back at their
    owners, so each of the ~10 objects per resource is a cycle the collector walks again and again as the heap
    grows (bench/export.py: about half the build time for 10,000 encounters). Collected once at the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def export_encounters(vocabulary: Vocabulary, clinic: ClinicRecord,
                      items: Iterable[tuple[PatientRecord, EncounterRecord]], *, lang: str = "es",
                      bundle_type: str = "collection", referrals: dict[str, Referral] | None = None
                      ) -> dict[str, Any]:
    """A validated Bundle (as JSON) of closed encounters; `referrals` maps an encounter id to its referral."""
    with paused_gc():
        export = FhirExport(vocabulary, clinic, lang=lang, bundle_type=bundle_type)
        for person, record in items:
            export.add(person, record, (referrals or {}).get(record.id))
        return export.to_json()


def parse_bundle(data: dict[str, Any]) -> bundle.Bundle:
    """Read a bundle back with fhirclient's R4 classes, strictly (FHIRValidationError on anything off-model)."""
    return bundle.Bundle(data, strict=True)


def write_encounter_bundle(store: Any, encounter_id: str, vocabulary: Vocabulary, target: Any,
                           lang: str = "es") -> str:
    """The app's File → Export (FHIR): one closed encounter as a collection Bundle written to `target`, logged as
    an export (call it where the store is used: the app's database worker)."""
    import json
    from pathlib import Path

    record = store.encounters.get(encounter_id)
    export = FhirExport(vocabulary, store.clinic, lang=lang)
    export.add(store.patients.get(record.patient_id), record)
    data = export.to_json()
    # Owner-only and atomic: the file names the patient, and a full disk must not leave half a Bundle behind.
    write_atomic(Path(target), json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
    store.audit.record_export("fhir", {"encounters": 1, "encounter": encounter_id})
    return str(target)
