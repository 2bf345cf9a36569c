"""A febrile infant with a bulging fontanelle is a suspected meningitis: EMERGENCIA, whatever the model says.

NICE NG143 (fever in under 5s) counts a bulging fontanelle as a red feature and NICE NG240 lists it among the signs
of bacterial meningitis in babies (urgent transfer). Before, only the young-infant rule (under 2 months) read the
sign, so a 6-month-old with fever and a bulging fontanelle was NO URGENTE with otitis media on top. The same rule
as neck stiffness with fever (MENINGISM), through the engine's one-case and batch paths, as the CLI, the app and
the service call them.
"""

from __future__ import annotations

import pytest

from app.core.engine import DiagnosisEngine


def infant(age: float, signs: list[str], fever: int = 5) -> dict:
    symptoms = {"irritabilidad": 4, "tos": 2, "rechazo_alimento": 3}
    if fever:
        symptoms["fiebre"] = fever
    return {"age": age, "sex": "F", "symptoms": symptoms, "vitals": {}, "signs": signs}


def reasons(answer: dict) -> set[str]:
    return {r["code"] for r in answer["triage"]["reasons"]}


@pytest.mark.parametrize("age", [0.5, 0.75, 14 / 12, 1.9])
def test_fever_with_a_bulging_fontanelle_is_an_emergency(engine: DiagnosisEngine, age: float) -> None:
    without = engine.diagnose(infant(age, []), next_findings=False)
    assert "MENINGISM" not in reasons(without)
    answer = engine.diagnose(infant(age, ["bulging_fontanelle"]), next_findings=False)
    assert answer["triage"]["level"] == "EMERGENCIA"
    assert "MENINGISM" in reasons(answer)
    assert answer["severity"] == "ENFERMEDAD_AGUDA" and answer["requires_immediate_attention"]
    message = next(r["message"] for r in answer["triage"]["reasons"] if r["code"] == "MENINGISM")
    assert "fontanela" in message["es"] and "fontanelle" in message["en"]


def test_without_fever_the_sign_alone_does_not_fire_the_meningitis_rule(engine: DiagnosisEngine) -> None:
    # NG143 is about febrile children; a bulging fontanelle without fever is left to the model and the doctor.
    answer = engine.diagnose(infant(0.5, ["bulging_fontanelle"], fever=0), next_findings=False)
    assert "MENINGISM" not in {f["code"] for f in answer["red_flags"]}


def test_the_batch_path_gives_the_same_answer(engine: DiagnosisEngine) -> None:
    raws = [infant(a, s) for a in (0.5, 1.0, 1.9) for s in ([], ["bulging_fontanelle"])]
    one = [engine.diagnose(r, next_findings=False) for r in raws]
    many = engine.diagnose_many([engine.validate(r) for r in raws], next_findings=False)
    assert [a["triage"] for a in one] == [a["triage"] for a in many]
    assert [reasons(a) for a in many] == [set(), {"MENINGISM"}] * 3
