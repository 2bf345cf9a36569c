"""The simulator is reproducible, produces valid contract requests, and its noise is there."""

from __future__ import annotations

import collections

import numpy as np

from app.core.contract import validate_request
from model_export import knowledge
from model_export.simulator import Simulator, case_mix


def test_same_seed_same_patients_other_seed_others():
    kb = knowledge.load()
    a = Simulator(kb).sample(200, seed=5)
    b = Simulator(kb).sample(200, seed=5)
    c = Simulator(kb).sample(200, seed=6)
    assert a.requests == b.requests and list(a.condition) == list(b.condition)
    assert a.requests != c.requests


def test_every_patient_is_a_valid_request():
    kb = knowledge.load()
    vocabulary = kb.vocabulary()
    patients = Simulator(kb).sample(2000, seed=1)
    for r in patients.requests:
        validate_request(r, vocabulary)


def test_case_mix_and_noise():
    kb = knowledge.load()
    patients = Simulator(kb).sample(6000, seed=2)
    counts = collections.Counter(patients.condition)
    mix = case_mix(kb)
    for code, share in mix.items():
        assert abs(counts[code] / 6000 - share) < 0.02, code
    assert (patients.comorbidity != "").mean() > 0.05  # comorbidity noise
    missing_spo2 = np.mean(["spo2" not in r["vitals"] for r in patients.requests])
    assert 0.3 < missing_spo2 < 0.6  # vitals missing as in a rural clinic
    healthy = [r for r, c in zip(patients.requests, patients.condition, strict=True) if c == "Z00.0"]
    worst = np.array([max(r["symptoms"].values()) for r in healthy])
    assert len(healthy) > 300 and np.median(worst) <= 3 and np.mean(worst <= 6) > 0.95  # trivial complaints
    assert set(patients.state[patients.condition == "Z00.0"]) == {"NO_ENFERMO"}
    assert patients.critical.mean() > 0.05


def _patients(n: int = 6000, seed: int = 2):
    kb = knowledge.load()
    return kb, Simulator(kb).sample(n, seed=seed)


def test_infants_neonates_and_normal_for_age_vitals():
    kb, patients = _patients()
    ages = np.array([r["age"] for r in patients.requests])
    assert (ages < 1).mean() > 0.06 and (ages < 28 / 365.25).sum() > 20  # infants, with newborns among them
    neonatal = [r["age"] for r, c in zip(patients.requests, patients.condition, strict=True) if c == "P36"]
    assert neonatal and max(neonatal) <= 28 / 365.25 + 1e-3
    febrile = [r["age"] for r, c in zip(patients.requests, patients.condition, strict=True) if c == "R56.0"]
    assert febrile and min(febrile) >= 0.5 and max(febrile) < 5
    # Healthy infants breathe and beat at an infant's rate (Fleming 2011), not an adult's.
    hr = [r["vitals"]["heart_rate"] for r, c in zip(patients.requests, patients.condition, strict=True)
          if c == "Z00.0" and r["age"] < 1 and "heart_rate" in r["vitals"]]
    assert len(hr) > 20 and 120 <= np.median(hr) <= 150
    # Benign complaints keep normal vitals for age and are never "not ill".
    benign = {c.code for c in kb.conditions if c.benign}
    for r, c, s in zip(patients.requests, patients.condition, patients.state, strict=True):
        if c in benign:
            assert s != "NO_ENFERMO" and s != "ENFERMEDAD_AGUDA"
            hr_value = r["vitals"].get("heart_rate")
            if hr_value is not None:
                z = (hr_value - kb.vital("heart_rate").norm(r["age"])[0]) / kb.vital("heart_rate").norm(r["age"])[1]
                assert abs(z) < 5, (c, r)


def test_pregnancy_only_for_women_of_age_and_obstetric_cases_are_pregnant_or_postpartum():
    _, patients = _patients()
    statuses = collections.Counter()
    for r, c in zip(patients.requests, patients.condition, strict=True):
        p = r.get("pregnancy")
        if p is not None:
            assert r["sex"] == "F" and 10 <= r["age"] <= 60
            statuses[p["status"]] += 1
        if c in ("O14", "O15"):
            assert p is not None and p["status"] in ("pregnant", "postpartum")
            if p["status"] == "pregnant":
                assert p["weeks"] >= 20
        if c in ("O72", "O85"):
            assert p is not None and p["status"] == "postpartum" and 0 <= p["days_since_delivery"] <= 42
    # women with ordinary illnesses are sometimes pregnant too
    assert statuses["pregnant"] > 100 and statuses["not_pregnant"] > 100


def test_acute_patients_show_emergency_signs_and_others_rarely_do():
    _, patients = _patients()
    emergency = {"unable_to_drink_or_breastfeed", "vomits_everything", "convulsions_this_illness",
                 "lethargic_or_unconscious", "central_cyanosis", "cold_extremities", "weak_fast_pulse", "grunting"}

    def shows(r) -> bool:
        return bool(emergency & set(r.get("signs", ()))) or r.get("consciousness") in ("V", "P", "U")

    acute = np.array([shows(r) for r, s in zip(patients.requests, patients.critical, strict=True) if s])
    other = np.array([shows(r) for r, s in zip(patients.requests, patients.critical, strict=True) if not s])
    assert acute.mean() > 0.5 and other.mean() < 0.03


def test_unrecorded_vitals_are_drawn_without_changing_the_recorded_patients():
    """bench/next_findings.py asks for a vital the clinic skipped and needs the value a doctor would find: the
    simulator draws it from the same presentation, on a generator of its own, so the recorded patients stay the
    same and whether a vital was recorded still says nothing about the patient."""
    kb = knowledge.load()
    plain = Simulator(kb).sample(1500, seed=41)
    drawn = Simulator(kb, unrecorded_seed=7).sample(1500, seed=41)
    assert plain.requests == drawn.requests and list(plain.state) == list(drawn.state)
    assert plain.unrecorded == () and len(drawn.unrecorded) == len(drawn)
    keys = {v.key for v in kb.vitals}
    for request, hidden in zip(drawn.requests, drawn.unrecorded, strict=True):
        assert set(hidden).isdisjoint(request["vitals"]) and set(hidden) | set(request["vitals"]) == keys
        for key, value in hidden.items():
            low, high = kb.vital(key).plausible
            assert low <= value <= high
    # Acute patients' skipped SpO2 is as low as their recorded SpO2 (not the healthy value), and lower than others'.
    acute = drawn.state == "ENFERMEDAD_AGUDA"

    def mean_spo2(where: np.ndarray, recorded: bool) -> float:
        values = [(r["vitals"] if recorded else h).get("spo2") for r, h, w in
                  zip(drawn.requests, drawn.unrecorded, where, strict=True) if w]
        return float(np.mean([v for v in values if v is not None]))

    assert abs(mean_spo2(acute, False) - mean_spo2(acute, True)) < 1.5
    assert mean_spo2(acute, False) < mean_spo2(~acute, False) - 1.0
