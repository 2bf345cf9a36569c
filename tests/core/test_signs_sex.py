"""The sex an examination sign applies to (signs.toml's optional `sex`, read by app/core/signs.py).

Like the ages, the sex chooses what the checklist offers and what `next_findings` proposes, so a man is never
offered nor asked about vaginal bleeding; it never refuses a request nor silences a danger-sign rule. So: the key is
checked on load, `next_findings` never proposes the sign for a man (through the real engine) while it does for a
woman, and a request that gives it for a man is still accepted.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.core.engine import DiagnosisEngine
from app.core.probability import softmax
from app.core.signs import parse, signs
from model_export import knowledge
from model_export.simulator import Simulator
from tests.core.test_signs_ages import _with

VAGINAL_BLEEDING = "vaginal_bleeding"
# Abdominal pain with dizziness and nausea at 25: for a woman, ectopic pregnancy is on the list, and with a pregnancy
# of 7 weeks vaginal bleeding is among the five findings Vereda asks for next.
SYMPTOMS = {"dolor_abdominal": 8, "mareos": 5, "nausea": 4}
WOMAN: dict[str, Any] = {"age": 25, "sex": "F", "duration_days": 1, "symptoms": SYMPTOMS}
PREGNANT_WOMAN: dict[str, Any] = {**WOMAN, "pregnancy": {"status": "pregnant", "weeks": 7}}
MAN: dict[str, Any] = {**WOMAN, "sex": "M"}


# --- the file -------------------------------------------------------------------------------------------------------

def test_vaginal_bleeding_is_the_one_sign_of_one_sex() -> None:
    v = signs()
    assert {s.code: s.sex for s in v.signs if s.sex is not None} == {VAGINAL_BLEEDING: "F"}
    assert v.sign("grunting").sex is None  # absent: every sex


def test_applies_and_for_patient() -> None:
    v = signs()
    assert v.applies(VAGINAL_BLEEDING, 25, "F") and not v.applies(VAGINAL_BLEEDING, 25, "M")
    assert v.applies(VAGINAL_BLEEDING, 25) and v.applies(VAGINAL_BLEEDING, 25, None)  # sex not given yet
    assert not v.applies(VAGINAL_BLEEDING, None, "M") and v.applies(VAGINAL_BLEEDING, None, None)
    for age in (None, 1 / 12, 4.0, 25.0, 78.0):
        by_age = {s.code for s in v.for_age(age)}
        assert {s.code for s in v.for_patient(age, None)} == by_age
        assert {s.code for s in v.for_patient(age, "F")} == by_age  # no sign is for men only
        assert {s.code for s in v.for_patient(age, "M")} == by_age - {VAGINAL_BLEEDING}
    # Age and sex together: a young-infant sign is still hidden at 78 for either sex.
    assert not v.applies("umbilicus_red_or_pus", 78, "F") and not v.applies("umbilicus_red_or_pus", 78, "M")


@pytest.mark.parametrize(("changes", "message"), [
    ({"sex": "female"}, "sex must be \"F\" or \"M\" (or left out: every sex), not 'female'"),
    ({"sex": "f"}, "sex must be \"F\" or \"M\""),
    ({"sex": ""}, "sex must be \"F\" or \"M\""),
    ({"sex": 1}, "sex must be text, \"F\" or \"M\", not 1"),
    ({"sex": ["F"]}, "sex must be text"),
    ({"sex": "F", "sex_note": 3}, "sex_note must be text"),
    ({"sex": None, "sex_note": "only women"}, "has a sex_note but no sex"),
])
def test_a_wrong_sex_is_refused_on_load_naming_the_sign(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse(_with(VAGINAL_BLEEDING, **changes))
    assert "signs.toml" in str(error.value) and f"'{VAGINAL_BLEEDING}'" in str(error.value)
    assert message in str(error.value)


def test_a_right_sex_is_read() -> None:
    v = parse(_with("grunting", sex="M", sex_note="a made-up example"))
    assert (v.sign("grunting").sex, v.sign("grunting").sex_note) == ("M", "a made-up example")
    assert v.applies("grunting", 1.0, "M") and not v.applies("grunting", 1.0, "F")
    v = parse(_with(VAGINAL_BLEEDING, sex=None))
    assert v.sign(VAGINAL_BLEEDING).sex is None and v.applies(VAGINAL_BLEEDING, 25, "M")


# --- next_findings ----------------------------------------------------------------------------------------------------

def _cond_p(engine: DiagnosisEngine, request: Any) -> Any:
    return softmax(engine.condition_model.scores(engine.features.expand(engine.features.raw_matrix([request]))))[0]


def _proposed_signs(engine: DiagnosisEngine, request: Any) -> set[str]:
    """Every sign `next_findings` may weigh for `request` (floor 0: however unlikely)."""
    return {c.finding for c in engine.next_findings.candidates(request, _cond_p(engine, request), 0.5, floor=0.0)
            if c.kind == "sign"}


def test_a_woman_is_asked_about_vaginal_bleeding_and_a_man_never(engine: DiagnosisEngine) -> None:
    pregnant = engine.diagnose(engine.validate(PREGNANT_WOMAN))["next_findings"]
    assert VAGINAL_BLEEDING in [f["finding"] for f in pregnant]  # among her five: the sign matters for her
    assert VAGINAL_BLEEDING in _proposed_signs(engine, engine.validate(WOMAN))

    man = engine.validate(MAN)
    assert VAGINAL_BLEEDING not in [f["finding"] for f in engine.diagnose(man)["next_findings"]]
    assert VAGINAL_BLEEDING not in _proposed_signs(engine, man)
    assert _proposed_signs(engine, man), "other signs are still open for him"
    # Nor in his whole ranking, however far down.
    ranked = engine.next_findings.rank(man, floor=0.0, limit=1000)
    assert ranked and VAGINAL_BLEEDING not in [f["finding"] for f in ranked]


def test_no_simulated_man_is_asked_about_vaginal_bleeding(engine: DiagnosisEngine) -> None:
    # Simulated patients of every age and condition made men (the pregnancy question does not apply to a man).
    sampled = Simulator(knowledge.load()).sample(60, seed=1920).requests
    for raw in sampled:
        for sex in ("M", "F"):
            request = engine.validate({**{k: v for k, v in raw.items() if k != "pregnancy"}, "sex": sex})
            proposed = _proposed_signs(engine, request)
            assert all(signs().applies(code, request.age, sex) for code in proposed), (sex, proposed)
            if sex == "M":
                assert VAGINAL_BLEEDING not in proposed
            elif VAGINAL_BLEEDING not in request.signs:
                assert VAGINAL_BLEEDING in proposed  # open for every woman: the filter is the sex, not the case


def test_vaginal_bleeding_given_for_a_man_is_still_accepted(engine: DiagnosisEngine) -> None:
    request = engine.validate({**MAN, "signs": [VAGINAL_BLEEDING]})  # no contract error: the doctor saw it
    assert request.signs == (VAGINAL_BLEEDING,)
    answer = engine.diagnose(request)
    assert answer["triage"]["level"] in ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")
    assert VAGINAL_BLEEDING not in [f["finding"] for f in answer["next_findings"]]  # given: not asked again
