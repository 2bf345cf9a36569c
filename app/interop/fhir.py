"""Closed encounters as a FHIR R4 (4.0.1) Bundle, built with fhirclient's R4 models.

What goes in, per encounter (docs/interoperability.md has the full mapping):

- `Patient` (once per patient), `Organization` (the clinic), `Encounter` (ambulatory, finished);
- one `Observation` per vital, with its LOINC code, UCUM unit and the R4 vital-signs profile (blood pressure as the
  85354-9 panel with 8480-6/8462-4 components; glucose 2339-0 as a laboratory result, which is not a vital sign);
- one `Observation` per symptom with intensity >= 1, coded with its HPO term (and Vereda's own key), value the
  intensity 0–10; extra HPO findings, present or looked for and absent (`excluded_hpo_terms`), with the HL7
  Phenomics Exchange IG's LOINC answers Present/Absent as value; examination signs with Vereda's sign codes;
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
from typing import Any

from fhirclient.models import (
    address,
    annotation,
    attachment,
    bundle,
    condition,
    device,
    documentreference,
    encounter,
    fhirdate,
    humanname,
    identifier,
    meta,
    observation,
    organization,
    patient,
    period,
    provenance,
    riskassessment,
    servicerequest,
)

from app.core.files import write_atomic
from app.core.vocabulary import STATE_LABELS, STATES, Vocabulary
from app.interop.fhir_terms import (
    ACT_CODE,
    BP_PANEL,
    BP_PARTS,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    DOCUMENT_SYSTEM,
    ENCOUNTER_SYSTEM,
    FHIR_VERSION,
    FINDING_ABSENT,
    FINDING_PRESENT,
    HPO,
    ICD10,
    LOINC,
    MODEL_SHA256_SYSTEM,
    ORPHA,
    OXYGEN_SATURATION,
    PHENOPACKET_FORMAT,
    PROVENANCE_AGENT,
    REFERRAL_CODE,
    REFERRAL_NOTE,
    SIGN_SYSTEM,
    STATE_SYSTEM,
    SYMPTOM_SYSTEM,
    VEREDA,
    VITALS_BY_KEY,
    FhirExportError,
    Referral,
    category,
    concept,
    fhir_datetime,
    fhir_id,
    fhir_instant,
    make_coding,
    make_meta,
    make_quantity,
    reference,
)
from app.store.records import ClinicRecord, EncounterRecord, PatientRecord


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
        b.timestamp = fhir_instant(now or dt.datetime.now(dt.UTC))
        b.meta = meta.Meta()
        b.meta.tag = [make_coding(VEREDA + "fhir-version", FHIR_VERSION)]
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
        o.id = fhir_id("clinic", clinic.id)
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
        p.id = fhir_id("patient", person.id)
        if p.id in self._seen:
            return p
        if self.organization.id not in self._seen:
            self._add(self.organization)
        ids = [self._identifier(VEREDA + "patient", person.id)]
        if person.document_number:
            doc = self._identifier(DOCUMENT_SYSTEM + person.document_type, person.document_number)
            doc.type = concept(text=person.document_type)
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
        p.managingOrganization = reference(self.organization, self.organization.name)
        return self._add(p)

    def _encounter(self, record: EncounterRecord, who: patient.Patient) -> encounter.Encounter:
        e = encounter.Encounter()
        e.id = fhir_id("encounter", record.id)
        e.identifier = [self._identifier(ENCOUNTER_SYSTEM, record.id)]
        e.status = "finished"
        e.class_fhir = make_coding(ACT_CODE, "AMB", "ambulatory")
        e.subject = reference(who)
        e.serviceProvider = reference(self.organization, self.organization.name)
        when = period.Period()
        when.start = fhir_datetime(record.started_at)
        when.end = fhir_datetime(record.closed_at or record.started_at)
        e.period = when
        return self._add(e)

    def _observation(self, record: EncounterRecord, key: str, who: patient.Patient,
                     visit: encounter.Encounter) -> observation.Observation:
        o = observation.Observation()
        o.id = fhir_id("observation", record.id, key)
        o.status = "final"
        o.subject = reference(who)
        o.encounter = reference(visit)
        o.effectiveDateTime = fhir_datetime(record.started_at)
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
            o.category = category(code.category, "Vital Signs" if code.category == "vital-signs" else "Laboratory")
            codings = [make_coding(code.system, code.code, code.display)]
            if key == "spo2":
                codings.append(make_coding(LOINC, *OXYGEN_SATURATION))
            o.code = concept(*codings, text=code.display)
            o.valueQuantity = make_quantity(float(value), code.unit)
            if code.profile:
                o.meta = make_meta("vitalsigns", code.profile)
            out.append(self._add(o))
        parts = [(key, loinc, display) for key, loinc, display in BP_PARTS if key in vitals]
        if parts:
            o = self._observation(record, "vital/blood_pressure", who, visit)
            o.meta = make_meta("vitalsigns", "bp")
            o.category = category("vital-signs", "Vital Signs")
            o.code = concept(make_coding(LOINC, *BP_PANEL), text="Blood pressure")
            components = []
            for key, loinc, display in parts:
                c = observation.ObservationComponent()
                c.code = concept(make_coding(LOINC, loinc, display))
                c.valueQuantity = make_quantity(float(vitals[key]), "mm[Hg]")
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
            o.category = category("survey", "Survey")
            o.code = concept(make_coding(HPO, symptom.hpo, symptom.hpo_label),
                              make_coding(SYMPTOM_SYSTEM, symptom.key, symptom.label[self.lang]),
                              text=symptom.label[self.lang])
            o.valueInteger = int(intensity)
            note = annotation.Annotation()
            note.text = "Intensidad 0-10 referida por el paciente" if self.lang == "es" else \
                "Patient-reported intensity 0-10"
            o.note = [note]
            out.append(self._add(o))
        findings = [(t, FINDING_PRESENT) for t in request.get("hpo_terms") or []]
        findings += [(t, FINDING_ABSENT) for t in request.get("excluded_hpo_terms") or []]
        for term, status in findings:
            o = self._observation(record, f"hpo/{term}", who, visit)
            o.category = category("exam", "Exam")
            o.code = concept(make_coding(HPO, term))
            # Coded, not valueBoolean: a reader of the phenomics profile (and a person) tells "absent" from a
            # missing value, which a false boolean does not say as plainly.
            o.valueCodeableConcept = concept(make_coding(LOINC, *status), text=status[1])
            out.append(self._add(o))
        if request.get("signs"):
            from app.core.signs import signs

            known = signs()
            for code in request["signs"]:
                o = self._observation(record, f"sign/{code}", who, visit)
                o.category = category("exam", "Exam")
                label = known.sign(code).label[self.lang] if code in known.codes else code
                o.code = concept(make_coding(SIGN_SYSTEM, code, label), text=label)
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
        c.id = fhir_id("condition", record.id)
        display = self._condition_display(code, record.final_code_system, response)
        system = ORPHA if record.final_code_system == "ORPHA" else ICD10
        c.code = concept(make_coding(system, code, display), text=display or code)
        c.clinicalStatus = concept(make_coding(CONDITION_CLINICAL, "active", "Active"))
        c.verificationStatus = concept(make_coding(CONDITION_VERIFICATION, "confirmed", "Confirmed"))
        c.category = [concept(make_coding(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis"))]
        c.subject = reference(who)
        c.encounter = reference(visit)
        c.recordedDate = fhir_datetime(record.closed_at or record.started_at)
        if record.notes:
            note = annotation.Annotation()
            note.text = record.notes
            c.note = [note]
        return self._add(c)

    def _model_device(self, version: str, sha256: str) -> device.Device:
        d = device.Device()
        d.id = fhir_id("model", version, sha256)
        if d.id in self._seen:
            return d
        d.identifier = [self._identifier(MODEL_SHA256_SYSTEM, sha256)]
        name = device.DeviceDeviceName()
        name.name, name.type = "Vereda diagnosis model", "model-name"
        d.deviceName = [name]
        v = device.DeviceVersion()
        v.value = version
        d.version = [v]
        d.type = concept(text="Clinical decision support model (Vereda model bundle)")
        d.status = "active"
        return self._add(d)

    def _risk_assessment(self, record: EncounterRecord, response: dict[str, Any], who: patient.Patient,
                         visit: encounter.Encounter, findings: list[observation.Observation]) -> None:
        r = riskassessment.RiskAssessment()
        r.id = fhir_id("risk", record.id)
        r.status = "final"
        r.subject = reference(who)
        r.encounter = reference(visit)
        r.occurrenceDateTime = fhir_datetime(record.started_at)
        model = response.get("model") or {}
        version = str(model.get("version") or record.model_version or "unknown")
        sha256 = str(model.get("sha256") or record.model_sha256 or "")
        r.method = concept(text=f"Vereda {version} ({response.get('engine', 'local')})")
        r.basis = [reference(o) for o in findings] or None
        predictions = []
        probabilities = response.get("severity_probabilities") or {}
        for state in STATES:
            if state in probabilities:
                p = riskassessment.RiskAssessmentPrediction()
                p.outcome = concept(make_coding(STATE_SYSTEM, state, STATE_LABELS[state][self.lang]))
                p.probabilityDecimal = float(probabilities[state])
                predictions.append(p)
        for top in response.get("top_conditions") or []:
            p = riskassessment.RiskAssessmentPrediction()
            name = (top.get("name") or {}).get(self.lang)
            p.outcome = concept(make_coding(ICD10, top["code"], name), text=name)
            p.probabilityDecimal = float(top["probability"])
            predictions.append(p)
        for rare in response.get("rare_diseases") or []:
            p = riskassessment.RiskAssessmentPrediction()
            p.outcome = concept(make_coding(ORPHA, rare["orpha_code"], rare.get("name")), text=rare.get("name"))
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
        r.performer = reference(model_device, f"Vereda model {version}")
        prov = provenance.Provenance()
        prov.id = fhir_id("provenance", record.id)
        prov.target = [reference(r)]
        prov.recorded = fhir_instant(record.started_at)
        agent = provenance.ProvenanceAgent()
        agent.type = concept(make_coding(PROVENANCE_AGENT, "assembler", "Assembler"))
        agent.who = reference(model_device, f"Vereda model {version} sha256:{sha256}")
        prov.agent = [agent]
        entity = provenance.ProvenanceEntity()
        entity.role = "source"
        entity.what = reference(model_device, f"model bundle manifest sha256:{sha256}")
        prov.entity = [entity]
        self._add(prov)

    def _referral(self, record: EncounterRecord, referral: Referral, who: patient.Patient,
                  visit: encounter.Encounter, diagnosis: condition.Condition) -> None:
        doc = documentreference.DocumentReference()
        doc.id = fhir_id("referral-letter", record.id)
        doc.status = "current"
        doc.type = concept(make_coding(*REFERRAL_NOTE))
        doc.subject = reference(who)
        doc.date = fhir_instant(record.closed_at or record.started_at)
        doc.custodian = reference(self.organization, self.organization.name)
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
        context.encounter = [reference(visit)]
        doc.context = context
        self._add(doc)
        supporting = [reference(doc)]
        if referral.phenopacket is not None:
            packet = documentreference.DocumentReference()
            packet.id = fhir_id("referral-phenopacket", record.id)
            packet.status = "current"
            packet.type = concept(text="GA4GH Phenopacket v2")
            packet.subject = reference(who)
            packet.date = doc.date
            body = attachment.Attachment()
            body.contentType = "application/json"
            body.data = base64.b64encode(referral.phenopacket).decode("ascii")
            body.size = len(referral.phenopacket)
            body.hash = base64.b64encode(hashlib.sha1(referral.phenopacket).digest()).decode("ascii")
            body.title = "phenopacket.json"
            packet_content = documentreference.DocumentReferenceContent()
            packet_content.attachment = body
            packet_content.format = make_coding(PHENOPACKET_FORMAT, "2.0", "GA4GH Phenopacket schema v2.0")
            packet.content = [packet_content]
            packet_context = documentreference.DocumentReferenceContext()
            packet_context.encounter = [reference(visit)]
            packet.context = packet_context
            self._add(packet)
            supporting.append(reference(packet))
        order = servicerequest.ServiceRequest()
        order.id = fhir_id("referral", record.id)
        order.status = "active"
        order.intent = "order"
        order.code = concept(make_coding(*REFERRAL_CODE))
        order.subject = reference(who)
        order.encounter = reference(visit)
        order.authoredOn = fhir_datetime(record.closed_at or record.started_at)
        order.requester = reference(self.organization, self.organization.name)
        order.reasonReference = [reference(diagnosis)]
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
