"""Conditions whose likely diagnosis asks for PRIORITARIO by itself (app/core/priority_conditions.py), through the
engine a doctor's request goes through: the level, the reason the screens show, and what it never does (lower a
level, change the state, count a condition outside the ages its guideline covers)."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import priority_conditions
from app.core.finding_distributions import age_band, age_bands
from app.core.priority_conditions import BANDS, CODE, PriorityConditions, parse
from model_export.knowledge import AGE_BANDS

MEASLES = "B05"
DENGUE = "A97"  # listed for infants and people of 65 or more only
# A girl of 6 with fever, a rash, cough, red eyes and a runny nose for 3 days: measles, no priority sign.
RASH_CHILD = {"age": 6, "sex": "F", "duration_days": 3,
              "symptoms": {"fiebre": 8, "erupcion_cutanea": 8, "tos": 6, "ojos_rojos": 6, "congestion_nasal": 4}}
# Fever, aches, headache and pain behind the eyes for 3 days: dengue without warning signs.
DENGUE_LIKE = {"sex": "M", "duration_days": 3, "symptoms": {"fiebre": 8, "dolor_muscular": 7, "dolor_cabeza": 7,
                                                            "dolor_retroocular": 6, "erupcion_cutanea": 3}}


def test_the_list_is_well_formed_and_names_conditions_the_model_knows(engine) -> None:
    listed = priority_conditions.listed()
    assert BANDS == AGE_BANDS  # the knowledge base's bands, in its order
    classes = set(engine.condition_model.classes)
    assert len(listed) >= 10
    for c in listed:
        assert c.code in classes, c.code
        # A critical condition is an emergency already: listing it here could only confuse the reasons.
        assert not engine.vocabulary.condition(c.code).critical, c.code
        assert c.source.strip() and c.reason["es"] != c.reason["en"]
        assert len(c.reason["es"]) <= 130 and len(c.reason["en"]) <= 130  # read on screen, under the level


@pytest.mark.parametrize(("entry", "fault"), [
    ({"bands": ["adult"], "reason": {"es": "a", "en": "b"}, "source": "s"}, "'code'"),
    ({"code": "B05", "bands": ["adults"], "reason": {"es": "a", "en": "b"}, "source": "s"}, "'bands'"),
    ({"code": "B05", "bands": ["adult"], "reason": {"es": "a"}, "source": "s"}, "es and en"),
    ({"code": "B05", "bands": ["adult"], "reason": {"es": "a", "en": "b"}}, "'source'"),
])
def test_a_bad_entry_is_refused_with_its_place_and_fault(entry, fault) -> None:
    with pytest.raises(ValueError, match=fault) as error:
        parse({"condition": [entry]})
    assert "condition 1" in str(error.value)


def test_bands_of_ages_are_the_knowledge_base_bands() -> None:
    ages = np.array([0.0, 0.014, 0.99, 1.0, 4.99, 5.0, 17.9, 18.0, 64.9, 65.0, 102.0])
    assert age_bands(ages).tolist() == [age_band(a) for a in ages.tolist()]


def test_likely_measles_is_seen_before_the_queue_with_what_to_do_today(engine) -> None:
    answer = engine.diagnose(RASH_CHILD)
    assert answer["top_conditions"][0]["code"] == MEASLES
    assert answer["triage"]["level"] == "PRIORITARIO"
    reason = answer["triage"]["reasons"][-1]
    assert reason["code"] == CODE
    assert reason["message"]["es"].startswith("Posible sarampión: aislar de la sala de espera")
    assert reason["message"]["en"].startswith("Possible measles")
    # The level is raised, the state is the model's own (only EMERGENCIA is tied to ENFERMEDAD_AGUDA).
    assert answer["severity"] != "ENFERMEDAD_AGUDA" and not answer["requires_immediate_attention"]
    assert not any(flag["code"] == CODE for flag in answer["red_flags"])  # a reason, not a danger sign


def test_the_same_patient_without_the_list_would_wait_in_the_queue(engine) -> None:
    without = PriorityConditions(tuple(engine.condition_model.classes), ())
    kept = engine.priority
    engine.priority = without
    try:
        answer = engine.diagnose(RASH_CHILD)
    finally:
        engine.priority = kept
    assert answer["top_conditions"][0]["code"] == MEASLES
    assert answer["triage"]["level"] == "NO_URGENTE"


def test_a_condition_counts_only_in_the_ages_its_guideline_covers(engine) -> None:
    adult = engine.diagnose({**DENGUE_LIKE, "age": 30})
    older = engine.diagnose({**DENGUE_LIKE, "age": 70})
    assert adult["top_conditions"][0]["code"] == DENGUE == older["top_conditions"][0]["code"]
    assert adult["triage"]["level"] == "NO_URGENTE"  # PAHO group A: home care with warnings
    assert older["triage"]["level"] == "PRIORITARIO"  # group B: refer today
    assert older["triage"]["reasons"][-1]["message"]["es"].startswith("Dengue en menor de 1 año o de 65 años")


def test_an_emergency_stays_an_emergency_and_keeps_only_its_own_reasons(engine) -> None:
    convulsing = {**RASH_CHILD, "duration_days": 1, "consciousness": "U"}
    answer = engine.diagnose(convulsing)
    assert answer["triage"]["level"] == "EMERGENCIA"
    assert CODE not in {r["code"] for r in answer["triage"]["reasons"]}


def test_the_batch_and_one_request_give_the_same_levels_and_reasons(engine) -> None:
    requests = [engine.validate({**RASH_CHILD, "age": age}) for age in (0.5, 3, 6, 30, 80)] + [
        engine.validate({**DENGUE_LIKE, "age": age}) for age in (0.5, 3, 30, 70)]
    together = engine.diagnose_many(requests * 4, next_findings=False)  # 36: the vectorised rules too
    for request, answer in zip(requests * 4, together, strict=True):
        alone = engine.diagnose(request, next_findings=False)
        assert answer["triage"] == alone["triage"]


def test_the_listed_conditions_add_up_with_the_most_likely_ones_reason() -> None:
    table = PriorityConditions(("A", "B", "C"), parse({"condition": [
        {"code": "A", "bands": ["adult"], "reason": {"es": "a", "en": "a"}, "source": "s"},
        {"code": "C", "bands": ["adult", "older"], "reason": {"es": "c", "en": "c"}, "source": "s"},
    ]}))
    p = np.array([[0.3, 0.4, 0.3], [0.2, 0.4, 0.4], [0.3, 0.4, 0.3]])
    hit, which = table.of(p, np.array([40.0, 40.0, 70.0]))
    assert hit.tolist() == [True, True, False]  # 0.3 + 0.3; 0.2 + 0.4; in the older band only C counts
    assert which[:2].tolist() == [0, 2]  # a tie goes to the first class, as argmax
    assert table.reason(2) == {"code": CODE, "message": {"es": "c", "en": "c"}}
