"""Moderate chest pain with breathlessness, sweating, nausea or vomiting in an adult is never a routine visit
(NICE CG95: features that suggest an acute coronary syndrome). Found along issue 19's work: a 47-year-old woman with
chest pain 6/10 and breathlessness 6/10 for 5 hours fell to NO URGENTE once a normal SpO2 was entered, because only
the model's risk had held her up. The real engine, one case and batch paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from app.core.engine import DiagnosisEngine

WOMAN_47 = {"age": 47, "sex": "F", "duration_days": 0.2,
            "symptoms": {"dolor_pecho": 6, "dificultad_respirar": 6, "dolor_abdominal": 4}}


def _codes(answer: Mapping[str, Any]) -> list[str]:
    """Every rule that fired, at any level (the triage's reasons list only those of its own level: with the model
    at EMERGENCIA, this PRIORITARIO floor is among the other warning signs)."""
    return [r["code"] for r in answer["red_flags"]]


@pytest.mark.parametrize("vitals", [{}, {"spo2": 97}, {"spo2": 97, "heart_rate": 78, "respiratory_rate": 16,
                                                       "systolic_bp": 124, "temperature_c": 36.8}])
def test_chest_pain_with_breathlessness_is_never_no_urgente_even_with_normal_vitals(
        engine: DiagnosisEngine, vitals: dict[str, float]) -> None:
    request = {**WOMAN_47, "vitals": vitals}
    one = engine.diagnose(request, next_findings=False)
    assert one["triage"]["level"] in ("PRIORITARIO", "EMERGENCIA"), one["triage"]
    assert "CHEST_PAIN_ASSESS" in _codes(one)
    # The batch path (the service, batch files) says the same, among other patients.
    others = [{"age": 30, "sex": "M", "symptoms": {"tos": 3, "fiebre": 3, "dolor_garganta": 2}}] * 40
    batch = engine.diagnose_many([engine.validate(r) for r in [*others, request]], next_findings=False)
    assert batch[-1]["triage"] == one["triage"]


@pytest.mark.parametrize("change", [
    {"age": 15},  # a child: NICE CG95 is for adults
    {"duration_days": 5},  # more than 72 hours ago: NICE CG95's same-day window is over
    {"symptoms": {"dolor_pecho": 2, "dificultad_respirar": 6, "dolor_abdominal": 4}},  # a passing mention
    {"symptoms": {"dolor_pecho": 6, "dificultad_respirar": 2, "dolor_abdominal": 4}},  # no associated feature
])
def test_the_rule_keeps_to_its_source(engine: DiagnosisEngine, change: dict[str, Any]) -> None:
    answer = engine.diagnose({**WOMAN_47, **change, "vitals": {"spo2": 97}}, next_findings=False)
    assert "CHEST_PAIN_ASSESS" not in _codes(answer)


@pytest.mark.parametrize("feature", ["sudoracion", "nausea", "vomito"])
def test_each_associated_feature_counts(engine: DiagnosisEngine, feature: str) -> None:
    request = {"age": 62, "sex": "M", "duration_days": 1, "symptoms": {"dolor_pecho": 4, feature: 3, "fatiga": 3}}
    assert "CHEST_PAIN_ASSESS" in _codes(engine.diagnose(request, next_findings=False))
