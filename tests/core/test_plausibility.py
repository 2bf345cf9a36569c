"""A child's weight that WHO would flag as implausible for the age (weight-for-age z below -6 or above +5, under
5 years) is named for the doctor to check; nothing else is, and nothing is refused. Real bundle, real z-scores."""

from __future__ import annotations

from app.core.engine import DiagnosisEngine
from app.core.features import FeatureSchema
from app.core.plausibility import unlikely_values

FOURTEEN_MONTHS = 14 / 12


def test_a_toddler_of_40_kg_is_named_with_the_usual_range(engine: DiagnosisEngine) -> None:
    [found] = unlikely_values(engine.features, FOURTEEN_MONTHS, {"weight_kg": 40.0})
    assert found.key == "weight_kg" and found.z > 5
    low, high = found.usual
    assert 7 < low < 9 and 11 < high < 13.5  # around WHO's 10 kg at 14 months
    assert found.message()["es"].startswith("Revise el peso: 40 kg")
    assert "1,4" in unlikely_values(engine.features, 3.0, {"weight_kg": 1.4})[0].message()["es"]  # decimal comma
    assert found.message()["en"].startswith("Check the weight: 40 kg")


def test_possible_weights_ages_and_adults_are_left_alone(engine: DiagnosisEngine) -> None:
    for age, weight in ((FOURTEEN_MONTHS, 10.4), (FOURTEEN_MONTHS, 13.5), (0.0, 3.3), (4.9, 14.0), (9.9, 60.0)):
        assert unlikely_values(engine.features, age, {"weight_kg": weight}) == [], (age, weight)
    assert unlikely_values(engine.features, 12.0, {"weight_kg": 200.0}) == []  # from 5 years: no flag
    assert unlikely_values(engine.features, None, {"weight_kg": 40.0}) == []  # age not typed yet
    assert unlikely_values(engine.features, FOURTEEN_MONTHS, {"temperature_c": 39.0}) == []


def test_the_flags_are_whos_z_limits(engine: DiagnosisEngine) -> None:
    spec = next(s for s in engine.features.specs if s.name == "weight_kg")
    ages, medians, sds = spec._reference_arrays()
    age = 3.0
    median, sd = float(medians[ages == age][0]), float(sds[ages == age][0])
    assert unlikely_values(engine.features, age, {"weight_kg": median + 4.99 * sd}) == []
    assert unlikely_values(engine.features, age, {"weight_kg": median + 5.01 * sd})
    assert unlikely_values(engine.features, age, {"weight_kg": median - 5.99 * sd}) == []
    assert unlikely_values(engine.features, age, {"weight_kg": median - 6.01 * sd})


def test_a_bundle_whose_models_do_not_read_weight_for_age_flags_nothing(engine: DiagnosisEngine) -> None:
    older = FeatureSchema(tuple(s for s in engine.features.specs if s.name != "weight_kg"))
    assert unlikely_values(older, FOURTEEN_MONTHS, {"weight_kg": 40.0}) == []
