"""The explanation chart names the input that reads blood pressure in late pregnancy (features.pregnancy_pressure)
with the band this patient is in, short enough for the chart's label column (Xvfb showed the first wording cut)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from app.core.bundle import ModelBundle
from app.ui.explanation_chart import finding_label
from app.ui.i18n import translator


@pytest.mark.parametrize(("lang", "expected"), [
    ("es", ["PA embarazo/puerperio: no aplica", "PA embarazo/puerperio: no medida", "PA embarazo/puerperio: < 140/90",
            "PA embarazo/puerperio: ≥ 140/90", "PA embarazo/puerperio: ≥ 160/110"]),
    ("en", ["BP pregnancy/postpartum: not applicable", "BP pregnancy/postpartum: not measured",
            "BP pregnancy/postpartum: < 140/90", "BP pregnancy/postpartum: ≥ 140/90",
            "BP pregnancy/postpartum: ≥ 160/110"]),
])
def test_the_chart_says_which_band_of_pressure_in_pregnancy_the_patient_is_in(qtbot, lang, expected) -> None:
    vocabulary = ModelBundle.load().vocabulary
    late = {"status": "pregnant", "weeks": 30}
    requests = [{"pregnancy": {"status": "pregnant", "weeks": 12}, "vitals": {"systolic_bp": 170}},
                {"pregnancy": late, "vitals": {}},
                {"pregnancy": {"status": "postpartum", "days_since_delivery": 4}, "vitals": {"systolic_bp": 130}},
                {"pregnancy": late, "vitals": {"diastolic_bp": 92}},
                {"pregnancy": late, "vitals": {"systolic_bp": 150, "diastolic_bp": 112}}]
    translator().set_language(lang)
    try:
        labels = [finding_label("pregnancy_pressure", r, vocabulary) for r in requests]
    finally:
        translator().set_language("es")
    assert labels == expected
    assert max(len(label) for label in labels) <= 40  # the chart's label column
