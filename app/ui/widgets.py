"""Input widgets that behave on a clinic laptop: numbers typed as a clinician writes them, a wheel that never
changes a value by accident, and a label that never widens the window.

- `NumberField` takes "38.5" and "38,5" whatever the system locale, and refuses (with a message beside the field)
  any value it cannot take exactly: too many digits, out of range, not a number. A spin box silently cut "38.5"
  to 38 under a Spanish locale, 9999 to 99 and "385" to 38, and turned an out-of-range value into "—".
- `WheelGuard`, installed once on the application, makes every combo box and spin box ignore the mouse wheel
  unless it has the keyboard focus, so scrolling a panel never changes the final diagnosis under the pointer.
- `ElidedLabel` shows "María José de los …" with the whole text as its tooltip, so a long name cannot push the
  window wider than the screen.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from app.ui.i18n import tr
from app.ui.qt import (
    QAbstractItemModel,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QEvent,
    QFontMetrics,
    QLabel,
    QLineEdit,
    QLocale,
    QObject,
    QResizeEvent,
    QSize,
    QSizePolicy,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
    Signal,
)

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
ERROR_STYLE = "color: #b71c1c;"


class NumberField(QLineEdit):
    """A number with a range and a number of decimals; empty means "not given" when the field is optional.

    `value()` is the number exactly as typed, or None while the field is empty or refused; `error()` says why it
    was refused, in the doctor's language, and `message` (a label the layout puts beside the field, see
    `with_message`) shows it once the doctor leaves the field or asks for a diagnosis.
    """

    changed = Signal()

    def __init__(self, low: float, high: float, decimals: int = 0, *, optional: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high, self.decimals, self.optional = low, high, decimals, optional
        self.message = QLabel()
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setWordWrap(True)
        self.message.hide()
        self.setPlaceholderText("—")
        self.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.textChanged.connect(self._text_changed)
        self.editingFinished.connect(self.show_error)

    def set_range(self, low: float, high: float, decimals: int | None = None) -> None:
        self.low, self.high = low, high
        if decimals is not None:
            self.decimals = decimals
        self._text_changed()

    def _parse(self) -> tuple[Decimal | None, str | None]:
        text = self.text().strip().replace(" ", "")
        if not text:
            return None, (None if self.optional else tr("number.required"))
        if not _NUMBER.match(text):
            return None, tr("number.invalid")
        try:
            number = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return None, tr("number.invalid")
        exponent = number.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if places > self.decimals:
            return None, (tr("number.whole") if self.decimals == 0
                          else tr("number.too_precise", decimals=self.decimals))
        if not Decimal(str(self.low)) <= number <= Decimal(str(self.high)):
            return None, tr("number.out_of_range", low=format_number(self.low), high=format_number(self.high))
        return number, None

    def value(self) -> float | None:
        number, _error = self._parse()
        return None if number is None else float(number)

    def error(self) -> str | None:
        return self._parse()[1]

    def setValue(self, value: float | None) -> None:
        self.setText("" if value is None else format_number(value, self.decimals))
        self.show_error()

    def clear(self) -> None:
        super().clear()
        self.show_error()

    def show_error(self) -> None:
        """Show (or take away) the message beside the field."""
        error = self.error()
        self.message.setText(error or "")
        self.message.setVisible(bool(error))
        self.setStyleSheet("QLineEdit { border: 2px solid #b71c1c; }" if error else "")

    def _text_changed(self, *_args: object) -> None:
        if self.message.isVisible() and not self.error():  # corrected: the message goes at once
            self.show_error()
        self.changed.emit()


def format_number(value: float, decimals: int | None = None) -> str:
    """A number as the doctor's locale writes it ("38,5" in Colombia), with no useless zeros."""
    text = f"{value:.{decimals}f}" if decimals is not None else f"{value:g}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", QLocale().decimalPoint())


def with_message(field: NumberField) -> QWidget:
    """The field with its message under it, as one cell of a form or grid."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(field)
    layout.addWidget(field.message)
    return box


class WheelGuard(QObject):
    """Combo boxes and spin boxes take the wheel only while they have the keyboard focus.

    Installed on the application, so every such widget in every window is covered, including those made later.
    A refused wheel event is ignored, not eaten: Qt then hands it to the parent, and the panel scrolls as the
    doctor meant. The focus policy drops "wheel focus", or the wheel would give the box its focus first.
    """

    _installed: WheelGuard | None = None

    @classmethod
    def install(cls) -> None:
        app = QApplication.instance()
        if app is None or cls._installed is not None:
            return
        cls._installed = cls(app)
        app.installEventFilter(cls._installed)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Polish and isinstance(obj, QComboBox | QAbstractSpinBox):
            if obj.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        elif kind == QEvent.Type.Wheel and isinstance(obj, QComboBox | QAbstractSpinBox) and not obj.hasFocus():
            event.ignore()
            return True
        return False


class ElidedLabel(QLabel):
    """One line of text cut with "…" to the width it is given; the whole text is its tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:
        return QSize(20, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(20, self.width())
        shown = QFontMetrics(self.font()).elidedText(self._full, Qt.TextElideMode.ElideRight, width)
        super().setText(shown)


def row_table(model: QAbstractItemModel) -> QTableView:
    """A read-only list in rows (patients, accounts, symptoms): one whole row selected at a time, no row numbers;
    keys act on the current row (the screens add their own), a double click or Return never edits a cell."""
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    return table
