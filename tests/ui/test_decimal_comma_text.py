"""Numbers written into sentences follow the laptop's locale, as the number boxes already did: on a Colombian laptop
the explanation, the referral letter and the range message say 38,5 °C, not 38.5 (found by entering patients: the
boxes showed 38,5 and the texts around them 38.5)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.ui.clinical_text import vital_text
from app.ui.i18n import translator
from app.ui.qt import QLocale
from app.ui.vital_fields import vital_fields
from app.ui.widgets import NumberField, format_number


@pytest.fixture
def colombian_laptop():
    before = QLocale()
    QLocale.setDefault(QLocale("es_CO"))
    translator().set_language("es")
    yield
    QLocale.setDefault(before)


def test_sentences_write_the_decimal_comma(engine, colombian_laptop, qtbot) -> None:
    temperature = next(f for f in vital_fields(engine.vocabulary) if f.key == "temperature_c")
    assert vital_text(temperature, 38.5, "es") == "Temperatura 38,5 °C"
    assert format_number(0.5) == "0,5" and format_number(300.0) == "300"
    box = NumberField(0.3, 300, 1)
    qtbot.addWidget(box)
    box.setText("700")
    assert box.error() == "Fuera de rango: de 0,3 a 300."


def test_an_english_laptop_writes_the_point(engine, qtbot) -> None:
    before = QLocale()
    QLocale.setDefault(QLocale("en_US"))
    try:
        temperature = next(f for f in vital_fields(engine.vocabulary) if f.key == "temperature_c")
        assert vital_text(temperature, 38.5, "en") == "Temperature 38.5 °C"
    finally:
        QLocale.setDefault(before)
