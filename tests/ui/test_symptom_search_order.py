"""Typing a word, Down and a number sets the symptom the word names, not a rarer, more alarming one that happens to
share it (found by entering patients: «cough» set Coughing up blood, «dificultad» Difficulty speaking, and a
9-month-old became an emergency for a possible stroke). Offscreen, the real consultation screen, the keyboard."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.i18n import translator
from tests.ui.test_consultation_v2 import type_symptom


@pytest.mark.parametrize(("language", "query", "expected"), [
    ("en", "cough", "tos"),  # the whole label comes first (Coughing up blood also starts with it)
    ("es", "tos", "tos"),
    ("es", "dificultad", "dificultad_respirar"),  # both labels hold the word: the common symptom first
    ("es", "respira", "dificultad_respirar"),  # not Pauses in breathing (apnoea)
    ("es", "dolor torac", "dolor_pecho"),
    ("es", "sed", "polidipsia"),
])
def test_the_first_match_is_the_symptom_the_word_names(qtbot, consultation_screen, language, query,
                                                       expected) -> None:
    translator().set_language(language)
    try:
        type_symptom(qtbot, consultation_screen, query, "6")
    finally:
        translator().set_language("es")
    assert consultation_screen.symptom_model.intensities() == {expected: 6}
