"""A weight no child of that age could have (10.4 typed as 40 at 14 months) is named beside the answer for the
doctor to check; the answer still comes, and a possible weight says nothing. The real consultation screen, driven
by keyboard, the real engine."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.i18n import translator
from tests.ui.test_consultation import type_symptom
from tests.ui.test_consultation_v2 import choose, type_value
from tests.ui.test_state_banner import diagnose


def test_a_toddler_weighed_at_40_kg_is_answered_and_asked_to_check_the_weight(qtbot, consultation_screen):
    consultation = consultation_screen
    choose(qtbot, consultation.age.unit, "months")
    type_value(qtbot, consultation.age.number, "14")
    for query, level in (("fiebre", "7"), ("tos", "4"), ("vomito", "5")):
        type_symptom(qtbot, consultation, query, level)
    type_value(qtbot, consultation.vitals["weight_kg"], "40")
    answer = diagnose(qtbot, consultation)
    assert answer["triage"]["level"] in ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")  # answered, not held back
    assert consultation.result.response["triage"] == answer["triage"]  # on screen
    text = consultation.message.text()
    assert text.startswith("Revise el peso: 40 kg está muy lejos de lo posible a esta edad"), text
    assert consultation.message.isVisible()
    try:  # the doctor switches to English (the settings' language does this): the note follows
        translator().set_language("en")
        assert consultation.message.text().startswith("Check the weight: 40 kg is far from anything possible"), \
            consultation.message.text()
    finally:
        translator().set_language("es")
    assert consultation.message.text().startswith("Revise el peso: 40 kg")

    type_value(qtbot, consultation.vitals["weight_kg"], "10,4")  # corrected, with the decimal comma
    diagnose(qtbot, consultation)
    assert consultation.message.text() == ""
