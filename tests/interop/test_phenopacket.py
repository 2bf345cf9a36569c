"""A phenopacket for a referral when the rare-disease alert fired, written by `vereda export phenopacket` and read
back by the `phenopackets` package."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from google.protobuf.json_format import ParseError
from phenopackets import Phenopacket, Sex

from app.interop.fhir import parse_bundle
from app.interop.pdf import Line, write_pdf
from app.interop.phenopacket import iso_age, parse
from tests.interop.conftest import vereda
from tests.store.conftest import DOCTOR_PASS, make_clinic

# Marfan-like findings (arachnodactyly, ectopia lentis, aortic root dilatation, myopia): the alert fires.
REQUEST = {"age": 16.5, "sex": "M", "symptoms": {"dolor_pecho": 3, "fatiga": 0, "cambios_vision": 8},
           "hpo_terms": ["HP:0001166", "HP:0001083", "HP:0002616", "HP:0000545"]}


def test_a_rare_disease_referral_phenopacket_parses_back(tmp_path: Path, engine):
    response = engine.diagnose(REQUEST)
    assert response["rare_disease_alert"]
    clinic = make_clinic(tmp_path / "c")
    with clinic.doctor() as store:
        patient = store.patients.add(given_names="Yeison", family_names="Cuéllar Henao", sex="M",
                                     document_number="1002003004")
        record = store.encounters.record(patient.id, request=REQUEST, response=response, final_code="ORPHA:558")
    (tmp_path / "pass").write_text(DOCTOR_PASS)
    out = tmp_path / "caso.json"
    p = vereda("export", "phenopacket", "--data-dir", str(clinic.data_dir), "--user", "doctora",
               "--passphrase-file", str(tmp_path / "pass"), "--encounter", record.id, "--output", str(out))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rare_disease_alert"] is True
    text = out.read_text(encoding="utf-8")
    packet = parse(text)
    assert isinstance(packet, Phenopacket)
    assert packet.subject.sex == Sex.MALE
    assert packet.subject.time_at_last_encounter.age.iso8601duration == "P16Y6M"
    features = {f.type.id: f for f in packet.phenotypic_features}
    assert {"HP:0001166", "HP:0001083", "HP:0002616", "HP:0000545"} <= set(features)
    assert features["HP:0012378"].excluded  # fatigue recorded at intensity 0: examined and absent
    assert features["HP:0000504"].severity.id == "HP:0012828"  # visual change at 8/10: severe
    assert features["HP:0001166"].type.label == "Arachnodactyly"
    candidates = [i.diagnosis.disease.id for i in packet.interpretations]
    assert candidates[0] == "ORPHA:558" and len(candidates) == len(response["rare_diseases"])
    assert [d.term.id for d in packet.diseases] == ["ORPHA:558"]
    assert {r.namespace_prefix for r in packet.meta_data.resources} == {"HP", "ORPHA"}
    assert packet.meta_data.phenopacket_schema_version == "2.0"
    # No name or document number leaves in it.
    assert "Yeison" not in text and "Cuéllar" not in text and "1002003004" not in text

    # The FHIR referral of this case carries the phenopacket beside the letter.
    letter = write_pdf([Line("Remisión a genética")], tmp_path / "carta.pdf")
    p = vereda("export", "fhir", "--data-dir", str(clinic.data_dir), "--user", "doctora", "--passphrase-file",
               str(tmp_path / "pass"), "--encounter", record.id, "--referral-pdf", str(letter), "--output",
               str(tmp_path / "remision.json"))
    assert p.returncode == 0, p.stderr
    bundle = json.loads((tmp_path / "remision.json").read_text(encoding="utf-8"))
    parse_bundle(bundle)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    [order] = [r for r in by_url.values() if r["resourceType"] == "ServiceRequest"]
    attachments = [by_url[ref["reference"]]["content"][0]["attachment"] for ref in order["supportingInfo"]]
    assert [a["contentType"] for a in attachments] == ["application/pdf", "application/json"]
    carried = parse(base64.b64decode(attachments[1]["data"]).decode("utf-8"))
    assert carried.interpretations[0].diagnosis.disease.id == "ORPHA:558"
    [condition] = [r for r in by_url.values() if r["resourceType"] == "Condition"]
    assert condition["code"]["coding"][0] == {"system": "http://www.orpha.net", "code": "ORPHA:558",
                                              "display": "Marfan syndrome"}


def test_the_parser_refuses_what_is_not_a_phenopacket():
    with pytest.raises(ParseError):
        parse('{"subject": {"sex": "NEITHER"}}')


@pytest.mark.parametrize(("years", "expected"), [(34, "P34Y"), (1.5, "P1Y6M"), (5 / 365.25, "P5D"),
                                                 (0.2, "P2M12D"), (0.5, "P6M"), (0, "P0D")])
def test_ages_are_iso_8601_durations(years: float, expected: str):
    assert iso_age(years) == expected
