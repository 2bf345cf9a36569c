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
