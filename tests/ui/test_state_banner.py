"""The state banner never puts the model's confidence in one state beside another state.

`confidence` is the state model's probability of its own most likely state. When the triage raises the state (a
danger sign makes it ENFERMEDAD_AGUDA), the banner read "ENFERMEDAD AGUDA — confianza del modelo 51 %" beside a
model whose 51 % was for "Molestias leves": a tired doctor reads that as the model's certainty of the emergency.
Driven through the real consultation screen, keyboard and engine.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.core.vocabulary import STATE_LABELS
from app.ui.i18n import translator
from app.ui.qt import Qt
from tests.ui.test_consultation import type_symptom
from tests.ui.test_consultation_v2 import type_value

WAIT = 10_000


def enter_mild_case(qtbot, consultation) -> None:
    type_value(qtbot, consultation.age.number, "40")
    for query, level in (("tos", "3"), ("dolor de garganta", "4"), ("congestion", "3")):
        type_symptom(qtbot, consultation, query, level)


def diagnose(qtbot, consultation) -> dict:
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        qtbot.keyClick(consultation, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    return blocker.args[1]


def models_own_state(response: dict) -> str:
    probabilities = response["severity_probabilities"]
    return max(probabilities, key=probabilities.get)


def test_a_danger_sign_raises_the_state_and_the_banner_says_whose_confidence_it_is(qtbot, consultation_screen):
    consultation = consultation_screen
    enter_mild_case(qtbot, consultation)
    plain = diagnose(qtbot, consultation)
    assert plain["triage"]["level"] != "EMERGENCIA"
    assert plain["severity"] == models_own_state(plain)  # nothing raised: the plain banner
    assert consultation.result.banner.text() == (
        f"{STATE_LABELS[plain['severity']]['es']} — confianza del modelo {round(100 * plain['confidence'])}\u00a0%")

    type_value(qtbot, consultation.vitals["spo2"], "86")  # SpO2 <= 91: a danger sign (NEWS2, IMCI)
    raised = diagnose(qtbot, consultation)
    assert raised["triage"]["level"] == "EMERGENCIA" and raised["severity"] == "ENFERMEDAD_AGUDA"
    own = models_own_state(raised)
    assert own != "ENFERMEDAD_AGUDA"  # the model alone would not call it acute: the triage raised it
    text = consultation.result.banner.text()
    assert text == (f"ENFERMEDAD AGUDA (por el triaje) — el modelo solo: {STATE_LABELS[own]['es']}, "
                    f"{round(100 * raised['confidence'])}\u00a0%")
    assert "confianza del modelo" not in text

    translator().set_language("en")  # the same answer in English, redrawn on the language change
    try:
        qtbot.waitUntil(lambda: "set by the triage" in consultation.result.banner.text(), timeout=WAIT)
        assert STATE_LABELS[own]["en"] in consultation.result.banner.text()
    finally:
        translator().set_language("es")
