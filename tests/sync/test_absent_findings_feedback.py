"""Absent findings reach the confirmed-case evidence (issue 18): a saved visit with an HPO term looked for and not
found -> the real outbox -> a real `vereda-server` -> `vereda-server export-feedback` -> `python -m model_export
retrain` -> `rare_evidence.json` counts the term under `excluded_terms`. Older clinics' records (no
`excluded_hpo_terms`) still validate and are stored exactly as sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.sync.client import CentralClient
from app.sync.enrollment import load_enrollment
from app.sync.outbox import UnmappableRow, push_outbox, service_record
from tests.server.helpers import ROOT, Server, run_cli
from tests.sync.conftest import FAST_RETRY, Clinic, close_encounters, direct, enroll_clinic, stored

MARFAN = "ORPHA:558"
# Arachnodactyly, ectopia lentis, aortic root dilatation, myopia present; mitral valve prolapse looked for, absent.
ABSENT = "HP:0001634"
REQUEST = {"age": 16.5, "sex": "M", "symptoms": {"dolor_pecho": 3, "cambios_vision": 8},
           "hpo_terms": ["HP:0001166", "HP:0001083", "HP:0002616", "HP:0000545"], "excluded_hpo_terms": [ABSENT]}
ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_an_absent_finding_goes_from_the_visit_to_the_retrained_evidence(
        clinic: Clinic, answers: Any, engine: Any, server: Server, tmp_path: Path) -> None:
    enroll_clinic(clinic, server.url, server)
    close_encounters(clinic, answers, 1)  # an ordinary visit, as an older clinic sends it: no absent findings
    response = engine.diagnose(REQUEST)
    with clinic.doctor() as doctor:
        patient = doctor.patients.add(given_names="Yeison", family_names="Cuéllar Henao", sex="M")
        visit = doctor.encounters.record(patient.id, request=REQUEST, response=response, final_code=MARFAN)
        assert doctor.encounters.get(visit.id).request["excluded_hpo_terms"] == [ABSENT]  # the saved visit keeps it
        enrollment = load_enrollment(doctor)
        assert enrollment is not None
        with CentralClient(server.url, enrollment.token, FAST_RETRY) as client:
            summary = push_outbox(direct(doctor), client, enrollment.clinic_id)
    assert (summary.pushed, summary.acknowledged, summary.failed) == (2, 2, 0)

    held = stored(server.database)
    marfan = [p for p in held.values() if p["confirmed_diagnosis"] == MARFAN]
    assert len(marfan) == 1 and marfan[0]["request"]["excluded_hpo_terms"] == [ABSENT]
    assert marfan[0]["request"]["hpo_terms"] == REQUEST["hpo_terms"]
    older = [p for p in held.values() if p["confirmed_diagnosis"] == "A97"]
    assert older and all("excluded_hpo_terms" not in p["request"] for p in older)  # stored as sent, nothing added

    export = tmp_path / "feedback.jsonl"
    done = run_cli("export-feedback", "--out", str(export), "--database", server.database, env=server.env)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "candidate"
    done = subprocess.run([sys.executable, "-m", "model_export", "retrain", "--feedback", str(export), "--out",
                           str(out), "--version", "2026.12.9", "--scale", "0.01", "--eval-simulated", "100"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, **ENV}, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    evidence = json.loads((out / "rare_evidence.json").read_text(encoding="utf-8"))
    assert evidence["format"] == 2
    case = evidence["diseases"][MARFAN]
    assert case["cases"] == 1 and case["excluded_terms"] == {ABSENT: 1}
    assert set(REQUEST["hpo_terms"]) <= set(case["hpo_terms"]) and ABSENT not in case["hpo_terms"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rare_evidence"]["cases"] == 1


def test_the_service_refuses_a_finding_both_present_and_absent(clinic: Clinic, answers: Any,
                                                                server: Server) -> None:
    enroll_clinic(clinic, server.url, server)
    close_encounters(clinic, answers, 1)
    with clinic.doctor() as doctor:
        row = doctor.outbox.pending()[0]
        enrollment = load_enrollment(doctor)
    assert enrollment is not None
    record = service_record(row.payload, row.created_at, enrollment.clinic_id)
    record["request"]["hpo_terms"] = ["HP:0001166"]
    record["request"]["excluded_hpo_terms"] = ["HP:0001166"]
    good = service_record(row.payload, row.created_at, enrollment.clinic_id)
    good["uuid"] = "8" + good["uuid"][1:]
    good["request"]["excluded_hpo_terms"] = ["HP:0001634"]
    with CentralClient(server.url, enrollment.token, FAST_RETRY) as client:
        results = client.push_feedback([record, good])
    assert [r.status for r in results] == ["invalid", "accepted"]
    assert "both in hpo_terms and excluded_hpo_terms" in results[0].reason


def test_the_outbox_checks_absent_findings_as_the_contract_does(clinic: Clinic, answers: Any) -> None:
    close_encounters(clinic, answers, 2)
    with clinic.doctor() as doctor:
        row = doctor.outbox.pending()[1]  # the visit with HP:0002090 present
    payload = row.payload

    def mapped(excluded: Any) -> dict[str, Any]:
        findings = {**payload["request"], "excluded_hpo_terms": excluded}
        return service_record({**payload, "request": findings}, row.created_at, "puesto-1234")

    assert mapped(["hp:0001634 ", "HP:0001634"])["request"]["excluded_hpo_terms"] == ["HP:0001634"]
    assert "excluded_hpo_terms" not in mapped([])["request"]  # older rows and visits without any: byte-identical
    for bad, why in ((["HP:0002090"], "both present and excluded"), (["fiebre"], "not an HPO id"),
                     ("HP:0001634", "must be a list"), (["HP:0001634"] * 51, "at most 50")):
        with pytest.raises(UnmappableRow, match=why):
            mapped(bad)
