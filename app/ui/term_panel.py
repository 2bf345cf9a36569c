"""The consultation's third tab: extra findings as HPO terms (above all for the rare-disease ranking).

Searched in Spanish or English as the doctor types; Return or a double click adds a term, Delete on a chosen term
takes it out. Each chosen term has a box to tick when the doctor looked for the finding and found it absent ("no
seizures"): it then goes to the request's `excluded_hpo_terms`, shown struck through and marked "(ausente)".
The term search of the bundle loads on the task manager's pool (half a second): the tab stays disabled until it
is there, and for a bundle without a rare-disease index.
"""

from __future__ import annotations

from typing import Any

from app.core.engine import DiagnosisEngine
from app.ui import operations as ops
from app.ui.i18n import tr, translator
from app.ui.qt import (
    QEvent,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QObject,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.tasks import TaskManager


class TermPanel(QWidget):
    changed = Signal()  # a term added or taken out
    ready = Signal()  # the term search has loaded

    def __init__(self, engine: DiagnosisEngine, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.terms: Any = None  # app.core.hpo_search.TermSearch
        self.search = QLineEdit()
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search)
        self.search.returnPressed.connect(self._add_first)
        self.results = QListWidget()
        self.results.itemActivated.connect(self._add_item)
        self.chosen = QListWidget()
        self.chosen.installEventFilter(self)
        self.chosen.itemChanged.connect(self._absent_toggled)
        self.chosen_label = QLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.search)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.chosen_label)
        layout.addWidget(self.chosen, 1)
        self.results.hide()
        self.chosen.hide()
        ops.Operations(tasks, parent=self).run(ops.load_term_search(engine), self._ready,
                                               lambda _e: self.setEnabled(False))

    def retranslate(self) -> None:
        self.chosen_label.setText(tr("consult.hpo_chosen"))
        self.search.setPlaceholderText(tr("consult.hpo_search"))
        for i in range(self.chosen.count()):
            self._show_item(self.chosen.item(i))

    def _ready(self, terms: Any) -> None:
        self.terms = terms
        self.setEnabled(True)
        self.ready.emit()

    def term_label(self, hpo: str) -> str:
        info = self.terms.term(hpo) if self.terms is not None else None
        return info.label(translator().lang) if info is not None else hpo

    def chosen_terms(self) -> list[str]:
        """The chosen terms present in the patient (the request's `hpo_terms`)."""
        return [hpo for hpo, absent in self._chosen() if not absent]

    def absent_terms(self) -> list[str]:
        """The chosen terms marked absent (the request's `excluded_hpo_terms`)."""
        return [hpo for hpo, absent in self._chosen() if absent]

    def _chosen(self) -> list[tuple[str, bool]]:
        items = (self.chosen.item(i) for i in range(self.chosen.count()))
        return [(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked) for item in items]

    def set_absent(self, hpo: str, absent: bool = True) -> None:
        """Mark a chosen term absent (or present again), as ticking its box does."""
        for i in range(self.chosen.count()):
            item = self.chosen.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == hpo:
                item.setCheckState(Qt.CheckState.Checked if absent else Qt.CheckState.Unchecked)

    def set_terms(self, terms: list[str], absent: list[str] | tuple[str, ...] = ()) -> None:
        """Show these terms as chosen, `absent` ones ticked (a saved visit), without announcing a change for each."""
        self.chosen.blockSignals(True)
        try:
            self.chosen.clear()
            for hpo in dict.fromkeys(terms):
                self._append(hpo)
            for hpo in dict.fromkeys(absent):
                if hpo not in terms:
                    self._append(hpo, absent=True)
        finally:
            self.chosen.blockSignals(False)
        self._chosen_shown()

    def clear(self) -> None:
        self.search.clear()
        self.set_terms([])

    def _search(self, text: str) -> None:
        self.results.clear()
        matches = self.terms.search(text, limit=8, lang=translator().lang) if self.terms and text.strip() else []
        for match in matches:
            item = QListWidgetItem(f"{self.term_label(match.hpo_id)} ({match.hpo_id})")
            item.setData(Qt.ItemDataRole.UserRole, match.hpo_id)
            self.results.addItem(item)
        self.results.setVisible(bool(matches))

    def _add_first(self) -> None:
        if self.results.count():
            self._add_item(self.results.item(0))

    def _add_item(self, item: QListWidgetItem) -> None:
        hpo = item.data(Qt.ItemDataRole.UserRole)
        if hpo not in [h for h, _absent in self._chosen()]:
            self.chosen.blockSignals(True)  # the new row's check box is set up, not ticked by the doctor
            try:
                self._append(hpo)
            finally:
                self.chosen.blockSignals(False)
            self._chosen_shown()
            self.changed.emit()
        self.search.clear()

    def _append(self, hpo: str, absent: bool = False) -> None:
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, hpo)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if absent else Qt.CheckState.Unchecked)
        self._show_item(item)
        self.chosen.addItem(item)

    def _show_item(self, item: QListWidgetItem) -> None:
        """The row's text, struck through and marked "(ausente)" when the finding is absent: at a glance the doctor
        must not read an absent finding as one the patient has."""
        hpo = item.data(Qt.ItemDataRole.UserRole)
        absent = item.checkState() == Qt.CheckState.Checked
        suffix = f" ({tr('consult.hpo_absent')})" if absent else ""
        blocked = self.chosen.blockSignals(True)  # a text or font change is not the doctor ticking the box
        try:
            item.setText(f"✕ {self.term_label(hpo)} ({hpo}){suffix}")
            font = item.font()
            font.setStrikeOut(absent)
            item.setFont(font)
            item.setToolTip(f"{tr('consult.hpo_absent_tip')} {tr('consult.hpo_remove')}")
        finally:
            self.chosen.blockSignals(blocked)

    def _absent_toggled(self, item: QListWidgetItem) -> None:
        self._show_item(item)
        self.changed.emit()

    def _chosen_shown(self) -> None:
        self.chosen.setVisible(self.chosen.count() > 0)
        self.chosen_label.setVisible(self.chosen.count() > 0)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Delete on a chosen extra finding removes it.
        if (obj is self.chosen and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.chosen.currentItem()):
            self.chosen.takeItem(self.chosen.currentRow())
            self._chosen_shown()
            self.changed.emit()
            return True
        return super().eventFilter(obj, event)
