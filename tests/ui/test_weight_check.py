"""A weight no child of that age could have (10.4 typed as 40 at 14 months) is named beside the answer for the
doctor to check; the answer still comes, and a possible weight says nothing. The real consultation screen, driven
by keyboard, the real engine."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.qt import Qt
from tests.ui.test_consultation_v2 import choose, type_value

WAIT = 10_000


def diagnose(qtbot, consultation) -> dict:
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        qtbot.keyClick(consultation, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    return blocker.args[1]


def test_a_toddler_weighed_at_40_kg_is_answered_and_asked_to_check_the_weight(qtbot, consultation_screen):
    consultation = consultation_screen
    choose(qtbot, consultation.age.unit, "months")
    type_value(qtbot, consultation.age.number, "14")
    for query, level in (("fiebre", "7"), ("tos", "4"), ("vomito", "5")):
        consultation.search.clear()
        qtbot.keyClicks(consultation.search, query)
        qtbot.keyClick(consultation.search, Qt.Key.Key_Down)
        qtbot.keyClick(consultation.table, level)
    type_value(qtbot, consultation.vitals["weight_kg"], "40")
    answer = diagnose(qtbot, consultation)
    assert answer["triage"]["level"] in ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")  # answered, not held back
    assert consultation.result.response["triage"] == answer["triage"]  # on screen
    text = consultation.message.text()
    assert text.startswith("Revise el peso: 40 kg está muy lejos de lo posible a esta edad"), text
    assert consultation.message.isVisible()

    type_value(qtbot, consultation.vitals["weight_kg"], "10,4")  # corrected, with the decimal comma
    diagnose(qtbot, consultation)
    assert consultation.message.text() == ""
