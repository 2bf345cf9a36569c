"""What to measure or ask next (issue 19), on the real engine and the committed bundle (app/core/next_findings.py).

The ranking is only as good as its variants: each "the request with this finding set to this value" must be
answered exactly as the engine answers that request when a doctor types it in, so the first tests hold the variant
batch (request columns copied and one cell changed, no rare ranking, no explanations) to full `diagnose` calls.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.contract import PREGNANCY_AGE
from app.core.engine import DiagnosisEngine, softmax
from app.core.next_findings import (
    MAX_FINDINGS,
    MAX_IN_EMERGENCY,
    NextFindings,
    outcomes,
    variant_cases,
    with_finding,
)
from app.core.vocabulary import STATES
from model_export import knowledge
from model_export.simulator import Simulator

# An adult with cough, fever and breathlessness whose saturation nobody measured yet (the first case).
RESPIRATORY: dict[str, Any] = {
    "age": 45, "sex": "M", "duration_days": 3, "symptoms": {"tos": 7, "fiebre": 8, "dificultad_respirar": 6},
    "vitals": {"temperature_c": 38.9, "heart_rate": 100, "respiratory_rate": 24, "systolic_bp": 125,
               "diastolic_bp": 80}}
# Already an emergency by a danger sign (SpO2 86 %).
EMERGENCY: dict[str, Any] = {**RESPIRATORY, "vitals": {**RESPIRATORY["vitals"], "spo2": 86}}
LEVELS = ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")


@pytest.fixture(scope="module")
def patients(engine: DiagnosisEngine) -> list[Any]:
    raw = Simulator(knowledge.load()).sample(150, seed=1901).requests
    return [engine.validate(r) for r in raw]


def _cond_p(engine: DiagnosisEngine, request: Any) -> np.ndarray:
    return softmax(engine.condition_model.scores(engine.features.expand(engine.features.raw_matrix([request]))))[0]


def test_each_variant_is_answered_as_diagnose_answers_it(engine: DiagnosisEngine, patients: list[Any]) -> None:
    checked = 0
    for request in [engine.validate(RESPIRATORY), engine.validate(EMERGENCY), *patients[:40]]:
        nf = engine.next_findings
        candidates = nf.candidates(request, _cond_p(engine, request), 0.5, floor=0.0)
        alert = engine.diagnose(request, next_findings=False)["rare_disease_alert"]
        got = nf.variant_outcomes(request, candidates, alert)  # the path `rank` takes
        # Its model columns (the request's, one input's rewritten) are exactly those the engine would expand.
        raw, changed = nf.variant_raw(request, candidates)
        base = engine.features.expand(raw[:1])
        assert np.array_equal(nf.expand_variants(base, raw, changed), engine.features.expand(raw))
        # And the columns-by-copy cases read as the variants' own requests would.
        cases = variant_cases(request, candidates)
        by_requests = outcomes(engine, [request, *(with_finding(request, c, v) for c in candidates
                                                   for v, _ in c.values)], np.full(cases.n, alert))
        assert np.array_equal(by_requests.level, got.level) and np.array_equal(by_requests.danger, got.danger)
        row = 1
        for c in candidates:
            for value, _ in c.values:
                full = engine.diagnose(with_finding(request, c, value), next_findings=False)
                if full["rare_disease_alert"] == alert:  # the variants hold the request's own rare alert
                    assert LEVELS[int(got.level[row])] == full["triage"]["level"], (c.finding, value)
                    assert STATES[int(got.state[row])] == full["severity"], (c.finding, value)
                    assert engine.condition_model.classes[int(got.top[row])] == full["top_conditions"][0]["code"]
                    checked += 1
                row += 1
    assert checked > 2000  # vitals, symptoms, signs and pregnancy of 42 requests


def test_a_respiratory_case_without_spo2_asks_for_spo2_first_and_86_makes_it_an_emergency(
        engine: DiagnosisEngine) -> None:
    answer = engine.diagnose(RESPIRATORY)
    assert answer["triage"]["level"] != "EMERGENCIA"
    first = answer["next_findings"][0]
    assert (first["finding"], first["kind"]) == ("spo2", "vital")
    assert "triage" in first["could_change"] and 0 < first["value_of_information"] <= 1
    assert "EMERGENCIA" in first["why"]["es"] and "emergency" in first["why"]["en"]
    entered = engine.diagnose(EMERGENCY)
    assert entered["triage"]["level"] == "EMERGENCIA"
    assert "spo2" not in [f["finding"] for f in entered["next_findings"]]


def test_an_emergency_lists_only_what_changes_management_and_says_so(engine: DiagnosisEngine,
                                                                     patients: list[Any]) -> None:
    answers = [engine.diagnose(EMERGENCY), *(a for a in engine.diagnose_many(patients)
                                             if a["triage"]["level"] == "EMERGENCIA")]
    assert len(answers) > 10
    for answer in answers:
        assert len(answer["next_findings"]) <= MAX_IN_EMERGENCY
        for item in answer["next_findings"]:
            assert item["why"]["es"].startswith("Ya es EMERGENCIA: no retrase la atención.")
            assert item["why"]["en"].startswith("Already an emergency: do not delay care.")
            assert "state" not in item["could_change"]  # an emergency's state is acute whatever is found
    assert any(answer["next_findings"] for answer in answers)


def test_never_a_finding_already_given_and_the_shape_holds(engine: DiagnosisEngine, patients: list[Any]) -> None:
    answers = engine.diagnose_many(patients)
    low, high = PREGNANCY_AGE
    for request, answer in zip(patients, answers, strict=True):
        items = answer["next_findings"]
        assert len(items) <= MAX_FINDINGS
        vois = [f["value_of_information"] for f in items]
        assert vois == sorted(vois, reverse=True) and all(0 < v <= 1 for v in vois)
        for f in items:
            assert set(f) == {"finding", "kind", "why", "could_change", "value_of_information"}
            assert f["could_change"] and set(f["could_change"]) <= {"triage", "state", "top_condition"}
            assert f["why"]["es"] and f["why"]["en"]
            given = {"vital": request.vitals, "symptom": request.symptoms, "sign": request.signs}.get(f["kind"])
            if given is not None:
                assert f["finding"] not in given, (f, request)
            else:
                assert f == {**f, "kind": "pregnancy", "finding": "pregnant"}
                assert request.pregnancy is None and request.sex == "F" and low <= request.age <= high
    assert sum(bool(a["next_findings"]) for a in answers) > 75
    assert {f["kind"] for a in answers for f in a["next_findings"]} >= {"vital", "symptom", "sign"}


def test_a_bundle_without_the_distributions_still_ranks(tmp_path: Path, bundle_dir: Path) -> None:
    """An older bundle (no findings.npz) loads, and its generic grids still put the danger first."""
    from model_export.export import write_manifest

    older = tmp_path / "older"
    shutil.copytree(bundle_dir, older)
    (older / "findings.npz").unlink()
    manifest = json.loads((older / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("findings", None)
    manifest.pop("files", None)
    write_manifest(older, manifest)
    engine = DiagnosisEngine.load(older)
    assert not engine.next_findings.dist.from_bundle
    answer = engine.diagnose(RESPIRATORY)
    assert "spo2" in [f["finding"] for f in answer["next_findings"]]
    assert engine.diagnose(EMERGENCY)["triage"]["level"] == "EMERGENCIA"


def test_the_committed_bundle_carries_the_distributions(engine: DiagnosisEngine) -> None:
    nf: NextFindings = engine.next_findings
    assert nf.dist.from_bundle
    assert "findings" in engine.bundle.manifest and "findings.npz" in engine.bundle.manifest["files"]
    # A pregnancy question is asked of a woman of childbearing age, never of a man or a child.
    woman = engine.diagnose({"age": 28, "sex": "F", "symptoms": {"dolor_abdominal": 7, "nausea": 5, "fatiga": 4}})
    man = engine.diagnose({"age": 28, "sex": "M", "symptoms": {"dolor_abdominal": 7, "nausea": 5, "fatiga": 4}})
    woman_candidates = nf.candidates(engine.validate({"age": 28, "sex": "F", "symptoms": {
        "dolor_abdominal": 7, "nausea": 5, "fatiga": 4}}), np.full(len(engine.condition_model.classes), 1.0))
    assert "pregnant" in [c.finding for c in woman_candidates]
    assert "pregnant" not in [f["finding"] for f in man["next_findings"]]
    assert woman["next_findings"]


def test_next_findings_can_be_left_out_for_throughput(engine: DiagnosisEngine) -> None:
    request = engine.validate(RESPIRATORY)
    assert engine.diagnose_many([request], next_findings=False)[0]["next_findings"] == []
    with_list = engine.diagnose_many([request])[0]
    without = engine.diagnose_many([request], next_findings=False)[0]
    assert {k: v for k, v in with_list.items() if k != "next_findings"} == \
        {k: v for k, v in without.items() if k != "next_findings"}
