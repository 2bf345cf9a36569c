"""The examination signs of a consultation (contract v2 `signs`) as a checklist grouped as the WHO IMCI chart does.

The signs and their groups come from the contract's own vocabulary (`app.core.signs`), not from the model bundle, so
every sign the danger-sign rules read can be ticked whatever bundle is installed. The list is a Qt tree: a group is
a row that folds (click it, or Left/Right), a sign is a row with a check box that a click anywhere on the row or
the space bar ticks, which keeps 30-odd signs usable on a small screen. Each sign shows its source as a tooltip.

The list shows only the signs that apply at the patient's age (signs.toml says which, from each sign's source), so
a 78-year-old is not offered "unable to breastfeed" nor grunting, while a 1-month-old gets the young-infant signs:
`set_age` follows the age field. Likewise only those of the patient's sex (a man is not offered vaginal bleeding):
`set_sex` follows the sex field. A ticked sign always stays on screen whatever its ages and sex: what the doctor
entered is never hidden, and is sent as entered (the contract accepts it, the danger-sign rules read it at any age).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from app.core.signs import SignVocabulary, signs
from app.ui.i18n import translator
from app.ui.qt import (
    QAbstractItemModel,
    QAbstractItemView,
    QEvent,
    QModelIndex,
    QMouseEvent,
    QPersistentModelIndex,
    QStandardItem,
    QStandardItemModel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    Qt,
    QTreeView,
    QVBoxLayout,
    QWidget,
    Signal,
)

log = logging.getLogger(__name__)
CODE_ROLE = Qt.ItemDataRole.UserRole + 1


class _RowTicks(QStyledItemDelegate):
    """A click anywhere on a sign's row ticks it, not only on the small box (a tired hand misses the box)."""

    def editorEvent(self, event: QEvent, model: QAbstractItemModel, option: QStyleOptionViewItem,
                    index: QModelIndex | QPersistentModelIndex) -> bool:
        checkable = bool(index.flags() & Qt.ItemFlag.ItemIsUserCheckable)
        if checkable and isinstance(event, QMouseEvent):
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            if event.type() != QEvent.Type.MouseButtonRelease:  # press and double click: the release decides
                return True
            state = Qt.CheckState(index.data(Qt.ItemDataRole.CheckStateRole))
            new = Qt.CheckState.Unchecked if state == Qt.CheckState.Checked else Qt.CheckState.Checked
            return model.setData(index, new, Qt.ItemDataRole.CheckStateRole)
        return super().editorEvent(event, model, option, index)


class SignChecklist(QWidget):
    changed = Signal()

    def __init__(self, vocabulary: SignVocabulary | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vocabulary = vocabulary or signs()
        self.model = QStandardItemModel(self)
        self._groups: dict[str, QStandardItem] = {}
        self._signs: dict[str, QStandardItem] = {}
        for group, members in self.vocabulary.by_group():
            header = QStandardItem()
            header.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            font = header.font()
            font.setBold(True)
            header.setFont(font)
            header.setData(group, CODE_ROLE)
            for sign in members:
                item = QStandardItem()
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setData(sign.code, CODE_ROLE)
                item.setToolTip("\n".join(t for t in (sign.source, sign.ages_note, sign.sex_note) if t))
                header.appendRow(item)
                self._signs[sign.code] = item
            self.model.appendRow(header)
            self._groups[group] = header

        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setHeaderHidden(True)
        self.view.setUniformRowHeights(True)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setExpandsOnDoubleClick(False)
        self.view.setItemDelegate(_RowTicks(self.view))
        self.view.setStyleSheet("QTreeView::item { padding: 2px 0px; }")  # taller rows: easier to hit
        self.view.clicked.connect(self._fold)
        self.view.expandAll()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

        self._updating = False
        self._age: float | None = None  # unknown: every sign is shown
        self._sex: str | None = None  # likewise
        self.model.itemChanged.connect(self._item_changed)
        translator().language_changed.connect(self._language_changed)  # bound: disconnected when destroyed
        self.retranslate()

    def _language_changed(self, _lang: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        pick = translator().pick
        self._updating = True
        try:
            for group, header in self._groups.items():
                ticked = sum(1 for i in range(header.rowCount())
                             if header.child(i).checkState() == Qt.CheckState.Checked)
                name = pick(self.vocabulary.groups[group])
                header.setText(f"{name} ({ticked})" if ticked else name)
            for code, item in self._signs.items():
                item.setText(pick(self.vocabulary.sign(code).label))
        finally:
            self._updating = False

    def _item_changed(self, item: QStandardItem) -> None:
        if self._updating or item.data(CODE_ROLE) not in self._signs:
            return
        self.retranslate()  # the group's count
        self.changed.emit()

    def _fold(self, index: QModelIndex) -> None:
        if not index.parent().isValid():  # a group row: a click folds or unfolds it
            self.view.setExpanded(index, not self.view.isExpanded(index))

    def set_age(self, age: float | None) -> None:
        """Show the signs that apply at `age` (contract years; None, an age not given yet, shows every sign)."""
        self._age = age
        self._show_for_patient()

    def set_sex(self, sex: str | None) -> None:
        """Show the signs of a patient of `sex` ("F"/"M"; None, not given yet, hides nothing by sex)."""
        self._sex = sex
        self._show_for_patient()

    def _show_for_patient(self) -> None:
        # Only on a new age, sex or record, not on each tick: a sign unticked outside its ages or sex stays under
        # the pointer until the patient changes, rather than vanishing as the doctor clicks it.
        for header in self._groups.values():
            shown = 0
            for row in range(header.rowCount()):
                item = header.child(row)
                visible = (item.checkState() == Qt.CheckState.Checked
                           or self.vocabulary.applies(item.data(CODE_ROLE), self._age, self._sex))
                self.view.setRowHidden(row, header.index(), not visible)
                shown += visible
            self.view.setRowHidden(header.row(), QModelIndex(), shown == 0)  # no empty "young infant" heading

    def shown(self) -> list[str]:
        """The signs on screen (those of the age and sex, and every ticked one), in the vocabulary's order."""
        return [code for code, item in self._signs.items()
                if not self.view.isRowHidden(item.row(), item.parent().index())
                and not self.view.isRowHidden(item.parent().row(), QModelIndex())]

    def index_of(self, code: str) -> QModelIndex:
        """The row of a sign (for the view's keyboard and mouse)."""
        return self._signs[code].index()

    def checked(self) -> list[str]:
        """The ticked signs, in the vocabulary's order."""
        return [code for code, item in self._signs.items() if item.checkState() == Qt.CheckState.Checked]

    def set_checked(self, codes: Iterable[str]) -> None:
        wanted = set(codes)
        unknown = wanted - set(self._signs)
        if unknown:  # a record from a newer vocabulary: say so in the log rather than fail to open it
            log.warning("signs not in this version's list, not shown: %s", sorted(unknown))
        self._updating = True
        try:
            for code, item in self._signs.items():
                item.setCheckState(Qt.CheckState.Checked if code in wanted else Qt.CheckState.Unchecked)
        finally:
            self._updating = False
        for code in wanted & set(self._signs):  # a ticked sign is never hidden in a folded group
            self.view.expand(self._signs[code].parent().index())
        self._show_for_patient()  # nor by its ages or sex: a record may hold a sign outside them
        self.retranslate()
        self.changed.emit()

    def clear(self) -> None:
        self.set_checked(())
