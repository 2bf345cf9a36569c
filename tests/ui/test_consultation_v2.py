"""Contract v2 on the consultation screen, driven with keys and clicks as a doctor would, offscreen, real engine.

Pregnancy (only for women of 10 to 60), AVPU, the IMCI-grouped examination signs and the new measurements go in;
the WHO ETAT triage level comes out first, in colour and in words, with its reasons and NEWS2/qSOFA. The assertions
rest on the danger-sign rules and the published scores only, never on the model's probabilities or its top
condition: the bundle is rebuilt independently of this screen.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytestqt")

from app.core.signs import signs
from app.ui.consultation import TAB_SIGNS, ConsultationWidget
from app.ui.i18n import translator
from app.ui.qt import QComboBox, Qt, QWidget

WAIT = 20_000


@pytest.fixture
def consultation(consultation_screen):
    return consultation_screen


def type_value(qtbot, box: QWidget, text: str) -> None:
    """Select what the box holds and type over it, as in any form."""
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, text)


def choose(qtbot, combo: QComboBox, data: object) -> None:
    """Pick an item with the arrow keys (Home, then Down until it is there)."""
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.count()):
        if combo.currentData() == data:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == data, f"{data!r} not reachable in the list"


def choose_final_diagnosis(qtbot, widget: ConsultationWidget) -> str:
    """The doctor picks the final diagnosis: nothing is chosen for her; Down on the box takes the first of Vereda's
    suggestions. Returns its code."""
    box = widget.final_diagnosis
    assert box.currentText() == "", "a final diagnosis was chosen before the doctor chose one"
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Down)
    assert box.currentIndex() == 0
    return str(box.currentData())


def type_symptom(qtbot, widget: ConsultationWidget, query: str, intensity: str) -> None:
    widget.search.clear()
    qtbot.keyClicks(widget.search, query)
    qtbot.keyClick(widget.search, Qt.Key.Key_Down)
    qtbot.keyClick(widget.table, intensity)


def tick_sign(qtbot, widget: ConsultationWidget, code: str) -> None:
    """Open the signs tab and click the sign's row."""
    bar = widget.findings_tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(TAB_SIGNS).center())
    assert widget.findings_tabs.currentWidget() is widget.signs
    view = widget.signs.view
    index = widget.signs.index_of(code)
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


def diagnose(qtbot, widget: ConsultationWidget) -> dict:
    with qtbot.waitSignal(widget.diagnosed, timeout=WAIT) as blocker:
        qtbot.mouseClick(widget.diagnose_button, Qt.MouseButton.LeftButton)
    assert widget.message.text() == ""
    return blocker.args[1]


def pregnancy_shown(widget: ConsultationWidget) -> bool:
    return widget.pregnancy.isVisible() and widget.pregnancy_label.isVisible()


def first_visible(view: QWidget) -> QWidget:
    layout = view.layout()
    for i in range(layout.count()):
        child = layout.itemAt(i).widget()
        if child is not None and child.isVisible():
            return child
    raise AssertionError("nothing shown")


def test_pregnant_woman_with_severe_hypertension_gets_emergencia_first(qtbot, consultation, engine):
    type_value(qtbot, consultation.age.number, "28")
    assert consultation.sex.currentData() == "F"
    assert pregnancy_shown(consultation)
    choose(qtbot, consultation.pregnancy.status, "pregnant")
    type_value(qtbot, consultation.pregnancy.number, "34")
    type_value(qtbot, consultation.vitals["systolic_bp"], "168")
    type_value(qtbot, consultation.vitals["diastolic_bp"], "112")
    type_symptom(qtbot, consultation, "dolor de cabeza", "8")
    type_symptom(qtbot, consultation, "vision", "5")
    type_symptom(qtbot, consultation, "nausea", "3")

    request = consultation.request()
    assert request["pregnancy"] == {"status": "pregnant", "weeks": 34}
    assert request["vitals"] == {"systolic_bp": 168.0, "diastolic_bp": 112.0}
    response = diagnose(qtbot, consultation)

    triage = response["triage"]
    assert triage["level"] == "EMERGENCIA"
    assert "PRE_ECLAMPSIA_SEVERE" in [r["code"] for r in triage["reasons"]]
    view = consultation.result
    assert first_visible(view) is view.triage_banner  # the level comes before everything else
    assert view.triage_banner.geometry().top() < view.banner.geometry().top()
    assert "EMERGENCIA" in view.triage_banner.text()  # words, not colour alone
    assert "#c62828" in view.triage_banner.styleSheet()  # and red
    reason = next(r for r in triage["reasons"] if r["code"] == "PRE_ECLAMPSIA_SEVERE")
    assert reason["message"]["es"] in view.triage_reasons.text()
    assert view.attention.isVisible()  # the immediate-attention box agrees with the level
    assert not view.scores.isVisible()  # NEWS2 is not for pregnancy and qSOFA lacks inputs: both null


def test_pregnancy_box_hidden_and_not_sent_for_a_man_or_a_woman_of_70(qtbot, consultation):
    type_value(qtbot, consultation.age.number, "40")
    type_symptom(qtbot, consultation, "fiebre", "6")
    type_symptom(qtbot, consultation, "tos", "5")
    type_symptom(qtbot, consultation, "dolor de garganta", "4")
    assert pregnancy_shown(consultation)
    choose(qtbot, consultation.pregnancy.status, "pregnant")
    type_value(qtbot, consultation.pregnancy.number, "30")
    assert consultation.request()["pregnancy"] == {"status": "pregnant", "weeks": 30}

    choose(qtbot, consultation.sex, "M")
    assert not pregnancy_shown(consultation)
    assert "pregnancy" not in consultation.request()
    diagnose(qtbot, consultation)  # accepted: the contract would refuse a pregnancy for a man

    choose(qtbot, consultation.sex, "F")
    assert pregnancy_shown(consultation)  # the status the doctor chose is still there for her
    type_value(qtbot, consultation.age.number, "70")
    assert not pregnancy_shown(consultation)
    assert "pregnancy" not in consultation.request()
    diagnose(qtbot, consultation)


def test_two_year_old_unable_to_drink_is_an_emergency(qtbot, consultation):
    type_value(qtbot, consultation.age.number, "2")
    choose(qtbot, consultation.sex, "M")
    type_symptom(qtbot, consultation, "fiebre", "6")
    type_symptom(qtbot, consultation, "tos", "4")
    tick_sign(qtbot, consultation, "unable_to_drink_or_breastfeed")
    assert consultation.signs.checked() == ["unable_to_drink_or_breastfeed"]
    assert "(1)" in consultation.findings_tabs.tabText(TAB_SIGNS)
    assert consultation.request()["signs"] == ["unable_to_drink_or_breastfeed"]

    response = diagnose(qtbot, consultation)
    assert response["triage"]["level"] == "EMERGENCIA"
    assert "IMCI_DANGER_SIGN" in [r["code"] for r in response["triage"]["reasons"]]
    view = consultation.result
    assert "EMERGENCIA" in view.triage_banner.text()
    assert view.attention.isVisible()
    assert not view.scores.isVisible()  # a child: no NEWS2, no qSOFA


def test_signs_and_new_vitals_survive_a_draft_round_trip(qtbot, consultation, engine):
    type_value(qtbot, consultation.age.number, "31")
    choose(qtbot, consultation.pregnancy.status, "postpartum")
    type_value(qtbot, consultation.pregnancy.number, "5")
    choose(qtbot, consultation.consciousness, "V")
    type_value(qtbot, consultation.duration, "2")
    for key, text in (("weight_kg", "61.2"), ("height_cm", "158.5"), ("muac_mm", "240"),
                      ("capillary_refill_s", "3.5"), ("heart_rate", "118"), ("temperature_c", "38.9")):
        type_value(qtbot, consultation.vitals[key], text)
    type_symptom(qtbot, consultation, "fiebre", "7")
    tick_sign(qtbot, consultation, "cold_extremities")
    # The keyboard ticks too: the row, then the space bar.
    view = consultation.signs.view
    view.setFocus()
    view.setCurrentIndex(consultation.signs.index_of("weak_fast_pulse"))
    qtbot.keyClick(view, Qt.Key.Key_Space)

    request = consultation.request()
    assert request["pregnancy"] == {"status": "postpartum", "days_since_delivery": 5}
    assert request["consciousness"] == "V"
    assert request["signs"] == ["cold_extremities", "weak_fast_pulse"]
    assert request["vitals"] == {"temperature_c": 38.9, "heart_rate": 118.0, "weight_kg": 61.2,
                                 "height_cm": 158.5, "muac_mm": 240.0, "capillary_refill_s": 3.5}
    assert set(request) <= {"age", "sex", "duration_days", "symptoms", "vitals", "hpo_terms", "pregnancy",
                            "consciousness", "signs"}
    engine.validate(request)  # exactly the contract's fields, with its ranges

    saved = json.loads(json.dumps(request))  # a draft is stored as JSON
    consultation.clear()
    cleared = consultation.request()
    assert not {"pregnancy", "consciousness", "signs"} & set(cleared)
    assert cleared["vitals"] == {} and consultation.signs.checked() == []
    consultation.load_request(saved)
    assert consultation.request() == request
    assert "(2)" in consultation.findings_tabs.tabText(TAB_SIGNS)


def test_news2_and_qsofa_shown_for_an_adult_with_every_vital_and_avpu_a(qtbot, consultation):
    type_value(qtbot, consultation.age.number, "45")
    choose(qtbot, consultation.sex, "M")
    choose(qtbot, consultation.consciousness, "A")
    for key, text in (("temperature_c", "38.4"), ("heart_rate", "98"), ("respiratory_rate", "22"), ("spo2", "95"),
                      ("systolic_bp", "125"), ("diastolic_bp", "80")):
        type_value(qtbot, consultation.vitals[key], text)
    type_symptom(qtbot, consultation, "fiebre", "6")
    type_symptom(qtbot, consultation, "tos", "7")
    type_symptom(qtbot, consultation, "expectoracion", "5")
    response = diagnose(qtbot, consultation)

    # RCP 2017: respiration 22 -> 2, SpO2 95 -> 1, systolic 125 -> 0, pulse 98 -> 1, alert -> 0, 38.4 °C -> 1.
    assert response["scores"] == {"news2": 5, "qsofa": 1}
    view = consultation.result
    assert view.scores.isVisible()
    assert "NEWS2 5" in view.scores.text() and "qSOFA 1" in view.scores.text()
    assert view.triage_banner.isVisible()
    assert view.scores.geometry().top() < view.banner.geometry().top()  # scores before the state banner


def test_the_attention_box_is_shown_exactly_at_emergencia(qtbot, consultation, engine):
    view = consultation.result
    adult = {"age": 45, "sex": "M", "symptoms": {"fiebre": 6, "tos": 4, "dolor_garganta": 3}, "consciousness": "A",
             "vitals": {"temperature_c": 37.0, "heart_rate": 80, "respiratory_rate": 16, "spo2": 98,
                        "systolic_bp": 120, "diastolic_bp": 78}}
    for request in (adult, {**adult, "consciousness": "U"}):  # AVPU U: an emergency sign (WHO ETAT)
        response = engine.diagnose(request)
        view.show_response(request, response)
        assert view.attention.isVisible() == (response["triage"]["level"] == "EMERGENCIA")
        assert response["triage"]["label"]["es"] in view.triage_banner.text()
    assert view.triage_level == "EMERGENCIA"
    # An answer saved before contract v2 (no triage) is shown as it was: its own flag decides the box.
    old = {k: v for k, v in response.items() if k not in ("triage", "scores", "contract")}
    view.show_response(adult, old)
    assert not view.triage_banner.isVisible() and not view.scores.isVisible()
    assert view.attention.isVisible() == old["requires_immediate_attention"]


def test_new_inputs_speak_the_doctors_language(qtbot, consultation):
    t = translator()
    type_value(qtbot, consultation.age.number, "30")
    try:
        assert consultation.consciousness.itemText(2) == "V — Responde a la voz"  # words, not only the letter
        t.set_language("en")
        assert consultation.consciousness.itemText(2) == "V — Responds to voice"
        assert consultation.pregnancy.status.itemText(2) == "Pregnant"
        group, members = signs().by_group()[0]
        header = consultation.signs.model.item(0)
        assert header.text().startswith(signs().groups[group]["en"])
        assert header.child(0).text() == members[0].label["en"]
        assert consultation.vital_labels["muac_mm"].text() == "Mid-upper arm circumference (MUAC) (mm)"
    finally:
        t.set_language("es")
    muac = consultation.vital_labels["muac_mm"].text()  # the bundle's own label once its models read MUAC
    assert muac.startswith("Perímetro braquial") and muac.endswith("(mm)")


@pytest.mark.parametrize("enter", [Qt.Key.Key_Return, Qt.Key.Key_Enter], ids=["return", "keypad_enter"])
def test_ctrl_enter_diagnoses_from_the_symptom_table(qtbot, consultation, enter):
    """The focus is in the symptom list after the last intensity: Ctrl with either Enter key diagnoses from there
    (the keypad's Enter did nothing in a real window)."""
    consultation.age.set_years(40)
    for query, level in (("fiebre", "8"), ("tos", "7"), ("disnea", "6")):
        type_symptom(qtbot, consultation, query, level)
    assert consultation.table.hasFocus()
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        qtbot.keyClick(consultation.table, enter, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[0]["symptoms"] == {"fiebre": 8, "tos": 7, "dificultad_respirar": 6}
    assert consultation.symptom_model.intensities() == {"fiebre": 8, "tos": 7, "dificultad_respirar": 6}
