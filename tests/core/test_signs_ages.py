"""The ages each examination sign applies to (app/core/data/signs.toml, read by app/core/signs.py).

The ages choose what the checklist offers and what `next_findings` proposes; they never refuse a request nor
silence a danger-sign rule. So: the file's ranges are checked on load, `next_findings` never proposes a sign outside
them, and a sign given outside them is still accepted and still fires its rule.
"""

from __future__ import annotations

import copy
import math
import tomllib
from typing import Any

import pytest

from app.core import red_flags
from app.core.engine import DiagnosisEngine
from app.core.probability import softmax
from app.core.signs import SIGNS_FILE, SignVocabulary, parse, signs
from model_export import knowledge
from model_export.simulator import Simulator

ONE_MONTH = 1 / 12
YOUNG_INFANT = ("movement_only_when_stimulated", "umbilicus_red_or_pus", "skin_pustules")
# Signs of a children's source that an old adult is not offered (the examples and IMCI's sick child).
PAEDIATRIC = (*YOUNG_INFANT, "unable_to_drink_or_breastfeed", "vomits_everything", "chest_indrawing",
              "nasal_flaring", "grunting", "bilateral_pitting_oedema", "bulging_fontanelle")
# Children's sources, but as meaningful in an adult: kept for every age.
EVERY_AGE = ("convulsions_this_illness", "lethargic_or_unconscious", "stridor", "central_cyanosis",
             "cold_extremities", "weak_fast_pulse", "non_blanching_rash", "mucosal_bleeding", "fang_marks",
             "pinpoint_pupils", "severe_palmar_pallor", "sunken_eyes", "severe_dehydration")


def _data() -> dict[str, Any]:
    return tomllib.loads(SIGNS_FILE.read_text(encoding="utf-8"))


def _with(code: str, **changes: Any) -> dict[str, Any]:
    """signs.toml's content with one sign's fields changed (None removes the field)."""
    data = copy.deepcopy(_data())
    sign = next(s for s in data["sign"] if s["code"] == code)
    for key, value in changes.items():
        if value is None:
            sign.pop(key, None)
        else:
            sign[key] = value
    return data


# --- the file -------------------------------------------------------------------------------------------------------

def test_every_sign_says_its_ages_and_keeps_its_source() -> None:
    for raw in _data()["sign"]:
        assert "ages" in raw, raw["code"]
        assert raw["source"].strip(), raw["code"]
    vocabulary = signs()
    for sign in vocabulary.signs:
        assert 0.0 <= sign.min_age < sign.below_age, sign.code
        # A children's source kept for every age says so (the issue: "say so and keep it for all ages").
        if sign.every_age and any(w in sign.source for w in ("IMCI", "ETAT", "children", "under 5s")):
            assert "every age" in sign.ages_note, sign.code


def test_the_sources_ranges() -> None:
    v = signs()
    for code in YOUNG_INFANT:  # IMCI's young infant: birth up to 2 months
        assert (v.sign(code).min_age, v.sign(code).below_age) == (0.0, 2 / 12), code
    assert v.sign("unable_to_drink_or_breastfeed").below_age == 5.0  # IMCI's sick child: up to 5 years
    for code in EVERY_AGE:
        assert v.sign(code).every_age, code
    # Boundaries as the rules count them (`months < 2`): 2 months exactly is no longer a young infant.
    assert v.applies("umbilicus_red_or_pus", 59 / 365.25)
    assert not v.applies("umbilicus_red_or_pus", 2 / 12)
    assert v.applies("unable_to_drink_or_breastfeed", 4.99) and not v.applies("unable_to_drink_or_breastfeed", 5)
    assert {s.code for s in v.for_age(None)} == v.codes  # age not given yet: nothing is hidden


def test_a_bulging_fontanelle_is_looked_for_while_the_fontanelle_is_open() -> None:
    # An outside vignette (tests/core/vignettes.toml) is a febrile 14-month-old with a bulging fontanelle, a NICE
    # NG143 red feature: the sign was offered under 2 months only, so the doctor could not tick it.
    v = signs()
    assert v.applies("bulging_fontanelle", ONE_MONTH)
    assert v.applies("bulging_fontanelle", 14 / 12)
    assert not v.applies("bulging_fontanelle", 2.0)  # closed by 2 years in nearly all children
    assert v.sign("bulging_fontanelle").group != "young_infant"  # not under "Young infant (under 2 months)"


def test_a_78_year_old_and_a_1_month_old() -> None:
    v = signs()
    old = {s.code for s in v.for_age(78)}
    infant = {s.code for s in v.for_age(ONE_MONTH)}
    assert not old & set(PAEDIATRIC)
    assert set(EVERY_AGE) <= old
    assert set(PAEDIATRIC) <= infant and set(EVERY_AGE) <= infant


@pytest.mark.parametrize(("ages", "message"), [
    (None, "has no ages"),
    ("children", "must be \"all\" or a table"),
    ({}, "must be \"all\" or a table"),
    ({"from": "2 months", "to": "5 years"}, "unknown keys ['to']"),
    ({"below": "5 yrs"}, "ages.below must be an age such as"),
    ({"from": 2}, "ages.from must be an age such as"),
    ({"from": "-1 days"}, "ages.from must be an age such as"),
    ({"from": "5 years", "below": "2 months"}, "must be younger than below"),
    ({"from": "2 months", "below": "2 months"}, "must be younger than below"),
    ({"below": "130 years"}, "outside the contract's ages 0-120"),
    ({"from": "121 years"}, "outside the contract's ages 0-120"),
])
def test_a_wrong_range_is_refused_on_load_naming_the_sign(ages: Any, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse(_with("grunting", ages=ages))
    assert "signs.toml" in str(error.value) and "'grunting'" in str(error.value)
    assert message in str(error.value)


def test_a_right_range_in_each_unit_is_read_in_contract_years() -> None:
    v = parse(_with("grunting", ages={"from": "28 days", "below": "18 months"}))
    assert math.isclose(v.sign("grunting").min_age, 28 / 365.25)
    assert math.isclose(v.sign("grunting").below_age, 1.5)
    v = parse(_with("grunting", ages={"from": "1 year"}))
    assert (v.sign("grunting").min_age, v.sign("grunting").below_age) == (1.0, math.inf)
    assert isinstance(v, SignVocabulary)
    with pytest.raises(ValueError, match="ages_note must be text"):
        parse(_with("grunting", ages_note=3))


# --- next_findings ----------------------------------------------------------------------------------------------------

# The case, at 78: before the ages, its list proposed chest indrawing (an IMCI sign of a child).
OLD_MAN: dict[str, Any] = {
    "age": 78, "sex": "M", "duration_days": 3, "symptoms": {"tos": 7, "fiebre": 8, "dificultad_respirar": 6}}


def test_a_78_year_olds_list_has_no_paediatric_sign(engine: DiagnosisEngine) -> None:
    listed = engine.diagnose(engine.validate(OLD_MAN))["next_findings"]
    assert listed, "the case leaves findings open"
    assert not {f["finding"] for f in listed} & set(PAEDIATRIC)
    # Nor the candidates behind any old patient's list, however unlikely (floor 0: every open sign).
    nf = engine.next_findings
    # Simulated patients of every age made 78 (the pregnancy question does not apply at 78).
    sampled = Simulator(knowledge.load()).sample(60, seed=1919).requests
    old = [engine.validate({**{k: v for k, v in r.items() if k != "pregnancy"}, "age": 78}) for r in sampled]
    for request in [engine.validate(OLD_MAN), *old]:
        proposed = {c.finding for c in nf.candidates(request, _cond_p(engine, request), 0.5, floor=0.0)
                    if c.kind == "sign"}
        assert proposed, "some sign is open"
        assert not proposed & set(PAEDIATRIC), proposed & set(PAEDIATRIC)
        assert all(signs().applies(code, 78) for code in proposed)


def test_an_infants_list_may_propose_young_infant_signs(engine: DiagnosisEngine) -> None:
    infant = engine.validate({"age": ONE_MONTH, "sex": "F", "duration_days": 2,
                              "symptoms": {"fiebre": 7, "rechazo_alimento": 6, "irritabilidad": 5}})
    proposed = {c.finding for c in engine.next_findings.candidates(infant, _cond_p(engine, infant), 0.5, floor=0.0)
                if c.kind == "sign"}
    assert proposed & set(YOUNG_INFANT)
    assert "unable_to_drink_or_breastfeed" in proposed


def _cond_p(engine: DiagnosisEngine, request: Any) -> Any:
    return softmax(engine.condition_model.scores(engine.features.expand(engine.features.raw_matrix([request]))))[0]


# --- the contract and the danger-sign rules --------------------------------------------------------------------------

# (sign, age outside its ages, the rule it fires, the level): what the doctor saw still triages as before.
OUTSIDE: list[tuple[str, float, str, str]] = [
    ("grunting", 78, "AIRWAY_BREATHING", "EMERGENCIA"),
    ("chest_indrawing", 78, "CHEST_INDRAWING", "PRIORITARIO"),
    ("unable_to_drink_or_breastfeed", 40, "IMCI_DANGER_SIGN", "EMERGENCIA"),
    ("vomits_everything", 78, "IMCI_DANGER_SIGN", "EMERGENCIA"),
    ("bilateral_pitting_oedema", 60, "SEVERE_ACUTE_MALNUTRITION", "PRIORITARIO"),
    ("bulging_fontanelle", ONE_MONTH, "YOUNG_INFANT_SERIOUS_INFECTION", "EMERGENCIA"),  # inside: the control
]


@pytest.mark.parametrize(("code", "age", "rule", "level"), OUTSIDE)
def test_a_sign_outside_its_ages_is_accepted_and_still_fires_its_rule(engine: DiagnosisEngine, code: str,
                                                                      age: float, rule: str, level: str) -> None:
    raw = {"age": age, "sex": "F", "symptoms": {"fatiga": 3, "dolor_cabeza": 2}, "signs": [code]}
    request = engine.validate(raw)  # no contract error: the doctor saw it
    assert request.signs == (code,)
    assert rule in [r.code for r in red_flags.evaluate(request)]
    answer = engine.diagnose(request)
    reasons = {r["code"] for r in answer["red_flags"]}
    assert rule in reasons
    assert answer["triage"]["level"] in (level, "EMERGENCIA")


def test_every_rule_on_a_sign_fires_at_every_age(engine: DiagnosisEngine) -> None:
    """Each sign alone, at ages from a newborn to 100: the rules that fire do not depend on the sign's ages (they
    may on the age itself, as published: the young-infant rule is for under 2 months)."""
    validate = engine.validate
    base = {"sex": "M", "symptoms": {"fatiga": 3, "dolor_cabeza": 2, "tos": 1}}
    ages = (5 / 365.25, ONE_MONTH, 1.0, 4.0, 10.0, 30.0, 78.0, 100.0)
    for sign in signs().signs:
        for age in ages:
            with_sign = {r.code for r in red_flags.evaluate(validate({**base, "age": age, "signs": [sign.code]}))}
            # Against the same request at an age inside the sign's range, the sign's own rules are the same.
            inside = sign.min_age + (min(sign.below_age, 120) - sign.min_age) / 2
            at_inside = {r.code for r in red_flags.evaluate(validate({**base, "age": inside, "signs": [sign.code]}))}
            without = {r.code for r in red_flags.evaluate(validate({**base, "age": age}))}
            inside_without = {r.code for r in red_flags.evaluate(validate({**base, "age": inside}))}
            age_bound = {"YOUNG_INFANT_SERIOUS_INFECTION", "YOUNG_INFANT"}  # published for under 2 months only
            assert (with_sign - without) - age_bound == (at_inside - inside_without) - age_bound, (sign.code, age)
