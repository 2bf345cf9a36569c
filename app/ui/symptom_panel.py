"""The consultation's first tab: the symptom list with its search, driven from the keyboard.

Type in the search box to find a symptom (Spanish or English, accents optional), Return or Down to reach the list,
number keys 0-9 to set an intensity (10 with "+" from 9 or the Right arrow), Left/Right to step it, Delete to clear
it; a letter typed on the list starts a new search.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.core.vocabulary import Vocabulary
from app.ui.i18n import tr
from app.ui.qt import (
    QCheckBox,
    QEvent,
    QHBoxLayout,
    QHeaderView,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QObject,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from app.ui.symptoms_model import COL_INTENSITY, COL_SYMPTOM, COL_SYSTEM, SymptomFilter, SymptomTableModel
from app.ui.widgets import row_table


class _IntensityKeys(QObject):
    """Number keys and arrows on the symptom list set the intensity of the current row."""

    def __init__(self, view: QTableView, search: QLineEdit) -> None:
        super().__init__(view)
        self.view = view
        self.search = search

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        index = self.view.currentIndex()
        key, text = event.key(), event.text()
        if index.isValid():
            cell = index.siblingAtColumn(COL_INTENSITY)
            value = int(cell.data(Qt.ItemDataRole.EditRole) or 0)
            new = None
            if text.isdigit():
                new = int(text)
            elif key in (Qt.Key.Key_Right, Qt.Key.Key_Plus):
                new = value + 1
            elif key in (Qt.Key.Key_Left, Qt.Key.Key_Minus):
                new = value - 1
            elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                new = 0
            if new is not None:
                self.view.model().setData(cell, max(0, min(10, new)), Qt.ItemDataRole.EditRole)
                return True
        if text and text.isprintable() and not text.isdigit() and text not in "+-":
            # Type to find: a letter typed on the list starts a new search (appending it to the last search,
            # "fiebre" + "tos", found nothing); the next letters go on in the search box.
            self.search.setFocus()
            self.search.setText(text)
            return True
        return False


class SymptomPanel(QWidget):
    def __init__(self, vocabulary: Vocabulary, parent: QWidget | None = None,
                 commonness: Mapping[str, float] | None = None) -> None:
        super().__init__(parent)
        self.model = SymptomTableModel(vocabulary, self, commonness)  # owned by the panel: dies with it
        self.filter = SymptomFilter()
        self.filter.setSourceModel(self.model)
        self.search = QLineEdit()
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.filter.set_query)
        self.search.returnPressed.connect(self.focus_first)
        self.search.installEventFilter(self)
        self.only_entered = QCheckBox()
        self.only_entered.toggled.connect(self.filter.set_only_entered)
        self.table = row_table(self.filter)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_SYMPTOM, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_INTENSITY, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_SYSTEM, QHeaderView.ResizeMode.ResizeToContents)
        self.table.installEventFilter(_IntensityKeys(self.table, self.search))
        self.entered_label = QLabel()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 4)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.only_entered)
        layout.addLayout(search_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.entered_label)

    def retranslate(self) -> None:
        self.search.setPlaceholderText(tr("consult.search"))
        self.only_entered.setText(tr("consult.only_entered"))
        self.entered_label.setText(tr("consult.entered", count=len(self.model.intensities())))

    def clear(self) -> None:
        self.only_entered.setChecked(False)
        self.model.clear()
        self.search.clear()

    def focus_first(self) -> None:
        if self.filter.rowCount() > 0:
            self.table.setFocus()
            self.table.setCurrentIndex(self.filter.index(0, COL_SYMPTOM))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Down arrow from the search box goes to the list, like a search field should.
        if (obj is self.search and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() == Qt.Key.Key_Down):
            self.focus_first()
            return True
        return super().eventFilter(obj, event)
