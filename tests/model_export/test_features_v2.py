"""Contract v2 model inputs: vitals read relative to age, signs, pregnancy and AVPU; old bundles' schemas still load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.core.contract import validate_request
from app.core.features import FeatureSchema
from model_export import knowledge
from model_export.train import default_schema

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def setup():
    kb = knowledge.load()
    vocabulary = kb.vocabulary()
    return vocabulary, default_schema(vocabulary, kb)


def _raw(setup, request: dict) -> dict[str, float]:
    vocabulary, schema = setup
    return dict(zip(schema.raw_names, schema.raw_vector(validate_request(request, vocabulary)), strict=True))


def test_heart_and_breathing_rates_are_read_relative_to_age(setup):
    base = {"sex": "M", "symptoms": {"tos": 3, "congestion_nasal": 3, "fiebre": 2}}
    baby = _raw(setup, {**base, "age": 0.5, "vitals": {"heart_rate": 140, "respiratory_rate": 42}})
    assert abs(baby["heart_rate"]) < 1 and abs(baby["respiratory_rate"]) < 1  # normal for 6 months (Fleming 2011)
    slow = _raw(setup, {**base, "age": 0.5, "vitals": {"heart_rate": 55}})
    assert slow["heart_rate"] < -3.2  # far below the 1st centile: the lowest band
    adult = _raw(setup, {**base, "age": 40, "vitals": {"heart_rate": 140, "respiratory_rate": 42}})
    assert adult["heart_rate"] > 5 and adult["respiratory_rate"] > 5  # the same numbers are extreme in an adult


def test_signs_pregnancy_and_avpu(setup):
    r = _raw(setup, {"age": 28, "sex": "F", "symptoms": {"dolor_cabeza": 8, "cambios_vision": 5},
                     "signs": ["bilateral_pitting_oedema"], "consciousness": "V",
                     "pregnancy": {"status": "pregnant", "weeks": 34},
                     "vitals": {"muac_mm": 110, "capillary_refill_s": 3.5}})
    assert r["bilateral_pitting_oedema"] == 1 and r["chest_indrawing"] == 0
    assert r["pregnancy_weeks"] == 34 and np.isnan(r["postpartum_days"])
    assert r["pregnancy_status"] == 3 and r["consciousness"] == 1
    v1 = _raw(setup, {"age": 28, "sex": "F", "symptoms": {"dolor_cabeza": 8, "cambios_vision": 5, "fiebre": 3}})
    assert v1["pregnancy_status"] == 0 and np.isnan(v1["consciousness"]) and np.isnan(v1["heart_rate"])


def test_each_expanded_column_depends_on_one_raw_input(setup):
    _, schema = setup
    assert len(schema.groups) == schema.n_expanded and schema.groups.max() == schema.n_raw - 1
    spec_json = schema.to_json()
    assert FeatureSchema.from_json(spec_json).to_json() == spec_json


def test_a_contract_v1_bundle_schema_still_loads_and_runs(setup):
    """The schema of the bundle shipped before issue 12 (kinds age, sex, duration, symptom, vital only)."""
    vocabulary, _ = setup
    old = FeatureSchema.from_json(json.loads((FIXTURES / "features_v1.json").read_text(encoding="utf-8")))
    assert old.to_json() == json.loads((FIXTURES / "features_v1.json").read_text(encoding="utf-8"))
    request = validate_request({"age": 0.5, "sex": "F", "symptoms": {"tos": 3, "fiebre": 4, "congestion_nasal": 2},
                                "signs": ["chest_indrawing"], "vitals": {"heart_rate": 150, "muac_mm": 120}},
                               vocabulary)
    x = old.expand(old.raw_matrix([request] * 10))
    assert x.shape == (10, old.n_expanded) and np.all(x.sum(axis=1) > 0)
