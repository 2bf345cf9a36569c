"""The examination tab offers the signs of the patient's sex as well as age (signs.toml's `sex`), through the real
consultation screen: a man is not offered vaginal bleeding, a woman is; the list follows the sex combo as the doctor
changes it; a sign the doctor ticked never leaves the screen nor the request."""

from __future__ import annotations

import pytest

from app.core.signs import signs
from app.ui.consultation import TAB_SIGNS
from tests.ui.test_consultation_v2 import choose, diagnose, tick_sign, type_symptom, type_value
from tests.ui.test_sign_ages import on_screen, open_signs_tab

VAGINAL_BLEEDING = "vaginal_bleeding"


@pytest.fixture
def consultation(consultation_screen):
    return consultation_screen


def test_a_man_is_not_offered_vaginal_bleeding_and_a_woman_is(qtbot, consultation):
    open_signs_tab(qtbot, consultation)
    type_value(qtbot, consultation.age.number, "25")
    choose(qtbot, consultation.sex, "M")
    assert not on_screen(consultation, VAGINAL_BLEEDING)
    assert set(consultation.signs.shown()) == {s.code for s in signs().for_patient(25, "M")}
    assert on_screen(consultation, "mucosal_bleeding")  # the rest of its group stays

    choose(qtbot, consultation.sex, "F")  # the sex was a slip: the list follows at once
    assert on_screen(consultation, VAGINAL_BLEEDING)
    assert set(consultation.signs.shown()) == {s.code for s in signs().for_patient(25, "F")}

    choose(qtbot, consultation.sex, "M")
    assert not on_screen(consultation, VAGINAL_BLEEDING)
    type_value(qtbot, consultation.age.number, "40")  # an age change keeps the sex's filter
    assert not on_screen(consultation, VAGINAL_BLEEDING)


def test_a_new_male_patient_opens_without_it(qtbot, consultation):
    consultation.start(None, "Juan Pérez", 52.0, "M")
    open_signs_tab(qtbot, consultation)
    assert consultation.sex.currentData() == "M"
    assert not on_screen(consultation, VAGINAL_BLEEDING)
    consultation.start(None, "Ana Gómez", 30.0, "F")
    assert on_screen(consultation, VAGINAL_BLEEDING)


def test_a_ticked_sign_stays_on_screen_and_in_the_request_when_the_sex_changes(qtbot, consultation):
    type_value(qtbot, consultation.age.number, "25")
    choose(qtbot, consultation.sex, "F")
    type_symptom(qtbot, consultation, "dolor abdominal", "7")
    type_symptom(qtbot, consultation, "nausea", "4")
    tick_sign(qtbot, consultation, VAGINAL_BLEEDING)
    assert consultation.signs.checked() == [VAGINAL_BLEEDING]

    choose(qtbot, consultation.sex, "M")  # what the doctor ticked is never dropped, silently or otherwise
    assert on_screen(consultation, VAGINAL_BLEEDING)
    assert consultation.signs.checked() == [VAGINAL_BLEEDING]
    assert "(1)" in consultation.findings_tabs.tabText(TAB_SIGNS)
    assert consultation.request()["sex"] == "M" and consultation.request()["signs"] == [VAGINAL_BLEEDING]
    response = diagnose(qtbot, consultation)  # the contract accepts it as entered
    assert response["triage"]["level"] in ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")
