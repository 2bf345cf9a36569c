"""The diagnose contract rejects anything unexpected with an error naming the field, and accepts the rest."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.contract import ContractError, validate_request


def base(**over: Any) -> dict[str, Any]:
    req: dict[str, Any] = {"age": 45, "sex": "F", "duration_days": 3,
                           "symptoms": {"fiebre": 8, "dolor_cabeza": 6, "tos": 4},
                           "vitals": {"temperature_c": 39.1, "spo2": 95}}
    req.update(over)
    return req


def error_of(raw: Any, vocabulary) -> ContractError:
    with pytest.raises(ContractError) as info:
        validate_request(raw, vocabulary)
    return info.value


def test_valid_request_is_normalised(engine):
    req = validate_request(base(symptoms={"Fiebre": 8, "DOLOR_CABEZA": 6, "Tos": 4}, sex="f"), engine.vocabulary)
    assert req.sex == "F"
    assert req.symptoms == {"fiebre": 8, "dolor_cabeza": 6, "tos": 4}
    assert req.vitals == {"temperature_c": 39.1, "spo2": 95.0}
    assert req.duration_days == 3.0


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ([1, 2], "not_an_object", None),
        ({"sex": "F", "symptoms": {"fiebre": 1, "tos": 1, "nausea": 1}}, "missing_field", "age"),
        (base(weight=70), "unknown_field", "weight"),
        (base(age=121), "out_of_range", "age"),
        (base(age=-1), "out_of_range", "age"),
        (base(age="45"), "wrong_type", "age"),
        (base(age=True), "wrong_type", "age"),
        (base(age=float("nan")), "wrong_type", "age"),
        (base(sex="X"), "invalid_sex", "sex"),
        (base(sex=1), "wrong_type", "sex"),
        (base(duration_days=4000), "out_of_range", "duration_days"),
        (base(symptoms={"fiebre": 8, "tos": 4, "dolor_de_todo": 3}), "unknown_symptom", "symptoms.dolor_de_todo"),
        (base(symptoms={"fiebre": 11, "tos": 4, "nausea": 3}), "out_of_range", "symptoms.fiebre"),
        (base(symptoms={"fiebre": 7.5, "tos": 4, "nausea": 3}), "wrong_type", "symptoms.fiebre"),
        (base(symptoms={"fiebre": "8", "tos": 4, "nausea": 3}), "wrong_type", "symptoms.fiebre"),
        (base(symptoms={"fiebre": 8, "Fiebre": 4, "nausea": 3}), "duplicate_symptom", "symptoms.Fiebre"),
        (base(symptoms=["fiebre"]), "wrong_type", "symptoms"),
        (base(vitals={"spo2": 101}), "out_of_range", "vitals.spo2"),
        (base(vitals={"temperature_c": 391}), "out_of_range", "vitals.temperature_c"),
        (base(vitals={"pulse": 80}), "unknown_vital", "vitals.pulse"),
        (base(vitals={"heart_rate": "80"}), "wrong_type", "vitals.heart_rate"),
        (base(vitals={"systolic_bp": 80, "diastolic_bp": 90}), "inconsistent_bp", "vitals.diastolic_bp"),
        (base(hpo_terms=["HP:12"]), "invalid_hpo_term", "hpo_terms[0]"),
        (base(hpo_terms="HP:0001250"), "wrong_type", "hpo_terms"),
        (base(symptoms={"fiebre": 8, "tos": 4}), "too_few_findings", "symptoms"),
        (base(symptoms={"fiebre": 8, "tos": 4, "nausea": 0}), "too_few_findings", "symptoms"),
    ],
)
def test_rejections_name_the_field(engine, raw, code, field):
    err = error_of(raw, engine.vocabulary)
    assert (err.code, err.field) == (code, field)
    es, en = err.message("es"), err.message("en")
    assert es and en and es != en
    assert err.to_json("en") == {"error": {"code": code, "field": field, "message": en}}


def test_hpo_terms_count_as_findings_but_not_twice(engine):
    fever_hpo = engine.vocabulary.symptom("fiebre").hpo
    ok = validate_request(base(symptoms={}, hpo_terms=["HP:0001250", "HP:0001166", "HP:0000098"]), engine.vocabulary)
    assert ok.hpo_terms == ("HP:0001250", "HP:0001166", "HP:0000098")
    err = error_of(base(symptoms={"fiebre": 5, "tos": 2}, hpo_terms=[fever_hpo]), engine.vocabulary)
    assert err.code == "too_few_findings"


def test_null_vitals_mean_not_measured(engine):
    req = validate_request(base(vitals={"spo2": None, "heart_rate": 90}, duration_days=None), engine.vocabulary)
    assert req.vitals == {"heart_rate": 90.0}
    assert req.duration_days is None
