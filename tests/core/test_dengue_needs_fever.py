"""Dengue's warning signs need an illness with fever, and a restless, irritable patient is seen before the queue.

Found by entering patients in the app: a 6-year-old with diarrhoea, vomiting and restlessness, no fever reported and
37.9 °C, was called an emergency for "dengue warning signs": WHO 2009 probable dengue is fever and two criteria,
and the rule counted the two criteria alone. WHO ETAT's priority signs include "restless, continuously irritable",
which no rule read. Both rules are checked in their one-request and batch forms, through the engine."""

from __future__ import annotations

from app.core import red_flags
from app.core.cases import Cases

GASTROENTERITIS = {"age": 6, "sex": "M", "duration_days": 2,
                   "symptoms": {"diarrea": 8, "vomito": 7, "dolor_abdominal": 4},
                   "vitals": {"temperature_c": 37.9}, "signs": ["sunken_eyes", "skin_pinch_slow", "restless_irritable"]}
# Day 5 of a febrile illness, the fever falling (37.2 °C now), with aches, abdominal pain and vomiting.
DENGUE_CRITICAL_PHASE = {"age": 25, "sex": "M", "duration_days": 5,
                         "symptoms": {"fiebre": 5, "dolor_muscular": 6, "dolor_abdominal": 7, "vomito": 6},
                         "vitals": {"temperature_c": 37.2}}


def _fired(engine, raw: dict) -> set[str]:
    request = engine.validate(raw)
    one = {rule.code for rule in red_flags.RULES if rule.applies(request)}
    batch = red_flags.evaluate_batch(Cases([request] * 40))  # the array form, as a service batch evaluates it
    assert all({red_flags.CODES[j] for j in row.nonzero()[0]} == one for row in batch)
    return one


def test_no_dengue_warning_without_any_fever(engine) -> None:
    fired = _fired(engine, GASTROENTERITIS)
    assert "DENGUE_WARNING_SIGNS" not in fired
    assert "RESTLESS_IRRITABLE" in fired
    answer = engine.diagnose(GASTROENTERITIS)
    assert "DENGUE_WARNING_SIGNS" not in {flag["code"] for flag in answer["red_flags"]}
    assert answer["triage"]["level"] in ("PRIORITARIO", "EMERGENCIA")  # never the queue with restlessness


def test_the_same_child_with_a_reported_fever_has_probable_dengue(engine) -> None:
    febrile = {**GASTROENTERITIS, "symptoms": {**GASTROENTERITIS["symptoms"], "fiebre": 6}}
    assert "DENGUE_WARNING_SIGNS" in _fired(engine, febrile)


def test_a_falling_fever_keeps_the_warning_signs(engine) -> None:
    assert "DENGUE_WARNING_SIGNS" in _fired(engine, DENGUE_CRITICAL_PHASE)
    without_fever = {**DENGUE_CRITICAL_PHASE, "symptoms": {k: v for k, v in DENGUE_CRITICAL_PHASE["symptoms"].items()
                                                         if k != "fiebre"}}
    assert "DENGUE_WARNING_SIGNS" not in _fired(engine, without_fever)
    measured = {**without_fever, "vitals": {"temperature_c": 38.4}}
    assert "DENGUE_WARNING_SIGNS" in _fired(engine, measured)


def test_restlessness_alone_is_seen_before_the_queue(engine) -> None:
    calm = {"age": 30, "sex": "F", "duration_days": 2, "symptoms": {"diarrea": 4, "nausea": 2, "fatiga": 2},
            "pregnancy": {"status": "not_pregnant"}}
    assert engine.diagnose(calm)["triage"]["level"] == "NO_URGENTE"
    restless = engine.diagnose({**calm, "signs": ["restless_irritable"]})
    assert restless["triage"]["level"] == "PRIORITARIO"
    assert "RESTLESS_IRRITABLE" in {r["code"] for r in restless["triage"]["reasons"]}
