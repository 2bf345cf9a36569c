"""A date of birth typed with the keyboard is saved as written, or refused with a message: never silently changed
or dropped (found by entering patients with Qt's date box: from "desconocida", 2025-03-15 was saved as unknown;
over a date, 2025-03-15 typed with dashes became 2025-01-03; its calendar opened in January 1900)."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("pytestqt")

from app.ui.date_field import NotADate, parse_birth_date
from app.ui.i18n import translator
from app.ui.patients import PatientDialog
from app.ui.qt import QDialogButtonBox, Qt

TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(("typed", "born"), [
    ("15/03/2025", dt.date(2025, 3, 15)), ("15-3-2025", dt.date(2025, 3, 15)), ("15.03.2025", dt.date(2025, 3, 15)),
    ("2025-03-15", dt.date(2025, 3, 15)), (" 02/04/1955 ", dt.date(1955, 4, 2)), ("", None), ("  ", None),
])
def test_the_ways_a_clinic_writes_a_date(typed: str, born: dt.date | None) -> None:
    assert parse_birth_date(typed, TODAY) == born


@pytest.mark.parametrize(("typed", "key"), [
    ("31/02/2020", "patients.birth_format"), ("15/03/25", "patients.birth_format"),
    ("marzo 2020", "patients.birth_format"), ("02/12/2026", "patients.birth_future"),
    ("01/01/1899", "patients.birth_format"),
])
def test_what_is_not_a_date_of_birth_says_why(typed: str, key: str) -> None:
    with pytest.raises(NotADate) as refused:
        parse_birth_date(typed, TODAY)
    assert refused.value.key == key


def _dialog(qtbot) -> PatientDialog:
    translator().set_language("es")
    dialog = PatientDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.given, "Rosa")
    qtbot.keyClicks(dialog.family, "Villca")
    return dialog


def _save(dialog: PatientDialog) -> None:
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save).click()


@pytest.mark.parametrize("typed", ["15/03/2025", "2025-03-15"])
def test_typed_after_the_name_with_tab_it_is_saved_as_written(qtbot, typed: str) -> None:
    dialog = _dialog(qtbot)
    dialog.activateWindow()
    dialog.document.setFocus()
    qtbot.waitUntil(dialog.document.hasFocus)
    qtbot.keyClick(dialog.document, Qt.Key.Key_Tab)  # the date comes after the document number
    assert dialog.birth.text.hasFocus()
    qtbot.keyClicks(dialog.birth.text, typed)
    _save(dialog)
    assert dialog.result() == 1 and dialog.values()["birth_date"] == dt.date(2025, 3, 15)


def test_over_a_date_already_there_the_new_one_replaces_it(qtbot) -> None:
    dialog = _dialog(qtbot)
    dialog.birth.setDate(dt.date(1980, 1, 1))
    dialog.birth.text.setFocus()
    qtbot.keyClick(dialog.birth.text, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(dialog.birth.text, "02/04/1955")
    assert dialog.birth.date() == dt.date(1955, 4, 2)


def test_a_half_typed_or_future_date_is_not_saved_as_unknown(qtbot) -> None:
    dialog = _dialog(qtbot)
    qtbot.keyClicks(dialog.birth.text, "15/03/20")
    _save(dialog)
    assert dialog.result() == 0 and dialog.isVisible()
    assert dialog.birth.message.isVisible() and "15/03/2025" in dialog.birth.message.text()
    dialog.birth.text.clear()
    qtbot.keyClicks(dialog.birth.text, "02/12/2099")
    _save(dialog)
    assert dialog.result() == 0 and dialog.birth.message.text() == "La fecha de nacimiento es posterior a hoy."
    dialog.birth.text.clear()  # empty: unknown, said and saved so
    _save(dialog)
    assert dialog.result() == 1 and dialog.values()["birth_date"] is None


def test_the_calendar_opens_on_today_not_in_1900(qtbot) -> None:
    dialog = _dialog(qtbot)
    qtbot.mouseClick(dialog.birth.calendar_button, Qt.MouseButton.LeftButton)
    calendar = dialog.birth._calendar
    assert calendar is not None and calendar.isVisible()
    today = dt.date.today()
    assert (calendar.selectedDate().year(), calendar.selectedDate().month()) == (today.year, today.month)
    calendar.clicked.emit(calendar.selectedDate().addYears(-3))
    assert dialog.birth.date() == today.replace(year=today.year - 3) and not calendar.isVisible()
