"""A GA4GH Phenopacket v2 for a referral when the rare-disease alert fired, built with the `phenopackets` package.

What a genetics centre's LIRICAL or Exomiser reads: the findings as HPO terms (symptoms with their intensity as an
HPO severity modifier, the extra HPO findings, and as excluded the symptoms the doctor recorded at intensity 0 and
the HPO terms looked for and found absent (`excluded_hpo_terms`), which LIRICAL and Exomiser use as negatives), the
age at the encounter as an ISO 8601 duration, the sex, and the candidate Orphanet diseases of Vereda's ranking as
interpretations in progress (with their score and matched terms in the summary). A rare disease the doctor
confirmed goes in `diseases`. No name or document number: the subject's id is a pseudonym derived from the store's
id, which the referral letter carries alongside.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from google.protobuf.json_format import MessageToJson, Parse
from google.protobuf.timestamp_pb2 import Timestamp
from phenopackets import (
    Age,
    Diagnosis,
    Disease,
    Individual,
    Interpretation,
    MetaData,
    OntologyClass,
    Phenopacket,
    PhenotypicFeature,
    Resource,
    Sex,
    TimeElement,
)

from app.core.vocabulary import Vocabulary
from app.store.records import EncounterRecord, PatientRecord

SCHEMA_VERSION = "2.0"
NAMESPACE = uuid.UUID("0c6a3f5e-2b7d-4f61-8a39-5d2e9b1c7a40")
# HPO's severity modifiers (subclasses of HP:0012824 "Severity").
MILD, MODERATE, SEVERE = ("HP:0012825", "Mild"), ("HP:0012826", "Moderate"), ("HP:0012828", "Severe")


def iso_age(years: float) -> str:
    """Contract age in years (0.014 for a 5-day-old) as an ISO 8601 duration: P34Y, P1Y6M, P2M12D, P5D.
    Years and months from one year on; months and days below it, where days matter."""
    value = float(years)
    whole = int(value + 1e-9)
    if whole >= 1:
        months = round((value - whole) * 12)
        if months == 12:
            whole, months = whole + 1, 0
        return f"P{whole}Y" + (f"{months}M" if months else "")
    days = round(value * 365.25)
    months = int(days // 30.4375)
    rest = round(days - months * 30.4375)
    out = "P" + (f"{months}M" if months else "") + (f"{rest}D" if rest else "")
    return out if out != "P" else "P0D"


def _severity(intensity: int) -> tuple[str, str]:
    return MILD if intensity <= 3 else MODERATE if intensity <= 6 else SEVERE


def build(person: PatientRecord, record: EncounterRecord, vocabulary: Vocabulary, *, hpo_version: str,
          term_labels: dict[str, str] | None = None, created: dt.datetime | None = None) -> Phenopacket:
    request = record.request or {}
    response = record.response or {}
    labels = term_labels or {}
    subject = Individual(id=str(uuid.uuid5(NAMESPACE, "patient/" + person.id)),
                         sex=Sex.Value({"F": "FEMALE", "M": "MALE"}.get(person.sex, "UNKNOWN_SEX")))
    if request.get("age") is not None:
        subject.time_at_last_encounter.CopyFrom(TimeElement(age=Age(iso8601duration=iso_age(request["age"]))))
    features = []
    seen: set[str] = set()
    for key, intensity in (request.get("symptoms") or {}).items():
        symptom = vocabulary.symptom(key.lower())
        if symptom.hpo in seen:
            continue
        seen.add(symptom.hpo)
        feature = PhenotypicFeature(type=OntologyClass(id=symptom.hpo, label=symptom.hpo_label),
                                    excluded=int(intensity) == 0,
                                    description=f"{symptom.label['en']} (intensity {int(intensity)}/10)")
        if int(intensity) > 0:
            code, label = _severity(int(intensity))
            feature.severity.CopyFrom(OntologyClass(id=code, label=label))
        features.append(feature)
    for term in request.get("hpo_terms") or []:
        if term not in seen:
            seen.add(term)
            features.append(PhenotypicFeature(type=OntologyClass(id=term, label=labels.get(term, ""))))
    for term in request.get("excluded_hpo_terms") or []:
        if term not in seen:
            seen.add(term)
            features.append(PhenotypicFeature(type=OntologyClass(id=term, label=labels.get(term, "")), excluded=True))
    interpretations = []
    for rank, rare in enumerate(response.get("rare_diseases") or [], start=1):
        matched = ", ".join(rare.get("matched_terms") or [])
        interpretations.append(Interpretation(
            id=f"{record.id}-{rank}",
            progress_status=Interpretation.ProgressStatus.IN_PROGRESS,
            diagnosis=Diagnosis(disease=OntologyClass(id=rare["orpha_code"], label=str(rare.get("name", "")))),
            summary=f"Vereda rare-disease ranking #{rank}, score {float(rare['score']):.3f}; "
                    f"matched terms: {matched or 'none'}"))
    diseases = []
    if record.final_code_system == "ORPHA" and record.final_code:
        name = next((str(r.get("name")) for r in response.get("rare_diseases") or []
                     if r.get("orpha_code") == record.final_code), "")
        diseases.append(Disease(term=OntologyClass(id=record.final_code, label=name)))
    stamp = Timestamp()
    stamp.FromDatetime((created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None))
    model = response.get("model") or {}
    meta = MetaData(
        created=stamp, created_by=f"Vereda (model {model.get('version', 'unknown')})",
        phenopacket_schema_version=SCHEMA_VERSION,
        resources=[
            Resource(id="hp", name="human phenotype ontology", url="http://purl.obolibrary.org/obo/hp.owl",
                     version=hpo_version, namespace_prefix="HP", iri_prefix="http://purl.obolibrary.org/obo/HP_"),
            Resource(id="ordo", name="Orphanet Rare Disease Ontology", url="http://www.orpha.net/ontology/ORDO_en.owl",
                     version=hpo_version, namespace_prefix="ORPHA",
                     iri_prefix="http://www.orpha.net/ORDO/Orphanet_"),
        ])
    return Phenopacket(id=str(uuid.uuid5(NAMESPACE, "encounter/" + record.id)), subject=subject,
                       phenotypic_features=features, interpretations=interpretations, diseases=diseases,
                       meta_data=meta)


def to_json(packet: Phenopacket) -> str:
    return MessageToJson(packet, indent=2)


def parse(text: str) -> Phenopacket:
    """Read a phenopacket back (protobuf's JSON parser refuses unknown fields and wrong types)."""
    return Parse(text, Phenopacket())


def rare_alert_fired(record: EncounterRecord) -> bool:
    return bool((record.response or {}).get("rare_disease_alert"))


def term_labels_from_bundle(bundle_dir: Any) -> dict[str, str]:
    """HPO id -> English label, from the bundle's rare_terms.json (written with the rare-disease index)."""
    import json
    from pathlib import Path

    data = json.loads((Path(bundle_dir) / "rare_terms.json").read_text(encoding="utf-8"))
    return {row[0]: row[1] for row in data["terms"]}


def hpo_version_of_bundle(bundle_dir: Any) -> str:
    import json
    from pathlib import Path

    return str(json.loads((Path(bundle_dir) / "rare_terms.json").read_text(encoding="utf-8"))["hpo_version"])
