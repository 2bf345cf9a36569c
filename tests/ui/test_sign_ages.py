"""The examination tab offers the signs of the patient's age (signs.toml's `ages`), through the real consultation
screen: a 78-year-old is not offered young-infant or breastfeeding signs, a 1-month-old is; the list follows the age
as it is typed; a sign the doctor ticked never leaves the screen nor the request."""

from __future__ import annotations

import pytest

from app.core.signs import signs
from app.ui.consultation import TAB_SIGNS, ConsultationWidget
from app.ui.qt import QModelIndex, Qt
from app.ui.sign_checklist import CODE_ROLE
from tests.ui.test_consultation_v2 import choose, diagnose, tick_sign, type_symptom, type_value

YOUNG_INFANT = ("movement_only_when_stimulated", "umbilicus_red_or_pus", "skin_pustules")
BREASTFEEDING = "unable_to_drink_or_breastfeed"


@pytest.fixture
def consultation(consultation_screen):
    return consultation_screen


def open_signs_tab(qtbot, widget: ConsultationWidget) -> None:
    bar = widget.findings_tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(TAB_SIGNS).center())
    assert widget.findings_tabs.currentWidget() is widget.signs


def on_screen(widget: ConsultationWidget, code: str) -> bool:
    """Whether the doctor can see the sign's row: a row the view hides has no place on screen."""
    view = widget.signs.view
    index = widget.signs.index_of(code)
    view.scrollTo(index)
    return view.visualRect(index).isValid() and not view.visualRect(index).isEmpty()


def young_infant_heading_shown(widget: ConsultationWidget) -> bool:
    model = widget.signs.model
    row = next(r for r in range(model.rowCount()) if model.item(r).data(CODE_ROLE) == "young_infant")
    return not widget.signs.view.isRowHidden(row, QModelIndex())


def test_a_78_year_old_sees_no_young_infant_or_breastfeeding_sign_and_a_1_month_old_does(qtbot, consultation):
    open_signs_tab(qtbot, consultation)
    assert all(on_screen(consultation, s.code) for s in signs().signs)  # no age yet: every sign

    type_value(qtbot, consultation.age.number, "78")
    assert consultation.age.years() == 78
    for code in (*YOUNG_INFANT, BREASTFEEDING, "grunting", "vomits_everything"):
        assert not on_screen(consultation, code), code
    assert not young_infant_heading_shown(consultation)  # no empty heading either
    for code in ("convulsions_this_illness", "lethargic_or_unconscious", "cold_extremities", "fang_marks"):
        assert on_screen(consultation, code), code  # meaningful in an adult too
    assert set(consultation.signs.shown()) == {s.code for s in signs().for_age(78)}

    # The same screen, the age changed to 1 month: the list follows at once.
    choose(qtbot, consultation.age.unit, "months")
    type_value(qtbot, consultation.age.number, "1")
    assert consultation.age.years() == pytest.approx(1 / 12, abs=1e-4)
    for code in (*YOUNG_INFANT, BREASTFEEDING, "grunting"):
        assert on_screen(consultation, code), code
    assert young_infant_heading_shown(consultation)


def test_a_ticked_sign_stays_on_screen_and_in_the_request_when_the_age_changes(qtbot, consultation):
    choose(qtbot, consultation.age.unit, "months")
    type_value(qtbot, consultation.age.number, "1")
    choose(qtbot, consultation.sex, "F")
    type_symptom(qtbot, consultation, "fiebre", "6")
    type_symptom(qtbot, consultation, "tos", "3")
    tick_sign(qtbot, consultation, "umbilicus_red_or_pus")
    tick_sign(qtbot, consultation, BREASTFEEDING)
    assert consultation.signs.checked() == [BREASTFEEDING, "umbilicus_red_or_pus"]

    # The age was a slip: 1 year, then 78. What the doctor ticked is never dropped, silently or otherwise.
    choose(qtbot, consultation.age.unit, "years")
    type_value(qtbot, consultation.age.number, "78")
    assert consultation.age.years() == 78
    assert on_screen(consultation, "umbilicus_red_or_pus") and on_screen(consultation, BREASTFEEDING)
    assert young_infant_heading_shown(consultation)  # its heading with it
    for code in ("movement_only_when_stimulated", "skin_pustules", "grunting"):  # the rest of the list follows
        assert not on_screen(consultation, code), code
    assert consultation.signs.checked() == [BREASTFEEDING, "umbilicus_red_or_pus"]
    assert "(2)" in consultation.findings_tabs.tabText(TAB_SIGNS)
    # And the answer reads them: the contract accepts them, the danger-sign rule still fires at 78.
    assert consultation.request()["signs"] == [BREASTFEEDING, "umbilicus_red_or_pus"]
    response = diagnose(qtbot, consultation)
    assert "IMCI_DANGER_SIGN" in [r["code"] for r in response["triage"]["reasons"]]
