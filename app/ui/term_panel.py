"""The consultation's third tab: extra findings as HPO terms (above all for the rare-disease ranking).

Searched in Spanish or English as the doctor types; Return or a double click adds a term, Delete on a chosen term
takes it out. The term search of the bundle loads on the task manager's pool (half a second): the tab stays
disabled until it is there, and for a bundle without a rare-disease index.
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

    def _ready(self, terms: Any) -> None:
        self.terms = terms
        self.setEnabled(True)
        self.ready.emit()

    def term_label(self, hpo: str) -> str:
        info = self.terms.term(hpo) if self.terms is not None else None
        return info.label(translator().lang) if info is not None else hpo

    def chosen_terms(self) -> list[str]:
        return [self.chosen.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.chosen.count())]

    def set_terms(self, terms: list[str]) -> None:
        """Show these terms as chosen (a saved visit), without announcing a change for each."""
        self.chosen.clear()
        for hpo in dict.fromkeys(terms):
            self._append(hpo)
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
        if hpo not in self.chosen_terms():
            self._append(hpo)
            self._chosen_shown()
            self.changed.emit()
        self.search.clear()

    def _append(self, hpo: str) -> None:
        item = QListWidgetItem(f"✕ {self.term_label(hpo)} ({hpo})")
        item.setData(Qt.ItemDataRole.UserRole, hpo)
        item.setToolTip(tr("consult.hpo_remove"))
        self.chosen.addItem(item)

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
