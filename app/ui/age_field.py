"""The age field of the consultation: a number and its unit (days, months, years), or empty when unknown.

A newborn's age is days, an infant's months; a single "years" box with one decimal turned a 5-day-old into 0.0,
which the screen then took for "not given". The field keeps the exact contract age (years as a float) and shows it
in the unit a clinician says aloud; empty means unknown, and the request then carries no age, so the contract's
"age is required" message asks the doctor for it instead of anything being guessed.
"""

from __future__ import annotations

from app.core.age import UNITS, natural_unit, to_years
from app.ui.i18n import tr
from app.ui.qt import QComboBox, QHBoxLayout, QVBoxLayout, QWidget, Signal
from app.ui.widgets import NumberField

MAXIMUM = {"days": 60.0, "months": 36.0, "years": 120.0}


class AgeField(QWidget):
    changed = Signal()  # the number or its unit changed (the pregnancy field follows the age)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number = NumberField(0, MAXIMUM["years"], 1)  # empty: unknown
        self.unit = QComboBox()
        # Sized to the language shown, not the first one: "meses" fits where "months" was cut after a switch.
        self.unit.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for unit in UNITS:
            self.unit.addItem("", unit)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        layout = QHBoxLayout()
        layout.addWidget(self.number, 1)
        layout.addWidget(self.unit)
        column.addLayout(layout)
        column.addWidget(self.number.message)  # "out of range" and the like, beside the number
        self.unit.currentIndexChanged.connect(self._unit_changed)
        self.number.changed.connect(self.changed.emit)
        self._unit_changed()
        self.set_years(None)
        self.retranslate()

    def retranslate(self) -> None:
        for i, unit in enumerate(UNITS):
            self.unit.setItemText(i, tr(f"age.{unit}"))
        self.number.setAccessibleName(tr("consult.age"))

    def _unit_changed(self) -> None:
        self.number.set_range(0, MAXIMUM[self.current_unit()])
        self.number.show_error()
        self.changed.emit()

    def current_unit(self) -> str:
        return str(self.unit.currentData())

    def set_years(self, years: float | None) -> None:
        """Show `years` in its natural unit; None empties the field (unknown age)."""
        if years is None:
            self.number.setValue(None)
            return
        value, unit = natural_unit(years)
        self.unit.setCurrentIndex(UNITS.index(unit))
        self.number.setValue(value)

    def years(self) -> float | None:
        """The contract age in years, or None while the field is empty."""
        value = self.number.value()
        if value is None:  # empty, or a number the field refused (its message says why)
            return None
        return to_years(value, self.current_unit())
