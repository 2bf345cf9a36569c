"""A normal vital and the triage, through `vereda diagnose` as a clinic's script runs it (issue 19; decision in
docs/architecture.md, "A normal vital and a model-raised emergency").

A danger-sign emergency is never lowered by a normal measurement: the rules only raise. The model's own emergency
(`MODEL_HIGH_RISK`) is an estimate that a normal measurement may lower; the second test pins the documented example
so a change of that decision, or of the bundle's behaviour on it, cannot go unnoticed by the document.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

RULE_EMERGENCY = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}
# The documented example (bench/normal_vitals.py, seed 23): chest pain with breathlessness, an acute coronary syndrome.
MODEL_EMERGENCY = {"age": 47, "sex": "F", "duration_days": 0.2,
                   "symptoms": {"dolor_pecho": 6, "dificultad_respirar": 6, "dolor_abdominal": 3}}


def diagnose(request: dict[str, Any]) -> dict[str, Any]:
    p = subprocess.run([sys.executable, "-m", "app.cli", "diagnose", "--input", "-", "--no-next-findings"],
                       input=json.dumps(request), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def with_spo2(request: dict[str, Any], spo2: float) -> dict[str, Any]:
    return {**request, "vitals": {**request.get("vitals", {}), "spo2": spo2}}


def test_a_normal_spo2_added_to_a_danger_sign_emergency_keeps_it_an_emergency() -> None:
    before = diagnose(RULE_EMERGENCY)
    after = diagnose(with_spo2(RULE_EMERGENCY, 98))
    rules = {r["code"] for r in before["triage"]["reasons"]} - {"MODEL_HIGH_RISK"}
    assert before["triage"]["level"] == "EMERGENCIA" and rules  # raised by danger-sign rules, not only the model
    assert after["triage"]["level"] == "EMERGENCIA" and after["requires_immediate_attention"] is True
    assert rules <= {r["code"] for r in after["triage"]["reasons"]}  # the same rules still say why


def test_a_normal_spo2_may_lower_an_emergency_only_the_models_risk_raised() -> None:
    before = diagnose(MODEL_EMERGENCY)
    after = diagnose(with_spo2(MODEL_EMERGENCY, 97))
    assert before["triage"]["level"] == "EMERGENCIA"
    assert [r["code"] for r in before["triage"]["reasons"]] == ["MODEL_HIGH_RISK"]  # no danger sign fired
    assert after["triage"]["level"] != "EMERGENCIA"
    assert after["severity_probabilities"]["ENFERMEDAD_AGUDA"] < before["severity_probabilities"]["ENFERMEDAD_AGUDA"]
    assert not [f for f in after["red_flags"] if f["level"] == "EMERGENCIA"]
