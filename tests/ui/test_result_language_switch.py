"""A language switch redraws the likely conditions in the new language only. The old rows were deleted when the
event loop next turned and stayed drawn until then: under Xvfb, "Neumonía (J18.9)" and "Pneumonia (J18.9)" sat on
top of each other after a switch made from a running screen. The real engine's answer in the real result widget;
the switch is made without returning to the event loop, as a slot does."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.i18n import translator
from app.ui.qt import QLabel
from app.ui.result_view import DiagnosisView

REQUEST = {"age": 1.2, "sex": "M", "symptoms": {"fiebre": 7, "tos": 4, "vomito": 5}}


def _shown_names(view: DiagnosisView) -> list[str]:
    box = view.conditions.parentWidget()
    assert box is not None
    return [w.text() for w in box.findChildren(QLabel) if not w.isHidden()]


def test_after_a_switch_only_the_new_languages_names_are_drawn(qtbot, engine) -> None:
    translator().set_language("es")
    view = DiagnosisView(engine.vocabulary)
    qtbot.addWidget(view)
    answer = engine.diagnose(REQUEST)
    view.show_response(REQUEST, answer)
    top = answer["top_conditions"]
    assert _shown_names(view) == [f"{c['name']['es']} ({c['code']})" for c in top]
    try:
        translator().set_language("en")
        assert _shown_names(view) == [f"{c['name']['en']} ({c['code']})" for c in top]
    finally:
        translator().set_language("es")


def test_the_age_unit_fits_its_longest_name_after_a_switch(qtbot) -> None:
    """«months» was cut to «month:» after a switch from Spanish: the unit kept the width of «meses»."""
    from app.ui.age_field import AgeField

    def shown(lang: str) -> AgeField:
        translator().set_language(lang)
        field = AgeField()
        qtbot.addWidget(field)
        field.retranslate()  # as the consultation screen labels it
        field.resize(300, field.sizeHint().height())  # the consultation's age row: room for the unit to grow
        field.show()
        qtbot.wait(20)
        return field

    try:
        english = shown("en")
        english_from_the_start = english.unit.width()
        switched = shown("es")
        translator().set_language("en")
        switched.retranslate()
        qtbot.wait(50)  # the layout settles, as on screen
        assert switched.unit.width() >= english_from_the_start
    finally:
        translator().set_language("es")
