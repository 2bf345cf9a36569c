"""A likely condition that asks for same-day action shows PRIORITARIO and what to do today, on the consultation
screen a doctor uses (offscreen, real engine, typed with the keyboard; app/core/priority_conditions.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.i18n import translator
from tests.ui.test_consultation_v2 import choose, diagnose, type_symptom, type_value


def test_a_girl_with_measles_is_seen_before_the_queue_and_told_to_isolate(qtbot, consultation_screen) -> None:
    widget = consultation_screen
    type_value(qtbot, widget.age.number, "6")
    choose(qtbot, widget.sex, "F")
    type_value(qtbot, widget.duration, "3")
    for query, level in (("fiebre", "8"), ("erupcion", "8"), ("tos", "6"), ("ojos rojos", "6"),
                         ("congestion", "4")):
        type_symptom(qtbot, widget, query, level)
    response = diagnose(qtbot, widget)
    assert response["triage"]["level"] == "PRIORITARIO"
    result = widget.result
    assert "PRIORITARIO" in result.triage_banner.text()
    assert "Posible sarampión: aislar de la sala de espera" in result.triage_reasons.text()
    translator().set_language("en")
    try:
        assert "Possible measles: isolate from the waiting room" in result.triage_reasons.text()
    finally:
        translator().set_language("es")
