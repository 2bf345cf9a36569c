"""The pregnancy field of the consultation (contract v2 `pregnancy`): status, and weeks or days since delivery.

It exists only for women of 10 to 60 years (the contract refuses it for anyone else), so the consultation shows it
when sex and age say it applies and otherwise hides it and sends nothing. Its first choice, "not recorded", sends
nothing either, so a visit typed before the field existed reopens exactly as it was saved. Weeks or days left at
"—" are sent without a number, and the contract's message then asks for them: nothing is guessed.
"""

from __future__ import annotations

from typing import Any

from app.core.contract import POSTPARTUM_DAYS, PREGNANCY_WEEKS
from app.ui.clinical_text import pregnancy_status_text
from app.ui.i18n import tr
from app.ui.qt import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget, Signal
from app.ui.widgets import NumberField

NOT_RECORDED = ""
STATUSES = (NOT_RECORDED, "not_pregnant", "pregnant", "postpartum", "unknown")
# The number that goes with a status: its contract key and range.
NUMBER_FOR: dict[str, tuple[str, tuple[float, float]]] = {
    "pregnant": ("weeks", PREGNANCY_WEEKS),
    "postpartum": ("days_since_delivery", POSTPARTUM_DAYS),
}


class PregnancyField(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QComboBox()
        for status in STATUSES:
            self.status.addItem("", status)
        self.number = NumberField(*PREGNANCY_WEEKS)  # whole weeks or days; empty: not given
        self.number.setMaximumWidth(70)
        self.unit = QLabel()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        layout = QHBoxLayout()
        layout.addWidget(self.status, 1)
        layout.addWidget(self.number)
        layout.addWidget(self.unit)
        column.addLayout(layout)
        column.addWidget(self.number.message)
        self.status.currentIndexChanged.connect(self._status_changed)
        self.number.changed.connect(self.changed.emit)
        self._status_changed()
        self.retranslate()

    def retranslate(self) -> None:
        for i, status in enumerate(STATUSES):
            self.status.setItemText(i, pregnancy_status_text(status))
        self.status.setAccessibleName(tr("pregnancy.title"))
        self.unit.setText(tr("pregnancy.weeks") if self.current_status() == "pregnant"
                          else tr("pregnancy.days_since_delivery"))
        self.number.setAccessibleName(self.unit.text())

    def current_status(self) -> str:
        return str(self.status.currentData() or NOT_RECORDED)

    def _status_changed(self) -> None:
        # Weeks of gestation and days since delivery are different numbers: a new status starts from "—".
        status = self.current_status()
        number = NUMBER_FOR.get(status)
        if number is not None:
            low, high = number[1]
            self.number.set_range(low, high, 0)
            self.number.setValue(None)
        else:
            self.number.setValue(None)
        self.number.setVisible(number is not None)
        self.unit.setVisible(number is not None)
        self.retranslate()
        self.changed.emit()

    def value(self) -> dict[str, Any] | None:
        """The contract's `pregnancy` object, or None when not recorded."""
        status = self.current_status()
        if status == NOT_RECORDED:
            return None
        out: dict[str, Any] = {"status": status}
        number = NUMBER_FOR.get(status)
        given = self.number.value()
        if number is not None and given is not None:
            out[number[0]] = round(given)
        return out

    def set_value(self, pregnancy: dict[str, Any] | None) -> None:
        status = (pregnancy or {}).get("status") or NOT_RECORDED
        index = self.status.findData(status)
        self.status.setCurrentIndex(max(0, index))
        number = NUMBER_FOR.get(self.current_status())
        if number is not None:  # also when the status did not change, so an old number never lingers
            given = (pregnancy or {}).get(number[0])
            self.number.setValue(None if given is None else round(float(given)))

    def clear(self) -> None:
        self.set_value(None)
