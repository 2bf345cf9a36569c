"""HPO terms looked for and found absent (`excluded_hpo_terms`, issue 18) in the exports a genetics centre reads: the
phenopacket marks them `excluded: true`; FHIR codes each HPO finding's value as the HL7 Phenomics Exchange IG's
PhenotypicFeature does (LOINC LA9633-4 Present / LA9634-2 Absent). Both through the real `vereda export` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.interop.fhir import parse_bundle
from app.interop.fhir_terms import HPO, LOINC
from app.interop.phenopacket import parse
from tests.interop.conftest import vereda
from tests.store.conftest import DOCTOR_PASS, make_clinic

PRESENT = ["HP:0001166", "HP:0001083", "HP:0002616", "HP:0000545"]  # Marfan-like: the rare-disease alert fires
ABSENT = "HP:0001634"  # mitral valve prolapse: looked for, not found
REQUEST = {"age": 16.5, "sex": "M", "symptoms": {"dolor_pecho": 3, "cambios_vision": 8}, "hpo_terms": PRESENT,
           "excluded_hpo_terms": [ABSENT]}


@pytest.fixture
def visit(tmp_path: Path, engine: Any) -> tuple[list[str], str]:
    """The export command's common arguments and the id of a closed visit with an absent finding."""
    response = engine.diagnose(REQUEST)
    assert response["rare_disease_alert"]
    clinic = make_clinic(tmp_path / "c")
    with clinic.doctor() as store:
        patient = store.patients.add(given_names="Yeison", family_names="Cuéllar Henao", sex="M")
        record = store.encounters.record(patient.id, request=REQUEST, response=response, final_code="ORPHA:558")
    (tmp_path / "pass").write_text(DOCTOR_PASS)
    return ["--data-dir", str(clinic.data_dir), "--user", "doctora", "--passphrase-file", str(tmp_path / "pass"),
            "--encounter", record.id], record.id


def test_the_phenopacket_marks_an_absent_finding_excluded(visit: tuple[list[str], str], tmp_path: Path) -> None:
    args, _ = visit
    out = tmp_path / "caso.json"
    p = vereda("export", "phenopacket", *args, "--output", str(out))
    assert p.returncode == 0, p.stderr
    features = {f.type.id: f for f in parse(out.read_text(encoding="utf-8")).phenotypic_features}
    assert features[ABSENT].excluded
    assert not any(features[t].excluded for t in PRESENT)
    assert features[ABSENT].type.label == "Mitral valve prolapse"  # labelled from the bundle like the others


def test_fhir_codes_an_absent_finding_absent(visit: tuple[list[str], str], tmp_path: Path) -> None:
    args, _ = visit
    out = tmp_path / "consulta.json"
    p = vereda("export", "fhir", *args, "--output", str(out))
    assert p.returncode == 0, p.stderr
    bundle = json.loads(out.read_text(encoding="utf-8"))
    parse_bundle(bundle)  # strict: an element off the R4 model raises
    values = {}
    for entry in bundle["entry"]:
        r = entry["resource"]
        hpo = [c["code"] for c in r.get("code", {}).get("coding", []) if c.get("system") == HPO]
        if r["resourceType"] == "Observation" and hpo and "valueCodeableConcept" in r:
            [coding] = r["valueCodeableConcept"]["coding"]
            assert coding["system"] == LOINC and "valueBoolean" not in r
            values[hpo[0]] = coding["code"]
    assert values == {**dict.fromkeys(PRESENT, "LA9633-4"), ABSENT: "LA9634-2"}
