"""FHIR R4 export: every resource read back with fhirclient's R4 models, codes, units and references checked, for
a whole demo clinic through the real `vereda export fhir` command."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fhirclient.models import observation
from fhirclient.models.fhirabstractbase import FHIRValidationError

from app.interop.fhir import parse_bundle
from app.interop.fhir_terms import HPO, ICD10, LOINC, UCUM
from app.interop.pdf import Line, write_pdf
from tests.interop.conftest import ROOT, DemoClinic, vereda
from tests.store.conftest import DOCTOR_PASS, make_clinic

VITAL_UNITS = {"8310-5": "Cel", "8867-4": "/min", "9279-1": "/min", "59408-5": "%", "2339-0": "mg/dL",
               "29463-7": "kg", "8302-2": "cm"}
KNOWLEDGE = json.loads((ROOT / "assets" / "models" / "knowledge.json").read_text(encoding="utf-8"))
MANIFEST_SHA256 = hashlib.sha256((ROOT / "assets" / "models" / "manifest.json").read_bytes()).hexdigest()


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for v in node.values() for r in references(v)]
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    return []


def codes(concept: dict, system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c.get("system") == system]


@pytest.fixture(scope="module")
def demo_bundle(demo_clinic: DemoClinic, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("fhir") / "clinic.json"
    summary = demo_clinic.export_ok("fhir", "--since", "2000-01-01", "--output", str(out))
    assert summary["encounters"] == demo_clinic.encounters
    return json.loads(out.read_text(encoding="utf-8"))


def test_a_demo_clinic_round_trips_with_no_resource_failing_validation(demo_clinic: DemoClinic, demo_bundle: dict):
    assert demo_clinic.encounters >= 200
    parsed = parse_bundle(demo_bundle)  # strict: any off-model element raises
    assert parsed.type == "collection" and len(parsed.entry) == len(demo_bundle["entry"])
    for raw, entry in zip(demo_bundle["entry"], parsed.entry, strict=True):
        # The typed instance serialises (validating required elements and types) back to exactly what was written.
        assert type(entry.resource).__name__ == raw["resource"]["resourceType"]
        assert entry.resource.as_json() == raw["resource"]
    kinds = Counter(e["resource"]["resourceType"] for e in demo_bundle["entry"])
    assert kinds["Encounter"] == kinds["Condition"] == kinds["RiskAssessment"] == kinds["Provenance"] \
        == demo_clinic.encounters
    assert kinds["Patient"] == 100 and kinds["Organization"] == 1 and kinds["Device"] == 1
    full_urls = {e["fullUrl"] for e in demo_bundle["entry"]}
    assert len(full_urls) == len(demo_bundle["entry"])
    dangling = [r for r in references(demo_bundle["entry"]) if r not in full_urls]
    assert not dangling


def test_vitals_carry_loinc_codes_ucum_units_and_the_vital_signs_profile(demo_bundle: dict):
    seen = Counter()
    for entry in demo_bundle["entry"]:
        r = entry["resource"]
        if r["resourceType"] != "Observation" or not codes(r["code"], LOINC):
            continue
        loinc = codes(r["code"], LOINC)[0]
        seen[loinc] += 1
        assert r["status"] == "final" and r["subject"]["reference"] and r["effectiveDateTime"]
        if loinc == "85354-9":
            parts = {codes(c["code"], LOINC)[0]: c["valueQuantity"] for c in r["component"]}
            assert set(parts) == {"8480-6", "8462-4"}
            assert all(q["code"] == "mm[Hg]" and q["system"] == UCUM for q in parts.values())
            assert parts["8480-6"]["value"] > parts["8462-4"]["value"]
            assert r["meta"]["profile"][-1].endswith("/bp")
            continue
        q = r["valueQuantity"]
        assert q["system"] == UCUM and q["code"] == VITAL_UNITS[loinc], (loinc, q)
        if loinc == "2339-0":  # glucose is a laboratory result, not a vital sign
            assert codes(r["category"][0], "http://terminology.hl7.org/CodeSystem/observation-category") == \
                ["laboratory"]
        else:
            assert "http://hl7.org/fhir/StructureDefinition/vitalsigns" in r["meta"]["profile"]
        if loinc == "59408-5":
            assert "2708-6" in codes(r["code"], LOINC)  # the R4 oxygensat profile's required code
        if loinc == "8310-5":
            assert 35 <= q["value"] <= 42
    # The demo's presentations measure all of these.
    assert {"8310-5", "8867-4", "9279-1", "59408-5", "85354-9", "2339-0"} <= set(seen)


def test_symptoms_are_hpo_coded_with_their_intensity(demo_bundle: dict):
    hpo_of = {s["key"]: s["hpo"] for s in KNOWLEDGE["symptoms"]}
    symptoms = [e["resource"] for e in demo_bundle["entry"]
                if e["resource"]["resourceType"] == "Observation" and codes(e["resource"]["code"], HPO)]
    assert len(symptoms) > 500
    for r in symptoms:
        [key] = codes(r["code"], "urn:vereda:symptom")
        assert codes(r["code"], HPO) == [hpo_of[key]]
        assert 1 <= r["valueInteger"] <= 10


def test_diagnosis_risk_assessment_and_provenance(demo_bundle: dict):
    by_url = {e["fullUrl"]: e["resource"] for e in demo_bundle["entry"]}
    known = {c["code"] for c in KNOWLEDGE["conditions"]}
    for r in by_url.values():
        if r["resourceType"] == "Condition":
            [code] = codes(r["code"], ICD10)
            assert code in known and r["code"]["coding"][0]["display"]
            assert codes(r["verificationStatus"], "http://terminology.hl7.org/CodeSystem/condition-ver-status") \
                == ["confirmed"]
            assert by_url[r["encounter"]["reference"]]["resourceType"] == "Encounter"
        elif r["resourceType"] == "RiskAssessment":
            states = [p["probabilityDecimal"] for p in r["prediction"] if codes(p["outcome"], "urn:vereda:state")]
            assert len(states) == 5 and sum(states) == pytest.approx(1, abs=1e-3)
            conditions = [p for p in r["prediction"] if codes(p["outcome"], ICD10)]
            assert len(conditions) >= 5 and all(0 <= p["probabilityDecimal"] <= 1 for p in conditions)
            assert all(by_url[b["reference"]]["resourceType"] == "Observation" for b in r["basis"])
        elif r["resourceType"] == "Provenance":
            assert by_url[r["target"][0]["reference"]]["resourceType"] == "RiskAssessment"
            model = by_url[r["agent"][0]["who"]["reference"]]
            assert model["resourceType"] == "Device"
            assert model["version"][0]["value"] == json.loads(
                (ROOT / "assets" / "models" / "manifest.json").read_text())["version"]
            assert model["identifier"][0]["value"] == MANIFEST_SHA256
            assert MANIFEST_SHA256 in r["agent"][0]["who"]["display"]


def test_a_referral_carries_its_pdf_and_a_transaction_replaces_on_resend(demo_clinic: DemoClinic,
                                                                          demo_bundle: dict, tmp_path: Path):
    encounter = next(e["resource"] for e in demo_bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    encounter_id = encounter["identifier"][0]["value"]
    letter = write_pdf([Line("Carta de remisión", "title"), Line("Paciente remitido al hospital.")],
                       tmp_path / "carta.pdf")
    outputs = []
    for name in ("a.json", "b.json"):
        out = tmp_path / name
        demo_clinic.export_ok("fhir", "--encounter", encounter_id, "--referral-pdf", str(letter),
                              "--type", "transaction", "--output", str(out))
        outputs.append(json.loads(out.read_text(encoding="utf-8")))
    bundle = outputs[0]
    parse_bundle(bundle)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for e in bundle["entry"]:
        assert e["request"] == {"method": "PUT", "url": f"{e['resource']['resourceType']}/{e['resource']['id']}"}
    [order] = [r for r in by_url.values() if r["resourceType"] == "ServiceRequest"]
    assert codes(order["code"], "http://snomed.info/sct") == ["3457005"]
    assert by_url[order["reasonReference"][0]["reference"]]["resourceType"] == "Condition"
    document = by_url[order["supportingInfo"][0]["reference"]]
    assert codes(document["type"], LOINC) == ["57133-1"]
    pdf = document["content"][0]["attachment"]
    data = base64.b64decode(pdf["data"])
    assert data == letter.read_bytes() and pdf["contentType"] == "application/pdf" and pdf["size"] == len(data)
    assert base64.b64decode(pdf["hash"]) == hashlib.sha1(data).digest()
    # Sent again, the same resources under the same ids: a server's PUT replaces them, never doubles them.
    assert [e["request"]["url"] for e in outputs[1]["entry"]] == [e["request"]["url"] for e in bundle["entry"]]


def test_the_library_refuses_what_is_off_model():
    o = observation.Observation()
    o.status = "final"  # no code: required in R4
    with pytest.raises(FHIRValidationError):
        o.as_json()
    bad = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "valueQuantity": {"value": "treinta y ocho"}}}]}
    with pytest.raises(FHIRValidationError):
        parse_bundle(bad)


def test_an_open_encounter_and_a_misused_referral_are_refused(tmp_path: Path, demo_clinic: DemoClinic):
    clinic = make_clinic(tmp_path / "c")
    with clinic.doctor() as store:
        patient = store.patients.add(given_names="Ana", family_names="Pérez", sex="F")
        draft = store.encounters.start(patient.id)
    (tmp_path / "pass").write_text(DOCTOR_PASS)
    common = ("--data-dir", str(clinic.data_dir), "--user", "doctora", "--passphrase-file", str(tmp_path / "pass"))
    p = vereda("--lang", "en", "export", "fhir", *common, "--encounter", draft.id, "--output", str(tmp_path / "x"))
    assert p.returncode == 1 and json.loads(p.stderr)["error"]["code"] == "encounter_not_closed"
    assert not (tmp_path / "x").exists()
    p = demo_clinic.export("fhir", "--since", "2020-01-01", "--referral-pdf", str(tmp_path / "pass"), "--output",
                           str(tmp_path / "y"))
    assert p.returncode == 2 and json.loads(p.stderr)["error"]["code"] == "referral_needs_one_encounter"
