"""The engine on the shipped bundle: contract shape, the origin document's cases, safety rules, explanations."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.vocabulary import STATES, urgency
from model_export.evaluate import ORIGIN_ATTENTION, ORIGIN_CASES, origin_request

CASE = {"age": 45, "sex": "F", "duration_days": 3,
        "symptoms": {"fiebre": 8, "dolor_cabeza": 6, "tos": 4},
        "vitals": {"temperature_c": 39.1, "heart_rate": 104, "respiratory_rate": 22, "spo2": 95,
                   "systolic_bp": 118, "diastolic_bp": 76, "glucose_mg_dl": 110}}


def test_response_follows_the_contract(engine):
    r = engine.diagnose(CASE)
    assert r["severity"] in STATES
    assert r["severity_label"].keys() == {"es", "en"}
    assert list(r["severity_probabilities"]) == list(STATES)
    assert sum(r["severity_probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 0 <= r["confidence"] <= 1
    assert isinstance(r["requires_immediate_attention"], bool)
    assert len(r["top_conditions"]) >= 5
    probs = [c["probability"] for c in r["top_conditions"]]
    assert probs == sorted(probs, reverse=True)
    for c in r["top_conditions"]:
        assert c["name"].keys() == {"es", "en"}
    assert r["rare_diseases"] == [] or len(r["rare_diseases"]) <= 10
    assert r["recommendations"].keys() == {"es", "en"} and r["recommendations"]["es"]
    assert r["model"]["version"] == engine.bundle.version and len(r["model"]["sha256"]) == 64
    assert r["engine"] == "local"
    assert r["explanation"]["space"] == "log-odds"


@pytest.mark.parametrize("which", ["severity", "condition"])
def test_explanations_add_up_to_the_models_own_output(engine, which):
    r = engine.diagnose(CASE)
    e = r["explanation"][which]
    assert e["base_value"] + sum(e["contributions"].values()) == pytest.approx(e["output_value"], abs=1e-4)
    assert set(e["contributions"]) == set(engine.features.raw_names)
    # output_value is the model's own score for the target: recompute it from the ONNX model directly.
    model = engine.state_model if which == "severity" else engine.condition_model
    x = engine.features.expand(engine.features.raw_vector(engine.validate(CASE)))
    z = model.scores(x)[0]
    assert e["output_value"] == pytest.approx(float(z[model.classes.index(e["target"])]), abs=1e-5)
    assert e["target"] == (r["severity"] if which == "severity" else r["top_conditions"][0]["code"])


@pytest.mark.parametrize("index", range(5))
def test_origin_document_cases(engine, index):
    symptoms, expected = ORIGIN_CASES[index]
    r = engine.diagnose(origin_request(symptoms))
    # The expected state or a more urgent one, never a less urgent one.
    assert urgency(r["severity"]) >= urgency(expected), (symptoms, r["severity"])
    if ORIGIN_ATTENTION[index]:
        assert r["requires_immediate_attention"], symptoms


def test_red_flags_escalate_but_never_lower(engine):
    mild = {"age": 30, "sex": "M", "duration_days": 2,
            "symptoms": {"congestion_nasal": 4, "dolor_garganta": 3, "tos": 2},
            "vitals": {"temperature_c": 37.2, "heart_rate": 78}}
    calm = engine.diagnose(mild)
    assert not calm["requires_immediate_attention"]
    assert urgency(calm["severity"]) < urgency("ENFERMEDAD_AGUDA")
    hypoxic = engine.diagnose({**mild, "vitals": {**mild["vitals"], "spo2": 86}})
    assert hypoxic["requires_immediate_attention"]
    assert hypoxic["severity"] == "ENFERMEDAD_AGUDA"
    assert "SPO2_LOW" in {f["code"] for f in hypoxic["red_flags"]}
    assert all(f["message"]["es"] and f["message"]["en"] for f in hypoxic["red_flags"])


def test_meningism_and_stroke_signs_are_flagged(engine):
    meningitis = engine.diagnose({"age": 19, "sex": "M", "duration_days": 1,
                                  "symptoms": {"fiebre": 8, "dolor_cabeza": 9, "rigidez_nuca": 7}})
    assert meningitis["requires_immediate_attention"] and meningitis["severity"] == "ENFERMEDAD_AGUDA"
    stroke = engine.diagnose({"age": 70, "sex": "F", "duration_days": 0.1,
                              "symptoms": {"debilidad_unilateral": 8, "dificultad_hablar": 7, "mareos": 3}})
    assert "STROKE_SIGNS" in {f["code"] for f in stroke["red_flags"]}


def test_batch_equals_one_by_one(engine):
    requests = [engine.validate(origin_request(s)) for s, _ in ORIGIN_CASES] + [engine.validate(CASE)]
    batch = engine.diagnose_many(requests)
    single = [engine.diagnose(r) for r in requests]
    assert same(batch, single)


def same(a, b, tol: float = 2e-5) -> bool:
    """Equal structure and text; numbers equal up to float32 noise (a batch and a single row round alike)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and set(a) == set(b) and all(same(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tol
    return a == b


def test_more_fever_never_lowers_the_fever_contribution(engine):
    contributions = []
    for t in (36.8, 38.0, 39.0, 40.5):
        r = engine.diagnose({**CASE, "vitals": {"temperature_c": t}})
        contributions.append(r["explanation"]["severity"]["contributions"]["temperature_c"])
    assert np.all(np.isfinite(contributions))


MARFAN = {"age": 14, "sex": "M", "symptoms": {"perdida_peso": 3},
          "hpo_terms": ["HP:0001166", "HP:0001519", "HP:0001083", "HP:0002616"]}  # arachnodactyly, tall, lens, aorta


def test_rare_disease_ranking_and_alert(engine):
    r = engine.diagnose(MARFAN)
    assert r["rare_diseases"][0]["orpha_code"] == "ORPHA:558"
    assert set(r["rare_diseases"][0]["matched_terms"]) >= {"HP:0001166", "HP:0001083"}
    assert len(r["rare_diseases"]) <= 10
    assert r["rare_disease_alert"] is True
    # Never "not ill" with findings that fit an orphan disease; the recommendation says to refer.
    assert urgency(r["severity"]) >= urgency("ENFERMEDAD_CRONICA")
    assert any("rara" in line for line in r["recommendations"]["es"])


def test_common_presentations_do_not_raise_the_rare_alert(engine):
    for request in (CASE, *(origin_request(s) for s, _ in ORIGIN_CASES)):
        assert engine.diagnose(request)["rare_disease_alert"] is False


def test_unknown_hpo_terms_are_rejected(engine):
    from app.core.contract import ContractError

    with pytest.raises(ContractError) as info:
        engine.validate({**MARFAN, "hpo_terms": ["HP:9999999", "HP:0001166", "HP:0001519"]})
    assert (info.value.code, info.value.field) == ("unknown_hpo_term", "hpo_terms[0]")
