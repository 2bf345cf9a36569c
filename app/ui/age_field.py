"""The age field of the consultation: a number and its unit (days, months, years), or empty when unknown.

A newborn's age is days, an infant's months; a single "years" box with one decimal turned a 5-day-old into 0.0,
which the screen then took for "not given". The field keeps the exact contract age (years as a float) and shows it
in the unit a clinician says aloud; empty means unknown, and the request then carries no age, so the contract's
"age is required" message asks the doctor for it instead of anything being guessed.
"""

from __future__ import annotations

from app.core.age import UNITS, natural_unit, to_years
from app.ui.i18n import tr
from app.ui.qt import QComboBox, QDoubleSpinBox, QHBoxLayout, QWidget, Signal

UNKNOWN = -1.0
MAXIMUM = {"days": 60.0, "months": 36.0, "years": 120.0}


class AgeField(QWidget):
    changed = Signal()  # the number or its unit changed (the pregnancy field follows the age)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number = QDoubleSpinBox()
        self.number.setDecimals(1)
        self.number.setSpecialValueText("—")
        self.unit = QComboBox()
        for unit in UNITS:
            self.unit.addItem("", unit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.number, 1)
        layout.addWidget(self.unit)
        self.unit.currentIndexChanged.connect(self._unit_changed)
        self.number.valueChanged.connect(lambda _v: self.changed.emit())
        self._unit_changed()
        self.set_years(None)
        self.retranslate()

    def retranslate(self) -> None:
        for i, unit in enumerate(UNITS):
            self.unit.setItemText(i, tr(f"age.{unit}"))
        self.number.setAccessibleName(tr("consult.age"))

    def _unit_changed(self) -> None:
        self.number.setRange(UNKNOWN, MAXIMUM[self.current_unit()])
        self.changed.emit()

    def current_unit(self) -> str:
        return str(self.unit.currentData())

    def set_years(self, years: float | None) -> None:
        """Show `years` in its natural unit; None empties the field (unknown age)."""
        if years is None:
            self.number.setValue(UNKNOWN)
            return
        value, unit = natural_unit(years)
        self.unit.setCurrentIndex(UNITS.index(unit))
        self.number.setValue(value)

    def years(self) -> float | None:
        """The contract age in years, or None while the field is empty."""
        value = self.number.value()
        if value <= UNKNOWN:
            return None
        return to_years(value, self.current_unit())
