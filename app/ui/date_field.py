"""A date of birth typed as the clinic writes it, or picked on a calendar, or left empty for "unknown".

Qt's date box was no good for typing: from its "unknown" text, "2025-03-15" became "desconocida0250315" and was
saved as unknown; over a date, its sections moved on by themselves and "2025-03-15" typed with the dashes the box
itself showed was stored as 2025-01-03; its calendar opened in January 1900. A wrong birth date is a wrong age, and
the age chooses the infant triage limits, the signs offered and the document types. Here the text is read as a whole:
day/month/year as written in Latin America (15/03/2025, 15-3-2025, 15.03.2025) or year-month-day (2025-03-15); empty
is unknown; anything else, or a day after today, is said under the field and never saved.
"""

from __future__ import annotations

import datetime as dt
import re

from app.ui.i18n import tr
from app.ui.qt import (
    QCalendarWidget,
    QDate,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    Qt,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)

_DAY_FIRST = re.compile(r"^(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})$")
_YEAR_FIRST = re.compile(r"^(\d{4})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})$")
EARLIEST = dt.date(1900, 1, 1)


class NotADate(ValueError):
    """The text is not a date of birth; `key` is the message's translation key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_birth_date(text: str, today: dt.date | None = None) -> dt.date | None:
    """The date the text says (None: empty, unknown), or NotADate."""
    text = text.strip()
    if not text:
        return None
    day_first, year_first = _DAY_FIRST.match(text), _YEAR_FIRST.match(text)
    if day_first:
        day, month, year = (int(g) for g in day_first.groups())
    elif year_first:
        year, month, day = (int(g) for g in year_first.groups())
    else:
        raise NotADate("patients.birth_format")
    try:
        born = dt.date(year, month, day)
    except ValueError:
        raise NotADate("patients.birth_format") from None
    if born > (today or dt.date.today()):
        raise NotADate("patients.birth_future")
    if born < EARLIEST:
        raise NotADate("patients.birth_format")
    return born


def written(day: dt.date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


class BirthDateField(QWidget):
    """The text box, a calendar button, and the message under them. `date()` is the date typed (None: unknown or
    not a date yet; `problem()` says which); `dateChanged` follows every change of it."""

    dateChanged = Signal(object)  # dt.date | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLineEdit()
        self.text.setPlaceholderText(tr("patients.birth_placeholder"))
        self.text.textChanged.connect(self._changed)
        self.calendar_button = QToolButton()
        self.calendar_button.setText("…")
        self.calendar_button.setToolTip(tr("patients.birth_calendar"))
        self.calendar_button.setAccessibleName(tr("patients.birth_calendar"))
        self.calendar_button.clicked.connect(self._open_calendar)
        self.message = QLabel()
        self.message.setStyleSheet("color: #b71c1c;")
        self.message.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.calendar_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.setFocusProxy(self.text)
        self._date: dt.date | None = None
        self._problem: str | None = None
        self._calendar: QCalendarWidget | None = None

    def setDate(self, day: dt.date | QDate | None) -> None:
        if isinstance(day, QDate):
            day = dt.date(day.year(), day.month(), day.day())
        self.text.setText("" if day is None or day <= EARLIEST else written(day))

    def date(self) -> dt.date | None:
        return self._date

    def problem(self) -> str | None:
        """Why the text is not a date of birth (its message), or None."""
        return None if self._problem is None else tr(self._problem)

    def _changed(self, text: str) -> None:
        before = self._date
        try:
            self._date, self._problem = parse_birth_date(text), None
        except NotADate as exc:
            self._date, self._problem = None, exc.key
        # Said while typing only once the text could be whole (a full year typed), not at the first digit.
        complete = self._problem is not None and len(re.sub(r"\D", "", text)) >= 6
        self.message.setText(tr(self._problem) if complete and self._problem else "")
        self.message.setVisible(bool(complete))
        if self._date != before:
            self.dateChanged.emit(self._date)

    def show_problem(self) -> None:
        """The message, whatever was typed (on saving)."""
        if self._problem is not None:
            self.message.setText(tr(self._problem))
            self.message.show()
            self.text.setFocus()

    def _open_calendar(self) -> None:
        if self._calendar is None:
            self._calendar = QCalendarWidget()
            self._calendar.setWindowFlags(Qt.WindowType.Popup)
            self._calendar.setMinimumDate(QDate(EARLIEST.year, EARLIEST.month, EARLIEST.day))
            self._calendar.clicked.connect(self._picked)
        today = dt.date.today()
        self._calendar.setMaximumDate(QDate(today.year, today.month, today.day))
        # It opens on the date typed, else on today: a patient is more likely born this decade than in 1900.
        shown = self._date or today
        self._calendar.setSelectedDate(QDate(shown.year, shown.month, shown.day))
        self._calendar.move(self.text.mapToGlobal(self.text.rect().bottomLeft()))
        self._calendar.show()
        self._calendar.setFocus()

    def _picked(self, day: QDate) -> None:
        self.setDate(day)
        if self._calendar is not None:
            self._calendar.hide()
        self.text.setFocus()
