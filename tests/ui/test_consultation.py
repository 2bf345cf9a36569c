"""The consultation screen, driven with the keyboard as a doctor would, offscreen."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.consultation import ConsultationWidget
from app.ui.i18n import translator
from app.ui.qt import Qt
from app.ui.tasks import TaskManager


@pytest.fixture
def consultation(qtbot, engine):
    tasks = TaskManager()
    widget = ConsultationWidget(engine, tasks)
    widget.age.set_years(40)  # a quick consultation without a registered patient: the doctor types the age
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    tasks.shutdown()


def type_symptom(qtbot, widget, query: str, intensity: str) -> None:
    widget.search.clear()
    qtbot.keyClicks(widget.search, query)
    qtbot.keyClick(widget.search, Qt.Key.Key_Down)
    qtbot.keyClick(widget.table, intensity)


def test_case_4_by_keyboard_gives_acute_illness(qtbot, consultation):
    type_symptom(qtbot, consultation, "dolor torac", "7")  # label "Dolor torácico": accents optional
    type_symptom(qtbot, consultation, "disnea", "9")
    type_symptom(qtbot, consultation, "fatiga", "8")
    assert consultation.symptom_model.intensities() == {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}
    with qtbot.waitSignal(consultation.diagnosed, timeout=10_000) as blocker:
        qtbot.keyClick(consultation, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    _request, response = blocker.args
    assert response["severity"] == "ENFERMEDAD_AGUDA"
    assert consultation.result.attention.isVisible()
    assert "ENFERMEDAD AGUDA" in consultation.result.banner.text()  # the state's name, not only its colour
    assert consultation.confirm_box.isEnabled()
    assert consultation.result.chart.bars()


def test_arrows_step_intensity_and_delete_clears(qtbot, consultation):
    type_symptom(qtbot, consultation, "fiebre", "5")
    qtbot.keyClick(consultation.table, Qt.Key.Key_Right)
    qtbot.keyClick(consultation.table, Qt.Key.Key_Right)
    assert consultation.symptom_model.intensities() == {"fiebre": 7}
    qtbot.keyClick(consultation.table, Qt.Key.Key_Left)
    assert consultation.symptom_model.intensities() == {"fiebre": 6}
    qtbot.keyClick(consultation.table, Qt.Key.Key_Delete)
    assert consultation.symptom_model.intensities() == {}


def test_too_few_findings_is_explained_not_diagnosed(qtbot, consultation):
    type_symptom(qtbot, consultation, "tos", "4")
    consultation.diagnose()
    assert "3" in consultation.message.text() and "hallazgos" in consultation.message.text()
    assert consultation.result.response is None


def test_vitals_left_empty_are_not_sent(qtbot, consultation):
    consultation.vitals["spo2"].setValue(88)
    request = consultation.request()
    assert request["vitals"] == {"spo2": 88.0}
    assert "duration_days" not in request


def test_language_switch_relabels_everything(qtbot, consultation):
    t = translator()
    try:
        t.set_language("en")
        assert consultation.diagnose_button.text().startswith("Diagnose")
        assert consultation.symptom_model.headerData(0, Qt.Orientation.Horizontal) == "Symptom"
        t.set_language("es")
        assert consultation.diagnose_button.text().startswith("Diagnosticar")
    finally:
        t.set_language("es")


def test_extra_findings_from_hpo_search_reach_the_rare_ranking(qtbot, consultation):
    qtbot.waitUntil(lambda: consultation.terms is not None, timeout=20_000)
    type_symptom(qtbot, consultation, "perdida de peso", "3")
    for query in ("aracnodact", "ectopia del crist", "raiz aort", "tall stature"):
        consultation.hpo_search.setText(query)
        assert consultation.hpo_results.count() > 0, query
        qtbot.keyClick(consultation.hpo_search, Qt.Key.Key_Return)
    assert len(consultation.chosen_terms()) == 4
    assert consultation.request()["hpo_terms"] == consultation.chosen_terms()
    with qtbot.waitSignal(consultation.diagnosed, timeout=10_000) as blocker:
        consultation.diagnose()
    response = blocker.args[1]
    assert response["rare_disease_alert"] and response["rare_diseases"][0]["orpha_code"] == "ORPHA:558"
    assert "Marfan" in consultation.result.rare.text()


def test_symptoms_are_found_as_a_doctor_says_them(qtbot, consultation):
    """«dolor de pecho» and «dificultad para respirar» are how a tired doctor types them; every typed word had to
    be in the symptom's names, so the little words hid every row (seen under Xvfb, 2026-12-01)."""
    type_symptom(qtbot, consultation, "dolor de pecho", "6")
    type_symptom(qtbot, consultation, "dificultad para respirar", "6")
    type_symptom(qtbot, consultation, "dolor en la cabeza", "4")
    type_symptom(qtbot, consultation, "pain in the ear", "3")
    type_symptom(qtbot, consultation, "vomitos", "5")  # a plural finds «Vómito» (QTest types no accents)
    type_symptom(qtbot, consultation, "calentura", "7")  # an everyday word finds «Fiebre»
    type_symptom(qtbot, consultation, "sed", "2")  # «mucha sed» (polidipsia) before «localised» (a swelling)
    assert consultation.symptom_model.intensities() == {"dolor_pecho": 6, "dificultad_respirar": 6,
                                                        "dolor_cabeza": 4, "dolor_oido": 3, "vomito": 5,
                                                        "fiebre": 7, "polidipsia": 2}
    consultation.symptom_panel.search.clear()
    qtbot.keyClicks(consultation.symptom_panel.search, "de")  # one word: still what is being typed ("debilidad")
    assert all("de" in consultation.symptom_model.search_text(consultation.symptom_panel.filter.mapToSource(
        consultation.symptom_panel.filter.index(row, 0)).row())
        for row in range(consultation.symptom_panel.filter.rowCount()))
