"""Rare-disease names say when they are in English (issue 18, point 4; issue 13, point 11). Orphanet's names reach
the app in English only: no Spanish list of them ships offline through the package registries this project uses.
On a Spanish screen, the result's list of rare diseases and the referral letter's diagnosis mark each name
"[nombre en inglés]"; in English they do not. The real engine's answer, shown by the real result widget."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.i18n import translator
from app.ui.referral_export import diagnosis_label
from app.ui.result_view import DiagnosisView

REQUEST = {"age": 30, "sex": "F", "symptoms": {"fiebre": 6, "fatiga": 5, "tos": 4}}
MARFAN = {"orpha_code": "ORPHA:558", "name": "Marfan syndrome", "score": 0.4, "matched_terms": []}


@pytest.fixture
def response(engine):
    return {**engine.diagnose(REQUEST), "rare_disease_alert": True, "rare_diseases": [MARFAN]}


def test_the_result_list_marks_english_names_on_the_spanish_screen(qtbot, engine, response) -> None:
    translator().set_language("es")
    view = DiagnosisView(engine.vocabulary)
    qtbot.addWidget(view)
    view.show_response(REQUEST, response)
    assert "Marfan syndrome [nombre en inglés] (ORPHA:558" in view.rare.text()
    translator().set_language("en")
    try:
        assert "Marfan syndrome (ORPHA:558" in view.rare.text() and "[" not in view.rare.text()
    finally:
        translator().set_language("es")


def test_the_letters_diagnosis_marks_an_english_name(qtbot, engine, response) -> None:
    translator().set_language("es")
    assert diagnosis_label(engine.vocabulary, "ORPHA:558", response) == \
        "Marfan syndrome [nombre en inglés] (ORPHA:558)"
    translator().set_language("en")
    try:
        assert diagnosis_label(engine.vocabulary, "ORPHA:558", response) == "Marfan syndrome (ORPHA:558)"
    finally:
        translator().set_language("es")
