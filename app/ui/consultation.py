"""The consultation screen: findings in, answer out, the doctor's confirmation to close.

Keyboard first: type in the search box to find a symptom (Spanish or English, accents optional), Down to reach the
list, number keys 0-9 to set an intensity (10 with "+" from 9 or the Right arrow), Left/Right to step it, Delete to
clear it, Ctrl+Enter to diagnose. Inference runs on the task manager's pool, never on the GUI thread.

The screen takes the whole diagnose contract v2: age in days, months or years; AVPU consciousness; pregnancy, shown
only for a woman of 10 to 60; the vitals and measurements; symptoms, examination signs (grouped as IMCI does) and
extra HPO findings, each on its own tab so the screen fits a 1366x768 laptop.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from app.core.contract import AVPU, ContractError
from app.core.engine import DiagnosisEngine
from app.core.predictor import Predictor
from app.ui.age_field import AgeField
from app.ui.clinical_text import avpu_text
from app.ui.i18n import tr, translator
from app.ui.pregnancy_field import PregnancyField, pregnancy_applies
from app.ui.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QEvent,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QKeyEvent,
    QKeySequence,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QObject,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QShortcut,
    QSplitter,
    Qt,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.result_view import DiagnosisView
from app.ui.sign_checklist import SignChecklist
from app.ui.symptoms_model import COL_INTENSITY, COL_SYMPTOM, COL_SYSTEM, SymptomFilter, SymptomTableModel
from app.ui.tasks import TaskManager
from app.ui.vital_fields import vital_fields

NOT_MEASURED = -1.0  # spin boxes show "—" at their minimum: the vital was not measured
TAB_SYMPTOMS, TAB_SIGNS, TAB_HPO = range(3)


def _load_terms(engine: DiagnosisEngine) -> Any:
    """The HPO term search of the engine's bundle (on a worker thread), or None for a bundle without an index."""
    from app.core.hpo_search import TermSearch

    return TermSearch.load(engine.bundle.path) if engine.rare is not None else None


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
            # Type to find: letters go to the search box.
            self.search.setFocus()
            self.search.setText(self.search.text() + text)
            return True
        return False


class ConsultationWidget(QWidget):
    diagnosed = Signal(dict, dict)  # request, response
    close_requested = Signal(str, str)  # confirmed diagnosis code, doctor's notes

    def __init__(self, engine: DiagnosisEngine, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.predictor: Predictor = engine  # the offline engine, or the mode-aware predictor (app/sync/predict.py)
        self.tasks = tasks
        vocabulary = engine.vocabulary
        self._last_request: dict[str, Any] | None = None

        # Patient -----------------------------------------------------------------------------------------------
        self.patient_label = QLabel()
        self.age = AgeField()
        self.sex = QComboBox()
        self.sex.addItem("", "F")
        self.sex.addItem("", "M")
        self.duration = QDoubleSpinBox()
        self.duration.setRange(NOT_MEASURED, 3650)
        self.duration.setDecimals(1)
        self.duration.setSpecialValueText("—")
        self.duration.setValue(NOT_MEASURED)
        self.consciousness = QComboBox()  # AVPU; the first item, "not assessed", sends nothing
        for level in (None, *AVPU):
            self.consciousness.addItem("", level)
        self.pregnancy = PregnancyField()
        # The contract takes a pregnancy only for a woman of 10 to 60: the field follows sex and age as they change.
        self.sex.currentIndexChanged.connect(self._update_pregnancy)
        self.age.changed.connect(self._update_pregnancy)

        # Vitals and measurements (contract v2 added weight, height, MUAC, capillary refill) ---------------------
        self.vital_fields = vital_fields(vocabulary)
        self.vitals: dict[str, QDoubleSpinBox] = {}
        self.vital_labels: dict[str, QLabel] = {}
        self.vitals_box = QGroupBox()
        vitals_grid = QGridLayout(self.vitals_box)
        vitals_grid.setVerticalSpacing(3)
        per_column = (len(self.vital_fields) + 1) // 2  # two columns: eleven rows would not fit a laptop screen
        for i, vital in enumerate(self.vital_fields):
            box = QDoubleSpinBox()
            box.setRange(vital.low - 1, vital.high)  # the value below the accepted range means "not measured"
            box.setDecimals(vital.decimals)
            box.setSpecialValueText("—")
            box.setValue(vital.low - 1)
            label = QLabel()
            label.setBuddy(box)
            self.vitals[vital.key] = box
            self.vital_labels[vital.key] = label
            row, column = i % per_column, 2 * (i // per_column)
            vitals_grid.addWidget(label, row, column)
            vitals_grid.addWidget(box, row, column + 1)
        vitals_grid.setColumnStretch(0, 1)
        vitals_grid.setColumnStretch(2, 1)

        # Symptoms ----------------------------------------------------------------------------------------------
        self.symptom_model = SymptomTableModel(vocabulary, self)  # owned by the screen: dies with it
        self.symptom_filter = SymptomFilter()
        self.symptom_filter.setSourceModel(self.symptom_model)
        self.search = QLineEdit()
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.symptom_filter.set_query)
        self.search.returnPressed.connect(self._focus_first_symptom)
        self.only_entered = QCheckBox()
        self.only_entered.toggled.connect(self.symptom_filter.set_only_entered)
        self.table = QTableView()
        self.table.setModel(self.symptom_filter)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_SYMPTOM, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_INTENSITY, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_SYSTEM, QHeaderView.ResizeMode.ResizeToContents)
        self.table.installEventFilter(_IntensityKeys(self.table, self.search))
        self.search.installEventFilter(self)
        self.entered_label = QLabel()

        # Extra findings as HPO terms (above all for the rare-disease ranking), searched in Spanish or English.
        self.terms: Any = None  # app.core.hpo_search.TermSearch, loaded on the pool (half a second)
        self.hpo_box = QWidget()  # the third tab
        self.hpo_search = QLineEdit()
        self.hpo_search.setClearButtonEnabled(True)
        self.hpo_search.textChanged.connect(self._search_terms)
        self.hpo_search.returnPressed.connect(self._add_first_term)
        self.hpo_results = QListWidget()
        self.hpo_results.itemActivated.connect(self._add_term)
        self.hpo_chosen = QListWidget()
        self.hpo_chosen.installEventFilter(self)
        self.hpo_chosen_label = QLabel()
        hpo_layout = QVBoxLayout(self.hpo_box)
        hpo_layout.setContentsMargins(6, 6, 6, 6)
        hpo_layout.addWidget(self.hpo_search)
        hpo_layout.addWidget(self.hpo_results, 1)
        hpo_layout.addWidget(self.hpo_chosen_label)
        hpo_layout.addWidget(self.hpo_chosen, 1)
        self.hpo_results.hide()
        self.hpo_chosen.hide()
        self.tasks.run(lambda: _load_terms(engine), self._terms_ready, lambda _e: self.hpo_box.setEnabled(False))
        self.symptom_model.intensities_changed.connect(self._update_entered)

        # Examination signs (contract v2), grouped as IMCI does.
        self.signs = SignChecklist()
        self.signs.changed.connect(self._update_entered)

        self.diagnose_button = QPushButton()
        self.diagnose_button.setDefault(True)
        self.diagnose_button.clicked.connect(self.diagnose)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.diagnose)
        self.clear_button = QPushButton()
        self.clear_button.clicked.connect(self.clear)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b71c1c;")

        # Result and confirmation ------------------------------------------------------------------------------
        self.result = DiagnosisView(vocabulary)
        self.confirm_box = QGroupBox()
        self.final_diagnosis = QComboBox()
        self.final_diagnosis.setEditable(True)  # an ORPHA code or another ICD-10 code can be typed
        self.notes = QPlainTextEdit()
        self.notes.setMaximumHeight(80)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self._request_close)
        confirm_form = QFormLayout(self.confirm_box)
        self.final_label, self.notes_label = QLabel(), QLabel()
        confirm_form.addRow(self.final_label, self.final_diagnosis)
        confirm_form.addRow(self.notes_label, self.notes)
        confirm_form.addRow(self.close_button)
        self.confirm_box.setEnabled(False)

        # Layout ------------------------------------------------------------------------------------------------
        self.patient_box = QGroupBox()
        patient_grid = QGridLayout(self.patient_box)
        patient_grid.setVerticalSpacing(3)
        self.age_label, self.sex_label, self.duration_label = QLabel(), QLabel(), QLabel()
        self.consciousness_label, self.pregnancy_label = QLabel(), QLabel()
        for label, field in ((self.age_label, self.age), (self.sex_label, self.sex),
                             (self.duration_label, self.duration), (self.consciousness_label, self.consciousness),
                             (self.pregnancy_label, self.pregnancy.status)):
            label.setBuddy(field)
        patient_grid.addWidget(self.patient_label, 0, 0, 1, 4)
        patient_grid.addWidget(self.age_label, 1, 0)
        patient_grid.addWidget(self.age, 1, 1)
        patient_grid.addWidget(self.sex_label, 1, 2)
        patient_grid.addWidget(self.sex, 1, 3)
        patient_grid.addWidget(self.consciousness_label, 2, 0)
        patient_grid.addWidget(self.consciousness, 2, 1)
        patient_grid.addWidget(self.duration_label, 2, 2)
        patient_grid.addWidget(self.duration, 2, 3)
        patient_grid.addWidget(self.pregnancy_label, 3, 0)  # the row folds away when the field does not apply
        patient_grid.addWidget(self.pregnancy, 3, 1, 1, 3)
        patient_grid.setColumnStretch(1, 3)
        patient_grid.setColumnStretch(3, 2)

        symptoms_page = QWidget()
        symptoms_layout = QVBoxLayout(symptoms_page)
        symptoms_layout.setContentsMargins(6, 6, 6, 4)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.only_entered)
        symptoms_layout.addLayout(search_row)
        symptoms_layout.addWidget(self.table, 1)
        symptoms_layout.addWidget(self.entered_label)
        # Symptoms, signs and extra findings share the room under the vitals; each tab says how many it holds.
        self.findings_tabs = QTabWidget()
        self.findings_tabs.addTab(symptoms_page, "")
        self.findings_tabs.addTab(self.signs, "")
        self.findings_tabs.addTab(self.hpo_box, "")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.patient_box)
        left_layout.addWidget(self.vitals_box)
        left_layout.addWidget(self.findings_tabs, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.diagnose_button)
        left_layout.addWidget(self.message)
        left_layout.addLayout(buttons)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.result)
        right_layout.addWidget(self.confirm_box)
        scroll = QScrollArea()
        scroll.setWidget(right)
        scroll.setWidgetResizable(True)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1000, 1000])  # half each to start: the inputs' size hint would take most of the width
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        # Tab goes through the patient's fields as they read, row by row, then down to the vitals.
        chain = [self.age.number, self.age.unit, self.sex, self.consciousness, self.duration, self.pregnancy.status,
                 self.pregnancy.number, *self.vitals.values()]
        for before, after in pairwise(chain):
            QWidget.setTabOrder(before, after)

        # A bound method, not a lambda: Qt disconnects it when the screen is destroyed.
        translator().language_changed.connect(self._language_changed)
        self.retranslate()
        self._update_pregnancy()

    # Text --------------------------------------------------------------------------------------------------------
    def _language_changed(self, _lang: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        pick = translator().pick
        self.patient_box.setTitle(tr("consult.patient"))
        self.age_label.setText(tr("consult.age"))
        self.age.retranslate()
        self.sex_label.setText(tr("consult.sex"))
        self.duration_label.setText(tr("consult.duration"))
        self.sex.setItemText(0, tr("consult.sex_f"))  # relabelled in place: the pregnancy field reacts to a change
        self.sex.setItemText(1, tr("consult.sex_m"))
        self.consciousness_label.setText(tr("consult.consciousness"))
        for i in range(self.consciousness.count()):
            self.consciousness.setItemText(i, avpu_text(self.consciousness.itemData(i)))
        self.consciousness.setToolTip(tr("consult.consciousness_tip"))
        self.pregnancy_label.setText(tr("pregnancy.title"))
        self.pregnancy.retranslate()
        self.vitals_box.setTitle(tr("consult.vitals"))
        for vital in self.vital_fields:
            label = f"{pick(vital.label)} ({pick(vital.unit)})"
            self.vital_labels[vital.key].setText(label)
            self.vitals[vital.key].setAccessibleName(label)
            self.vitals[vital.key].setToolTip(tr("consult.vital_range", low=f"{vital.low:g}",
                                                 high=f"{vital.high:g}"))
        self.hpo_chosen_label.setText(tr("consult.hpo_chosen"))
        self.hpo_search.setPlaceholderText(tr("consult.hpo_search"))
        self.search.setPlaceholderText(tr("consult.search"))
        self.only_entered.setText(tr("consult.only_entered"))
        self.diagnose_button.setText(tr("consult.diagnose"))
        self.clear_button.setText(tr("consult.clear"))
        self.confirm_box.setTitle(tr("consult.confirm"))
        self.final_label.setText(tr("consult.final_diagnosis"))
        self.notes_label.setText(tr("consult.notes"))
        self.close_button.setText(tr("consult.close"))
        self._fill_final_choices()
        self._update_entered()

    def _update_entered(self) -> None:
        symptoms = len(self.symptom_model.intensities())
        self.entered_label.setText(tr("consult.entered", count=symptoms))
        self.findings_tabs.setTabText(TAB_SYMPTOMS, tr("consult.tab_symptoms", count=symptoms))
        self.findings_tabs.setTabText(TAB_SIGNS, tr("consult.tab_signs", count=len(self.signs.checked())))
        self.findings_tabs.setTabText(TAB_HPO, tr("consult.tab_hpo", count=self.hpo_chosen.count()))
        self.hpo_chosen_label.setVisible(self.hpo_chosen.count() > 0)

    def _update_pregnancy(self) -> None:
        shown = pregnancy_applies(self.sex.currentData(), self.age.years())
        self.pregnancy_label.setVisible(shown)
        self.pregnancy.setVisible(shown)

    def _fill_final_choices(self) -> None:
        pick = translator().pick
        current = self.final_diagnosis.currentData()
        self.final_diagnosis.clear()
        codes: list[str] = []
        if self.result.response:
            codes += [c["code"] for c in self.result.response["top_conditions"]]
            codes += [d["orpha_code"] for d in self.result.response["rare_diseases"]]
        codes += [c.code for c in self.engine.vocabulary.conditions if c.code not in codes]
        for code in codes:
            if code.startswith("ORPHA:"):
                name = next(d["name"] for d in self.result.response["rare_diseases"]  # type: ignore[index]
                            if d["orpha_code"] == code)
            else:
                name = pick(self.engine.vocabulary.condition(code).name)
            self.final_diagnosis.addItem(f"{name} ({code})", code)
        if current:
            index = self.final_diagnosis.findData(current)
            self.final_diagnosis.setCurrentIndex(max(0, index))

    # Input -------------------------------------------------------------------------------------------------------
    def set_patient(self, name: str, age: float | None, sex: str) -> None:
        """A registered patient; `age` None (birth date unknown) leaves the age for the doctor to enter."""
        self.clear()
        self.patient_label.setText(name)
        self.age.set_years(age)
        self.sex.setCurrentIndex(0 if sex == "F" else 1)

    def request(self) -> dict[str, Any]:
        """The diagnose-contract (v2) request for what is on screen (validated by the engine, not here).

        Only what was entered is sent: a vital left at "—", AVPU not assessed, no pregnancy recorded (or a patient
        the pregnancy field does not apply to) and no ticked sign leave their field out.
        """
        vitals = {}
        for vital in self.vital_fields:
            box = self.vitals[vital.key]
            if box.value() >= vital.low:
                vitals[vital.key] = round(box.value(), vital.decimals)
        request: dict[str, Any] = {"sex": self.sex.currentData(),
                                   "symptoms": self.symptom_model.intensities(), "vitals": vitals}
        age = self.age.years()
        if age is not None:  # unknown: the contract's "age is required" asks for it
            request = {"age": age, **request}
        terms = self.chosen_terms()
        if terms:
            request["hpo_terms"] = terms
        if self.duration.value() >= 0:
            request["duration_days"] = self.duration.value()
        pregnancy = self.pregnancy.value()
        if pregnancy is not None and pregnancy_applies(request["sex"], age):
            request["pregnancy"] = pregnancy
        consciousness = self.consciousness.currentData()
        if consciousness:
            request["consciousness"] = consciousness
        signs = self.signs.checked()
        if signs:
            request["signs"] = signs
        return request

    def load_request(self, request: dict[str, Any]) -> None:
        """Put a saved request (a draft, a past encounter; contract v1 or v2) back on screen."""
        self.age.set_years(float(request["age"]) if request.get("age") is not None else None)
        self.sex.setCurrentIndex(0 if request.get("sex", "F") == "F" else 1)
        self.duration.setValue(float(request["duration_days"]) if request.get("duration_days") is not None
                               else NOT_MEASURED)
        for vital in self.vital_fields:
            value = (request.get("vitals") or {}).get(vital.key)
            self.vitals[vital.key].setValue(value if value is not None else vital.low - 1)
        self.symptom_model.set_intensities(request.get("symptoms", {}))
        self.hpo_chosen.clear()
        self.hpo_chosen.hide()
        for term in request.get("hpo_terms") or []:
            self._add_chosen(term)
        self.pregnancy.set_value(request.get("pregnancy"))
        self.consciousness.setCurrentIndex(max(0, self.consciousness.findData(request.get("consciousness"))))
        self.signs.set_checked(request.get("signs") or ())
        self._update_entered()

    def clear(self) -> None:
        self.symptom_model.clear()
        self.hpo_chosen.clear()
        self.hpo_chosen.hide()
        self.hpo_search.clear()
        self.search.clear()
        for vital in self.vital_fields:
            self.vitals[vital.key].setValue(vital.low - 1)
        self.duration.setValue(NOT_MEASURED)
        self.pregnancy.clear()
        self.consciousness.setCurrentIndex(0)
        self.signs.clear()
        self.findings_tabs.setCurrentIndex(TAB_SYMPTOMS)
        self._update_entered()
        self.notes.clear()
        self.message.clear()
        self.result.clear()
        self.confirm_box.setEnabled(False)
        self._last_request = None

    # Extra findings (HPO) ----------------------------------------------------------------------------------------
    def _terms_ready(self, terms: Any) -> None:
        self.terms = terms
        self.result.term_label = self.term_label
        self.hpo_box.setEnabled(True)

    def term_label(self, hpo: str) -> str:
        info = self.terms.term(hpo) if self.terms is not None else None
        return info.label(translator().lang) if info is not None else hpo

    def _search_terms(self, text: str) -> None:
        self.hpo_results.clear()
        matches = self.terms.search(text, limit=8, lang=translator().lang) if self.terms and text.strip() else []
        for match in matches:
            item = QListWidgetItem(f"{self.term_label(match.hpo_id)} ({match.hpo_id})")
            item.setData(Qt.ItemDataRole.UserRole, match.hpo_id)
            self.hpo_results.addItem(item)
        self.hpo_results.setVisible(bool(matches))

    def _add_first_term(self) -> None:
        if self.hpo_results.count():
            self._add_term(self.hpo_results.item(0))

    def _add_term(self, item: QListWidgetItem) -> None:
        self._add_chosen(item.data(Qt.ItemDataRole.UserRole))
        self.hpo_search.clear()

    def _add_chosen(self, hpo: str) -> None:
        if hpo in self.chosen_terms():
            return
        item = QListWidgetItem(f"✕ {self.term_label(hpo)} ({hpo})")
        item.setData(Qt.ItemDataRole.UserRole, hpo)
        item.setToolTip(tr("consult.hpo_remove"))
        self.hpo_chosen.addItem(item)
        self.hpo_chosen.show()
        self._update_entered()

    def chosen_terms(self) -> list[str]:
        return [self.hpo_chosen.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.hpo_chosen.count())]

    def _focus_first_symptom(self) -> None:
        if self.symptom_filter.rowCount() > 0:
            self.table.setFocus()
            self.table.setCurrentIndex(self.symptom_filter.index(0, COL_SYMPTOM))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Down arrow from the search box goes to the list, like a search field should.
        if (obj is self.search and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() == Qt.Key.Key_Down):
            self._focus_first_symptom()
            return True
        # Delete on a chosen extra finding removes it.
        if (obj is self.hpo_chosen and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.hpo_chosen.currentItem()):
            self.hpo_chosen.takeItem(self.hpo_chosen.currentRow())
            self.hpo_chosen.setVisible(self.hpo_chosen.count() > 0)
            self._update_entered()
            return True
        return super().eventFilter(obj, event)

    # Diagnose ----------------------------------------------------------------------------------------------------
    def diagnose(self) -> None:
        request = self.request()
        try:
            validated = self.engine.validate(request)  # cheap; errors shown at once, in the doctor's words
        except ContractError as exc:
            self.message.setText(exc.message(translator().lang))
            return
        self.message.clear()
        self.diagnose_button.setEnabled(False)
        predictor = self.predictor
        self.tasks.run(lambda: predictor.diagnose(validated),
                       lambda response: self._show(request, response),
                       self._failed)

    def _show(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        self.diagnose_button.setEnabled(True)
        self._last_request = request
        self.result.show_response(request, response)
        self._fill_final_choices()
        self.final_diagnosis.setCurrentIndex(0)
        self.confirm_box.setEnabled(True)
        self.diagnosed.emit(request, response)

    def _failed(self, error: BaseException) -> None:
        from app.ui.errors import show_error

        self.diagnose_button.setEnabled(True)
        show_error(self, error)

    def _request_close(self) -> None:
        code = self.final_diagnosis.currentData() or self.final_diagnosis.currentText().strip()
        if "(" in code and code.endswith(")"):  # typed text that matches an item label
            code = code.rsplit("(", 1)[1].rstrip(")")
        if not code:
            self.message.setText(tr("consult.need_final"))
            return
        self.close_requested.emit(code, self.notes.toPlainText().strip())

    def set_predictor(self, predictor: Predictor) -> None:
        self.predictor = predictor

    @property
    def last_request(self) -> dict[str, Any] | None:
        return self._last_request
