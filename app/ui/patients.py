"""Patients: a searchable list (Qt model/view with a proxy for sorting), the patient form, and the history of
encounters of the selected patient.

Searches go to the store on the database worker, debounced so that typing "mar gom" sends one query, not seven.
The store's parts hand out frozen records (app/store/records.py); the widgets keep them as plain dicts, which
Qt signals carry as they are.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from app.core.age import age_in_years, format_age
from app.ui.date_field import BirthDateField
from app.ui.document_types import DEFAULT_COUNTRY, document_text, document_types, label_key
from app.ui.i18n import tr, translator
from app.ui.qt import (
    QAbstractTableModel,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QKeySequence,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QModelIndex,
    QPersistentModelIndex,
    QPlainTextEdit,
    QPushButton,
    QShortcut,
    QSortFilterProxyModel,
    QSplitter,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.widgets import row_table

if TYPE_CHECKING:
    from app.store.records import EncounterRecord, PatientRecord

ModelIndex = QModelIndex | QPersistentModelIndex
SEARCH_DELAY_MS = 250
COLUMNS = ("name", "document", "age", "sex", "village")


def patient_row(p: PatientRecord) -> dict[str, Any]:
    """A patient record as the list and the form use it (empty text for what the clinic did not record)."""
    return {
        "id": p.id, "given_names": p.given_names, "family_names": p.family_names,
        "document_type": p.document_type, "document_number": p.document_number or "",
        "birth_date": p.birth_date, "sex": p.sex, "village": p.village or "", "phone": p.phone or "",
        "notes": p.notes or "",
    }


def encounter_row(e: EncounterRecord) -> dict[str, Any]:
    """An encounter record as the history list and the referral letter use it."""
    return {
        "id": e.id, "started_at": e.started_at, "closed_at": e.closed_at, "status": e.status,
        "severity": e.severity, "requires_attention": e.requires_attention, "final_code": e.final_code,
        "notes": e.notes or "", "request": e.request, "response": e.response, "model_version": e.model_version,
    }


class PatientTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._rows: list[dict[str, Any]] = []
        translator().language_changed.connect(
            lambda _lang: self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1))

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def row(self, index: int) -> dict[str, Any]:
        return self._rows[index]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        p = self._rows[index.row()]
        column = COLUMNS[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == "name":
                return f"{p['family_names']}, {p['given_names']}"
            if column == "document":
                return document_text(p["document_type"], p["document_number"])
            if column == "age":
                age = age_in_years(p["birth_date"])
                if role == Qt.ItemDataRole.DisplayRole:
                    return format_age(age, translator().lang)
                return age
            if column == "sex":
                return p["sex"]
            return p["village"]
        if role == Qt.ItemDataRole.UserRole:
            return p["id"]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(f"patients.col_{COLUMNS[section]}")
        return None


class PatientDialog(QDialog):
    """Create or edit a patient. Required: names, sex; the rest as the clinic knows it. The document types offered
    are those of the clinic's `country` (its COUNTRY setting) that a person of the birth date's age can hold."""

    def __init__(self, parent: QWidget | None, patient: dict[str, Any] | None = None,
                 country: str = DEFAULT_COUNTRY) -> None:
        super().__init__(parent)
        self.country = country
        self.setWindowTitle(tr("patients.edit_title") if patient else tr("patients.new_title"))
        self.given = QLineEdit()
        self.family = QLineEdit()
        self.document_type = QComboBox()  # the documents a person of the birth date's age can hold
        self._stored_type = patient["document_type"] if patient else None  # kept even if the age rule changed
        self.document = QLineEdit()
        # Typed as the clinic writes it or picked on a calendar; empty is unknown: a patient is never silently given
        # a birth date (app/ui/date_field.py).
        self.birth = BirthDateField()
        self._fill_document_types()
        self.birth.dateChanged.connect(lambda _d: self._fill_document_types())
        self.sex = QComboBox()
        self.sex.addItem(tr("consult.sex_f"), "F")
        self.sex.addItem(tr("consult.sex_m"), "M")
        self.village = QLineEdit()
        self.phone = QLineEdit()
        self.notes = QPlainTextEdit()
        self.notes.setMaximumHeight(70)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b71c1c;")
        form = QFormLayout(self)
        form.addRow(tr("patients.given_names"), self.given)
        form.addRow(tr("patients.family_names"), self.family)
        form.addRow(tr("patients.document_type"), self.document_type)
        form.addRow(tr("patients.document_number"), self.document)
        form.addRow(tr("patients.birth_date"), self.birth)
        form.addRow(tr("consult.sex"), self.sex)
        form.addRow(tr("patients.village"), self.village)
        form.addRow(tr("patients.phone"), self.phone)
        form.addRow(tr("patients.notes"), self.notes)
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        if patient:
            self._fill(patient)

    def _fill(self, patient: dict[str, Any]) -> None:
        """The fields from a patient row, or from `values()` as typed (None: left empty)."""
        self.given.setText(patient["given_names"])
        self.family.setText(patient["family_names"])
        if patient["birth_date"]:
            self.birth.setDate(patient["birth_date"])
        self.document_type.setCurrentIndex(max(0, self.document_type.findData(patient["document_type"])))
        self.document.setText(patient["document_number"] or "")
        self.sex.setCurrentIndex(0 if patient["sex"] == "F" else 1)
        self.village.setText(patient["village"] or "")
        self.phone.setText(patient["phone"] or "")
        self.notes.setPlainText(patient["notes"] or "")

    def refill(self, typed: dict[str, Any], problem: str) -> None:
        """The form again as the clerk typed it (`values()`), `problem` under it, the document number to correct."""
        self._fill(typed)
        self.error.setText(problem)
        self.document.setFocus()
        self.document.selectAll()

    def _fill_document_types(self) -> None:
        born = self.birth_date()
        current = self.document_type.currentData()
        codes = document_types(age_in_years(born) if born else None, self.country)
        if self._stored_type and self._stored_type not in codes:
            codes.append(self._stored_type)  # a record is never changed behind the clerk's back
        self.document_type.clear()
        for code in codes:
            self.document_type.addItem(tr(label_key(code, self.country)), code)
        self.document_type.setCurrentIndex(max(0, self.document_type.findData(current)))

    def _accept(self) -> None:
        if not self.given.text().strip() or not self.family.text().strip():
            self.error.setText(tr("patients.need_names"))
            return
        if self.birth.problem() is not None:  # a date half typed or impossible is never saved as "unknown"
            self.birth.show_problem()  # under the field, once
            self.error.setText("")
            return
        self.accept()

    def birth_date(self) -> dt.date | None:
        return self.birth.date()

    def values(self) -> dict[str, Any]:
        return {
            "given_names": self.given.text().strip(), "family_names": self.family.text().strip(),
            "document_type": self.document_type.currentData(),
            "document_number": self.document.text().strip() or None,
            "birth_date": self.birth_date(), "sex": self.sex.currentData(),
            "village": self.village.text().strip() or None, "phone": self.phone.text().strip() or None,
            "notes": self.notes.toPlainText().strip() or None,
        }


class PatientsWidget(QWidget):
    """The list, search, and history. Emits `consult_requested(patient)` to open a consultation."""

    consult_requested = Signal(dict)
    search_requested = Signal(str)
    new_requested = Signal()
    edit_requested = Signal(dict)
    history_requested = Signal(str)  # patient id
    encounter_opened = Signal(dict)  # an encounter row from the history

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PatientTableModel()
        self.proxy = QSortFilterProxyModel()
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.EditRole)
        self.search = QLineEdit()
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(lambda: self.search_requested.emit(self.search.text().strip()))
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.search.returnPressed.connect(self._consult_current)
        self.table = row_table(self.proxy)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _i: self._consult_current())
        # Enter on the list opens the consultation of the current row, as the guide says (the list had no key for it).
        for key in ("Return", "Enter"):
            QShortcut(QKeySequence(key), self.table, self._consult_current,
                      context=Qt.ShortcutContext.WidgetShortcut)
        self.table.selectionModel().currentRowChanged.connect(self._selection_changed)
        self.count = QLabel()
        self.new_button, self.edit_button, self.consult_button = QPushButton(), QPushButton(), QPushButton()
        self.new_button.clicked.connect(self.new_requested)
        self.edit_button.clicked.connect(self._edit_current)
        self.consult_button.clicked.connect(self._consult_current)
        self.history_title = QLabel()
        self.history = QListWidget()
        self.history.itemActivated.connect(lambda item: self.encounter_opened.emit(item.data(Qt.ItemDataRole.UserRole)))

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.search)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.count)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.edit_button)
        buttons.addStretch(1)
        buttons.addWidget(self.consult_button)
        left_layout.addLayout(buttons)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.history_title)
        right_layout.addWidget(self.history, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        # A bound method, not a lambda: Qt disconnects it when the window is destroyed.
        translator().language_changed.connect(self._language_changed)
        self.retranslate()
        self._selection_changed()

    def _language_changed(self, _lang: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        self.search.setPlaceholderText(tr("patients.search"))
        self.new_button.setText(tr("patients.new"))
        self.edit_button.setText(tr("patients.edit"))
        self.consult_button.setText(tr("patients.consult"))
        self.history_title.setText(tr("patients.history"))
        self.count.setText(tr("patients.count", count=self.model.rowCount()))

    def show_results(self, rows: list[dict[str, Any]]) -> None:
        self.model.set_rows(rows)
        self.count.setText(tr("patients.count", count=len(rows)))
        if rows:
            self.table.selectRow(0)
        self._selection_changed()

    def clear(self) -> None:
        """Nothing of the last search on screen: its words, its patients, their history."""
        self._debounce.stop()
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.show_results([])

    def show_history(self, encounters: list[dict[str, Any]], labels: dict[str, dict[str, str]]) -> None:
        self.history.clear()
        pick = translator().pick
        for e in encounters:
            when = e["started_at"].astimezone().strftime("%Y-%m-%d %H:%M") if e["started_at"] else ""
            state = pick(labels[e["severity"]]) if e["severity"] in labels else "—"
            status = tr("patients.closed") if e["status"] == "closed" else tr("patients.draft")
            final = f" · {e['final_code']}" if e["final_code"] else ""
            item = QListWidgetItem(f"{when} · {state}{final} · {status}")
            item.setData(Qt.ItemDataRole.UserRole, e)
            self.history.addItem(item)
        if not encounters:
            self.history.addItem(tr("patients.no_history"))

    def _edit_current(self) -> None:
        patient = self.current()
        if patient is not None:
            self.edit_requested.emit(patient)

    def current(self) -> dict[str, Any] | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.model.row(self.proxy.mapToSource(index).row())

    def _selection_changed(self, *_args: object) -> None:
        patient = self.current()
        self.edit_button.setEnabled(patient is not None)
        self.consult_button.setEnabled(patient is not None)
        self.history.clear()
        if patient is not None:
            self.history_requested.emit(patient["id"])

    def _consult_current(self) -> None:
        patient = self.current()
        if patient is not None:
            self.consult_requested.emit(patient)
