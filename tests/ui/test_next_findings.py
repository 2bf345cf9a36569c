""""Si puede, mida / pregunte:" on the consultation screen (issue 19), offscreen, real engine, keys and clicks.

A cough with fever and fast breathing but no SpO2 proposes SpO2 first; its item takes the focus to the SpO2 box,
and 86 % typed there re-diagnoses at once to EMERGENCIA, where the list keeps only what would change the management
under a note that care comes first. Alt+number reaches an item from anywhere; a sign reached that way is ticked with
the space bar and re-diagnoses too. Leaving a field untouched asks nothing.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.consultation import ConsultationWidget
from app.ui.i18n import translator
from app.ui.qt import Qt
from tests.ui.test_consultation_v2 import choose, diagnose, type_symptom, type_value

WAIT = 20_000


@pytest.fixture
def consultation(consultation_screen):
    return consultation_screen


FEW_VITALS = (("temperature_c", "38.9"), ("heart_rate", "100"), ("respiratory_rate", "24"))
# Every vital of the bundle but SpO2: what is left to measure is SpO2, far ahead of any question.
ALL_BUT_SPO2 = (*FEW_VITALS, ("systolic_bp", "120"), ("diastolic_bp", "80"), ("glucose_mg_dl", "100"),
                ("capillary_refill_s", "1.5"))


def enter_cough_without_spo2(qtbot, widget: ConsultationWidget, vitals=ALL_BUT_SPO2, age: str = "45") -> dict:
    """A man of 45 (or `age` years) with cough, fever and shortness of breath, the vitals `vitals`, no SpO2."""
    type_value(qtbot, widget.age.number, age)
    choose(qtbot, widget.sex, "M")
    for query, level in (("tos", "7"), ("fiebre", "8"), ("disnea", "6")):
        type_symptom(qtbot, widget, query, level)
    for key, text in vitals:
        type_value(qtbot, widget.vitals[key], text)
    return diagnose(qtbot, widget)


def test_missing_spo2_comes_first_and_86_percent_makes_it_an_emergency(qtbot, consultation):
    response = enter_cough_without_spo2(qtbot, consultation)
    panel = consultation.result.next_findings
    assert response["triage"]["level"] != "EMERGENCIA"
    assert panel.isVisible() and panel.title.text() == "Si puede, mida / pregunte:"
    assert not panel.note.isVisible()  # not an emergency: no "care first" note
    first = panel.items()[0]
    assert first["finding"] == "spo2" and first["kind"] == "vital"
    assert panel.buttons[0].isVisible() and "SpO2" in panel.buttons[0].text()
    assert panel.whys[0].text() == first["why"]["es"]
    # The list sits under the answer: the triage level and the likely conditions are above it.
    top = panel.mapTo(consultation.result, panel.rect().topLeft()).y()
    assert consultation.result.triage_banner.geometry().bottom() < top
    assert consultation.result.conditions_title.geometry().bottom() < top

    spo2 = consultation.vitals["spo2"]
    assert not spo2.hasFocus()
    qtbot.mouseClick(panel.buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(spo2.hasFocus, timeout=WAIT)

    qtbot.keyClicks(spo2, "86")
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        qtbot.keyClick(spo2, Qt.Key.Key_Return)  # entered: the screen asks again at once, no "Diagnosticar"
    request, answer = blocker.args
    assert request["vitals"]["spo2"] == 86
    assert answer["triage"]["level"] == "EMERGENCIA"
    assert consultation.result.triage_level == "EMERGENCIA"
    assert not consultation.stale.isVisible()

    # At EMERGENCIA: only what the engine kept (at most 3), SpO2 gone, under the note that care must not wait.
    shown = panel.items()
    assert all(item["finding"] != "spo2" for item in shown)
    assert len(shown) == len(answer["next_findings"]) <= 3
    assert panel.isVisible() == bool(shown)
    if shown:
        assert panel.note.isVisible() and "EMERGENCIA" in panel.note.text()
        for item, why in zip(shown, panel.whys, strict=False):  # each "why" whole, its "care first" said once above
            assert why.text() and item["why"]["es"].endswith(why.text())
            assert item["why"]["es"] == why.text() or item["why"]["es"].startswith(panel.note.text().split(".")[0])


def test_alt_number_reaches_a_sign_and_the_space_bar_ticks_it(qtbot, consultation):
    # A boy of 4: chest indrawing is IMCI's sign of a child (signs.toml's ages: never proposed at 45).
    response = enter_cough_without_spo2(qtbot, consultation, FEW_VITALS, age="4")  # the signs weigh more here
    panel = consultation.result.next_findings
    kinds = [item["kind"] for item in panel.items()]
    assert "sign" in kinds, response["next_findings"]  # an examination sign (chest indrawing) is among them
    n = kinds.index("sign")
    code = panel.items()[n]["finding"]
    consultation.age.number.setFocus()  # far from the list: the shortcut works from anywhere on the screen
    qtbot.keyClick(consultation.age.number, Qt.Key(Qt.Key.Key_1 + n), Qt.KeyboardModifier.AltModifier)
    view = consultation.signs.view
    qtbot.waitUntil(view.hasFocus, timeout=WAIT)
    assert consultation.findings_tabs.currentWidget() is consultation.signs
    assert view.currentIndex() == consultation.signs.index_of(code)

    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Space)
    assert code in blocker.args[0]["signs"]
    assert code not in [item["finding"] for item in panel.items()]


def test_a_symptom_item_selects_its_row_and_a_number_key_rediagnoses(qtbot, consultation):
    """Fever, headache and vomiting with every vital measured: what is left to ask includes symptoms (neck
    stiffness, confusion); the item selects the symptom's row even under a search that hid it."""
    type_value(qtbot, consultation.age.number, "30")
    choose(qtbot, consultation.sex, "M")
    for query, level in (("fiebre", "8"), ("dolor de cabeza", "8"), ("vomito", "5")):
        type_symptom(qtbot, consultation, query, level)
    for key, text in (("temperature_c", "39"), ("heart_rate", "100"), ("respiratory_rate", "18"), ("spo2", "97"),
                      ("systolic_bp", "120"), ("diastolic_bp", "80"), ("glucose_mg_dl", "100"),
                      ("capillary_refill_s", "1.5")):
        type_value(qtbot, consultation.vitals[key], text)
    response = diagnose(qtbot, consultation)
    panel = consultation.result.next_findings
    items = panel.items()
    symptoms = [i for i, item in enumerate(items) if item["kind"] == "symptom"]
    assert symptoms, response["next_findings"]
    assert all(item["kind"] != "vital" for item in items)  # every vital was measured: none is proposed
    n = symptoms[0]
    key = items[n]["finding"]
    consultation.findings_tabs.setCurrentWidget(consultation.signs)
    consultation.search.setText("zzz")  # a search that hides every row: the item must still reach it
    qtbot.mouseClick(panel.buttons[n], Qt.MouseButton.LeftButton)
    table = consultation.table
    qtbot.waitUntil(table.hasFocus, timeout=WAIT)
    assert consultation.findings_tabs.currentWidget() is consultation.symptom_panel
    assert table.currentIndex().data(Qt.ItemDataRole.UserRole) == key
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        qtbot.keyClick(table, "6")
    assert blocker.args[0]["symptoms"][key] == 6
    assert key not in [item["finding"] for item in panel.items()]


def test_leaving_the_field_untouched_asks_nothing(qtbot, consultation):
    enter_cough_without_spo2(qtbot, consultation)
    panel = consultation.result.next_findings
    qtbot.mouseClick(panel.buttons[0], Qt.MouseButton.LeftButton)
    spo2 = consultation.vitals["spo2"]
    qtbot.waitUntil(spo2.hasFocus, timeout=WAIT)
    with qtbot.assertNotEmitted(consultation.diagnosed, wait=500):
        consultation.vitals["glucose_mg_dl"].setFocus()  # SpO2 left empty: no new question to the engine
    assert not consultation.answer_is_stale()


def test_the_list_speaks_english_and_clears_with_the_answer(qtbot, consultation):
    response = enter_cough_without_spo2(qtbot, consultation)
    panel = consultation.result.next_findings
    t = translator()
    try:
        t.set_language("en")
        assert panel.title.text() == "If you can, measure / ask:"
        assert panel.whys[0].text() == response["next_findings"][0]["why"]["en"]
        assert "Oxygen saturation" in panel.buttons[0].text() or "SpO2" in panel.buttons[0].text()
    finally:
        t.set_language("es")
    qtbot.mouseClick(consultation.clear_button, Qt.MouseButton.LeftButton)
    assert not panel.isVisible() and panel.items() == []


def test_the_pregnancy_question_opens_and_its_weeks_re_diagnose(qtbot, consultation):
    """A young woman with abdominal pain, vomiting and vaginal bleeding, every vital measured: whether she is
    pregnant is among what to ask. Its item opens the pregnancy list; "Embarazada" waits for the weeks (nothing is
    asked with the weeks missing), and the weeks with Enter re-diagnose."""
    type_value(qtbot, consultation.age.number, "25")
    choose(qtbot, consultation.sex, "F")
    for query, level in (("dolor abdominal", "7"), ("vomito", "4"), ("sangrado vaginal", "5")):
        type_symptom(qtbot, consultation, query, level)
    for key, text in (("temperature_c", "37"), ("heart_rate", "90"), ("respiratory_rate", "18"), ("spo2", "98"),
                      ("systolic_bp", "120"), ("diastolic_bp", "80"), ("glucose_mg_dl", "100"),
                      ("capillary_refill_s", "1.5")):
        type_value(qtbot, consultation.vitals[key], text)
    response = diagnose(qtbot, consultation)
    panel = consultation.result.next_findings
    kinds = [item["kind"] for item in panel.items()]
    assert "pregnancy" in kinds, response["next_findings"]
    n = kinds.index("pregnancy")
    assert panel.buttons[n].text() == f"{n + 1}. ¿Está embarazada?"

    consultation.age.number.setFocus()
    qtbot.keyClick(consultation.age.number, Qt.Key(Qt.Key.Key_1 + n), Qt.KeyboardModifier.AltModifier)
    status = consultation.pregnancy.status
    qtbot.waitUntil(status.view().isVisible, timeout=WAIT)  # the list open (it has the keyboard now)
    view = status.view()
    with qtbot.assertNotEmitted(consultation.diagnosed, wait=300):  # "pregnant" alone is not an answer yet
        for _ in range(status.findData("pregnant") - status.currentIndex()):
            qtbot.keyClick(view, Qt.Key.Key_Down)
        qtbot.keyClick(view, Qt.Key.Key_Return)
        weeks = consultation.pregnancy.number
        qtbot.waitUntil(weeks.hasFocus, timeout=WAIT)
    assert status.currentData() == "pregnant"
    qtbot.keyClicks(weeks, "8")
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        qtbot.keyClick(weeks, Qt.Key.Key_Return)
    assert blocker.args[0]["pregnancy"] == {"status": "pregnant", "weeks": 8}
    assert all(item["kind"] != "pregnancy" for item in panel.items())
