"""The vectorised engine (issue 16) against the one-request path it replaced (tests/core/reference_engine.py).

Same answers to 1e-6 on 10,000 simulated patients with the contract v2 fields, every danger-sign rule and score
exactly as its one-request form on patients pushed onto the rules' thresholds, and one case as a batch of one.
"""

from __future__ import annotations

import gc
import random
from typing import Any

import numpy as np
import pytest

from app.core import red_flags, scores
from app.core.cases import Cases
from app.core.contract import ContractError
from app.core.signs import signs
from model_export import knowledge
from model_export.simulator import Simulator
from tests.core.reference_engine import reference_diagnose_many

TOLERANCE = 1e-6

# Values on and either side of the limits the rules and NEWS2 read (contract units).
EDGES: dict[str, list[float]] = {
    "spo2": [85, 91, 92, 93, 94, 95, 96, 99],
    "respiratory_rate": [6, 8, 9, 11, 12, 20, 21, 22, 24, 25, 30, 39, 40, 49, 50, 59, 60, 70],
    "heart_rate": [35, 40, 41, 50, 51, 59, 60, 69, 70, 89, 90, 91, 110, 111, 130, 131, 139, 140, 159, 160, 179, 180,
                   200],
    "systolic_bp": [70, 90, 91, 100, 101, 110, 111, 139, 140, 159, 160, 179, 180, 219, 220],
    "diastolic_bp": [40, 60, 89, 90, 100, 109, 110, 119, 120, 130],
    "temperature_c": [34.9, 35.0, 35.04, 35.05, 35.1, 35.4, 35.5, 36.0, 36.04, 36.05, 36.1, 37.4, 37.5, 37.95, 38.0,
                      38.04, 38.05, 38.1, 39.0, 39.04, 39.05, 39.1, 40.0, 41.0],
    "glucose_mg_dl": [30, 44, 45, 53, 54, 69, 70, 249, 250, 399, 400],
    "muac_mm": [100, 114, 115, 130],
    "capillary_refill_s": [1, 2.9, 3, 3.5, 5],
}
AGES = [0.01, 0.1, 0.16, 0.17, 0.24, 0.25, 0.3, 0.5, 0.9, 1.0, 2.0, 4.9, 5.0, 11.0, 12.0, 15.0, 16.0, 17.0, 18.0,
        25.0, 35.0, 49.0, 50.0, 70.0]
SYMPTOMS = ["fiebre", "rechazo_alimento", "convulsiones", "dolor_cabeza", "cambios_vision", "dolor_epigastrico",
            "dolor_abdominal", "confusion", "sangrado", "nausea", "vomito", "erupcion_cutanea", "dolor_retroocular",
            "dolor_muscular", "dolor_articular", "dolor_pecho", "debilidad_unilateral", "dificultad_hablar",
            "dificultad_respirar", "rigidez_nuca", "sudoracion", "hemoptisis", "apnea", "sangrado_vaginal", "desmayo",
            "salivacion_excesiva", "sibilancias", "rechazo_alimento"]


@pytest.fixture(scope="module")
def simulated(engine) -> list[Any]:
    patients = Simulator(knowledge.load()).sample(10_000, seed=16).requests
    return [engine.validate(p) for p in patients]


def _threshold_patients(engine, n: int, seed: int) -> list[Any]:
    """Simulated patients pushed onto the rules' thresholds: ages on the band edges, vitals on and beside the limits,
    pregnancy and puerperium, AVPU, examination signs and rule symptoms at random."""
    rng = random.Random(seed)
    base = Simulator(knowledge.load()).sample(n, seed=seed).requests
    known_symptoms = set(engine.vocabulary.symptom_keys)
    symptom_keys = [k for k in dict.fromkeys(SYMPTOMS) if k in known_symptoms]
    sign_codes = sorted(signs().codes)
    out = []
    for raw in base:
        r = dict(raw)
        r["age"] = rng.choice(AGES) if rng.random() < 0.7 else r["age"]
        vitals = dict(r.get("vitals") or {})
        for key, values in EDGES.items():
            if rng.random() < 0.35:
                vitals[key] = rng.choice(values)
        r["vitals"] = vitals
        symptoms = dict(r.get("symptoms") or {})
        for key in symptom_keys:
            if rng.random() < 0.12:
                symptoms[key] = rng.randint(0, 10)
        r["symptoms"] = symptoms
        r["signs"] = sorted({*r.get("signs", []), *(c for c in sign_codes if rng.random() < 0.06)})
        r["consciousness"] = rng.choice([None, "A", "A", "V", "P", "U"])
        r["duration_days"] = rng.choice([None, 0.5, 1, 2, 7, 8, 10, 11, 30])
        r.pop("pregnancy", None)
        if r["sex"] == "F" and 10 <= r["age"] <= 60 and rng.random() < 0.6:
            status = rng.choice(["pregnant", "pregnant", "postpartum", "not_pregnant", "unknown"])
            r["pregnancy"] = {"status": status}
            if status == "pregnant":
                r["pregnancy"]["weeks"] = rng.choice([5, 14, 15, 19, 20, 34])
            elif status == "postpartum":
                r["pregnancy"]["days_since_delivery"] = rng.choice([1, 30])
        try:
            out.append(engine.validate(r))
        except ContractError:
            continue  # e.g. a diastolic pressure drawn above the systolic
    return out


def _worst(a: Any, b: Any, path: str = "") -> float:
    """Largest difference between two answers; anything but a float must be equal, keys in the same order."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        return max((_worst(a[k], b[k], f"{path}.{k}") for k in a), default=0.0)
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        return max((_worst(x, y, f"{path}[]") for x, y in zip(a, b, strict=True)), default=0.0)
    assert type(a) is type(b), (path, a, b)
    if isinstance(a, float):
        return abs(a - b)
    assert a == b, (path, a, b)
    return 0.0


def test_batch_answers_as_one_request_at_a_time_on_10000_simulated_patients(engine, simulated):
    assert sum(r.pregnancy is not None for r in simulated) > 100  # the v2 fields are really there
    assert sum(r.consciousness is not None for r in simulated) > 100
    assert sum(bool(r.signs) for r in simulated) > 100
    # next_findings (a batch of variants per request) has its own comparison below, on fewer patients.
    batch = engine.diagnose_many(simulated, next_findings=False)
    reference = reference_diagnose_many(engine, simulated, next_findings=False)
    worst = max(_worst(a, b, f"case {i}") for i, (a, b) in enumerate(zip(batch, reference, strict=True)))
    assert worst <= TOLERANCE
    # The batch really exercises the answers that matter: emergencies, rules, rare alerts.
    assert sum(a["requires_immediate_attention"] for a in batch) > 500
    assert sum(bool(a["rare_diseases"]) for a in batch) > 100


def test_next_findings_of_a_batch_are_those_of_one_request_at_a_time(engine, simulated):
    """Issue 19: the list of what to ask next is the same in a batch as one request at a time, to the digit."""
    patients = simulated[:400]
    batch = engine.diagnose_many(patients)
    reference = reference_diagnose_many(engine, patients)
    assert [a["next_findings"] for a in batch] == [b["next_findings"] for b in reference]
    assert sum(bool(a["next_findings"]) for a in batch) > 200


def test_one_case_is_a_batch_of_one(engine, simulated):
    for request in simulated[:300]:
        assert _worst(engine.diagnose(request), reference_diagnose_many(engine, [request])[0]) <= TOLERANCE


def test_every_rule_fires_exactly_as_its_one_request_form(engine):
    patients = _threshold_patients(engine, 20_000, seed=7)
    assert len(patients) > 15_000
    fired = red_flags.evaluate_batch(Cases(patients))
    expected = np.array([[rule.applies(r) for rule in red_flags.RULES] for r in patients])
    wrong = {red_flags.RULES[j].code: int(k) for j, k in enumerate((fired != expected).sum(axis=0)) if k}
    assert not wrong
    # Each rule fires on some patients and not on others, so the comparison above tested every rule both ways.
    counts = expected.sum(axis=0)
    assert {red_flags.RULES[j].code: int(c) for j, c in enumerate(counts) if c < 5 or c == len(patients)} == {}


def test_scores_of_a_batch_are_the_published_scores(engine):
    patients = _threshold_patients(engine, 5_000, seed=8)
    batch = scores.batch_scores(Cases(patients))
    assert batch.to_json() == [scores.scores(r) for r in patients]
    assert batch.news2_floor.tolist() == [scores.news2_floor(r)[0] for r in patients]
    assert batch.qsofa_floor.tolist() == [scores.qsofa_floor(r) for r in patients]
    assert sum(s["news2"] is not None for s in batch.to_json()) > 100


def test_threshold_patients_answer_as_before(engine):
    patients = _threshold_patients(engine, 1_500, seed=9)
    batch = engine.diagnose_many(patients, next_findings=False)
    reference = reference_diagnose_many(engine, patients, next_findings=False)
    assert max(_worst(a, b) for a, b in zip(batch, reference, strict=True)) <= TOLERANCE


def test_feature_rows_are_the_same_whichever_way_they_are_read(engine):
    patients = _threshold_patients(engine, 2_000, seed=10)
    one_by_one = np.vstack([engine.features.raw_vector(r) for r in patients])  # `_one` per input, as before
    assert np.array_equal(engine.features.raw_matrix(patients[:50]), one_by_one[:50], equal_nan=True)  # per request
    assert np.array_equal(engine.features.raw_matrix(patients), one_by_one, equal_nan=True)  # columns of `Cases`


def test_the_garbage_collector_is_paused_only_for_the_call(engine, simulated, monkeypatch):
    """diagnose_many pauses CPython's collector while it builds a batch's answers: afterwards it is on again, also
    when the call fails, and a caller who had turned it off finds it still off."""
    seen: list[bool] = []

    def rank(requests, top=10):
        seen.append(gc.isenabled())
        raise RuntimeError("the rare-disease index broke")

    assert gc.isenabled()
    assert engine.diagnose_many(simulated[:40], next_findings=False)
    assert gc.isenabled()
    monkeypatch.setattr(engine.rare, "rank_batch", rank)
    with pytest.raises(RuntimeError, match="index broke"):
        engine.diagnose_many(simulated[:40], next_findings=False)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RuntimeError):
            engine.diagnose_many(simulated[:40], next_findings=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
