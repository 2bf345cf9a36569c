"""The symptom list of a consultation as a Qt model: one row per vocabulary symptom, grouped by body system.

The doctor types to find a symptom and sets its intensity with the number keys or the arrows; the proxy filters by
the label in either language and by the key, ignoring accents and case, because nobody types "náusea" correctly at
the end of a long day.
"""

from __future__ import annotations

from typing import Any

from app.core.symptom_search import fold, found, haystack, lay_terms, search_words, starts_a_word
from app.core.vocabulary import Vocabulary
from app.ui.i18n import tr, translator
from app.ui.qt import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

ModelIndex = QModelIndex | QPersistentModelIndex
COL_SYMPTOM, COL_INTENSITY, COL_SYSTEM = range(3)
MAX_INTENSITY = 10


def intensity_text(value: int) -> str:
    return "—" if value == 0 else f"{value:>2}  " + "▮" * value + "▯" * (MAX_INTENSITY - value)


class SymptomTableModel(QAbstractTableModel):
    intensities_changed = Signal()

    def __init__(self, vocabulary: Vocabulary, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.vocabulary = vocabulary
        order = {system: i for i, system in enumerate(vocabulary.systems)}
        self._symptoms = sorted(vocabulary.symptoms, key=lambda s: (order.get(s.system, 99), s.label["es"]))
        self._values = {s.key: 0 for s in self._symptoms}
        translator().language_changed.connect(self._relabel)

    # Qt model interface -------------------------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._symptoms)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 3

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        symptom = self._symptoms[index.row()]
        value = self._values[symptom.key]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == COL_SYMPTOM:
                return translator().pick(symptom.label)
            if index.column() == COL_INTENSITY:
                return intensity_text(value)
            return translator().pick(self.vocabulary.systems[symptom.system])
        if role == Qt.ItemDataRole.EditRole and index.column() == COL_INTENSITY:
            return value
        if role == Qt.ItemDataRole.UserRole:
            return symptom.key
        if role == Qt.ItemDataRole.FontRole and value > 0:
            from app.ui.qt import QFont

            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{symptom.label['es']} / {symptom.label['en']} ({symptom.hpo} {symptom.hpo_label})"
        if role == Qt.ItemDataRole.AccessibleTextRole and index.column() == COL_INTENSITY:
            return tr("consult.intensity_accessible", value=value)
        return None

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != COL_INTENSITY or role != Qt.ItemDataRole.EditRole:
            return False
        key = self._symptoms[index.row()].key
        new = max(0, min(MAX_INTENSITY, int(value)))
        if new == self._values[key]:
            return False
        self._values[key] = new
        left, right = self.index(index.row(), 0), self.index(index.row(), 2)
        self.dataChanged.emit(left, right)
        self.intensities_changed.emit()
        return True

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() == COL_INTENSITY else base

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return (tr("consult.symptom"), tr("consult.intensity"), tr("consult.system"))[section]
        return None

    # Domain ------------------------------------------------------------------------------------------------------
    def intensities(self) -> dict[str, int]:
        """The symptoms entered (intensity >= 1), as the diagnose contract takes them."""
        return {k: v for k, v in self._values.items() if v > 0}

    def set_intensities(self, values: dict[str, int]) -> None:
        self.beginResetModel()
        self._values = {s.key: int(values.get(s.key, 0)) for s in self._symptoms}
        self.endResetModel()
        self.intensities_changed.emit()

    def clear(self) -> None:
        self.set_intensities({})

    def match_rank(self, row: int, words: list[str]) -> int:
        """How well the typed words name this row's symptom, best first: 0 its label (in the screen's language)
        starts with them, 1 each starts a word of a label, 2 each starts a word of a label or of its everyday words
        (app/core/data/symptom_terms.toml), 3 each is inside a label, 4 inside a label or its everyday words, 5
        only the key or the body system matches. «torac» must put "Dolor torácico" above "Expectoración" (a chest
        symptom), «sed» "Polidipsia" (mucha sed) above "Hinchazón localizada" (localised)."""
        if not words:
            return 0
        s = self._symptoms[row]
        own = fold(translator().pick(s.label))
        labels = f"{fold(s.label['es'])} {fold(s.label['en'])}"
        everyday = f"{labels} {lay_terms().get(s.key, '')}"
        if own.startswith(" ".join(words)):
            return 0
        for rank, names, test in ((1, labels, starts_a_word), (2, everyday, starts_a_word), (3, labels, found),
                                  (4, everyday, found)):
            if all(test(word, names) for word in words):
                return rank
        return 5

    def search_text(self, row: int) -> str:
        s = self._symptoms[row]
        return haystack(s.key, s.label, self.vocabulary.systems[s.system]["es"])

    def _relabel(self, _lang: str) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 2)
        if self._symptoms:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._symptoms) - 1, 2))


class SymptomFilter(QSortFilterProxyModel):
    """Rows whose names contain every word typed (app/core/symptom_search.py); optionally only those entered."""

    def __init__(self) -> None:
        super().__init__()
        self._words: list[str] = []
        self._only_entered = False

    def set_query(self, text: str) -> None:
        self.beginFilterChange()
        self._words = search_words(fold(text))
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self.invalidate()  # re-rank: the best-named symptom first, so Down then a number sets the right one
        self.sort(0)

    def lessThan(self, left: ModelIndex, right: ModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, SymptomTableModel)
        return ((model.match_rank(left.row(), self._words), left.row())
                < (model.match_rank(right.row(), self._words), right.row()))

    def set_only_entered(self, only: bool) -> None:
        self.beginFilterChange()
        self._only_entered = only
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, SymptomTableModel)
        if self._only_entered:
            key = model.index(source_row, 0).data(Qt.ItemDataRole.UserRole)
            if model.intensities().get(key, 0) == 0:
                return False
        names = model.search_text(source_row)
        return all(found(word, names) for word in self._words)
