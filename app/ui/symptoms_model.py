"""The symptom list of a consultation as a Qt model: one row per vocabulary symptom, grouped by body system.

The doctor types to find a symptom and sets its intensity with the number keys or the arrows; the proxy filters by
the label in either language and by the key, ignoring accents and case, because nobody types "náusea" correctly at
the end of a long day.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    def __init__(self, vocabulary: Vocabulary, parent: QObject | None = None,
                 commonness: Mapping[str, float] | None = None) -> None:
        super().__init__(parent)
        self.vocabulary = vocabulary
        # How common each symptom is (FindingDistributions.symptom_commonness): among equally good matches the more
        # common comes first, so «cough» then Down and a number sets Cough, not Coughing up blood.
        self._commonness = dict(commonness or {})
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
        """How well the typed words name this row's symptom, best first: 0 they are its whole label (in the screen's
        language), 1 each starts a word of a label or of its everyday words (app/core/data/symptom_terms.toml), 2
        each is inside a label or its everyday words, 3 only the key or the body system matches. «torac» must put
        "Dolor torácico" above "Expectoración" (a chest symptom). Within a rank the more common symptom comes first
        (`commonness`): a label that starts with the words is no better than an everyday name that holds them, so
        «dificultad» gives "Disnea" (dificultad para respirar) before "Dificultad para hablar", «respira» before
        "Pausas en la respiración (apnea)", «cough» "Cough" (its whole label) before "Coughing up blood"."""
        if not words:
            return 0
        s = self._symptoms[row]
        if fold(translator().pick(s.label)) == " ".join(words):
            return 0
        everyday = f"{fold(s.label['es'])} {fold(s.label['en'])} {lay_terms().get(s.key, '')}"
        if all(starts_a_word(word, everyday) for word in words):
            return 1
        return 2 if all(found(word, everyday) for word in words) else 3

    def commonness(self, row: int) -> float:
        return self._commonness.get(self._symptoms[row].key, 0.0)

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
        return ((model.match_rank(left.row(), self._words), -model.commonness(left.row()), left.row())
                < (model.match_rank(right.row(), self._words), -model.commonness(right.row()), right.row()))

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
