"""next_findings offers a vital's values at the patient's own age (findings format 2).

An age band spans years over which weight, heart and breathing rates change a lot (5 to 17 years: 18 to 60 kg). With
the bundle's quantiles stored per band in absolute units, a 14-year-old with ear pain was told "With Weight at 13.5
kg, it would be an emergency": a 4-year-old's weight, which no doctor would take seriously and which cost a question.
The vitals with a healthy value by age are now stored as z-scores and read at the patient's age. Real bundle, real
engine, through `diagnose` as the CLI, the app and the service call it."""

from __future__ import annotations

import numpy as np

from app.core.engine import DiagnosisEngine
from app.core.finding_distributions import FINDINGS_FORMAT

EAR_PAIN = {"dolor_oido": 10, "irritabilidad": 8, "congestion_nasal": 6}


def vital_values(engine: DiagnosisEngine, age: float, key: str, symptoms: dict[str, int]) -> list[float]:
    request = engine.validate({"age": age, "sex": "M", "symptoms": symptoms})
    answer = engine.diagnose_many([request], next_findings=False)[0]
    state_p = answer["severity_probabilities"]
    cond_p = np.zeros(len(engine.condition_model.classes))
    for c in answer["top_conditions"]:
        cond_p[list(engine.condition_model.classes).index(c["code"])] = c["probability"]
    candidates = engine.next_findings.candidates(request, cond_p + 1e-9, state_p["ENFERMEDAD_AGUDA"], floor=0.0)
    return [value for c in candidates if c.finding == key for value, _ in c.values]


def test_the_bundle_stores_age_referenced_vitals_as_z_scores(engine: DiagnosisEngine) -> None:
    d = engine.next_findings.dist
    assert FINDINGS_FORMAT == 2 and engine.bundle.manifest["findings"]["format"] == 2
    by_key = dict(zip(d.vitals, range(len(d.vitals)), strict=True))
    for key in ("weight_kg", "heart_rate", "respiratory_rate", "systolic_bp"):
        assert d.reference_of(by_key[key]) is not None, key
    for key in ("temperature_c", "spo2", "glucose_mg_dl"):  # the same healthy value at every age
        assert d.reference_of(by_key[key]) is None, key


def test_a_14_year_old_is_never_offered_a_small_childs_weight(engine: DiagnosisEngine) -> None:
    teen = vital_values(engine, 14, "weight_kg", EAR_PAIN)
    five = vital_values(engine, 5, "weight_kg", EAR_PAIN)
    assert teen and five
    assert min(teen) >= 25.0, teen  # WHO: a 14-year-old's median is about 50 kg, -3 SD above 30
    assert max(five) <= 35.0, five  # and a 5-year-old's about 18 kg
    answer = engine.diagnose({"age": 14, "sex": "M", "symptoms": EAR_PAIN})
    for item in answer["next_findings"]:
        assert "13.5 kg" not in item["why"]["en"], item


def test_breathing_rates_follow_the_age_within_a_band(engine: DiagnosisEngine) -> None:
    # One band (5-17 years), two ages: the breathing rates offered are the age's, not the band's.
    younger = vital_values(engine, 5, "respiratory_rate", EAR_PAIN)
    older = vital_values(engine, 16, "respiratory_rate", EAR_PAIN)
    assert younger and older
    assert np.median(younger) > np.median(older)
