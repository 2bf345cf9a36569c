"""The consultation screen: findings in, answer out, the doctor's confirmation to close.

A view of one `ConsultationSession` (app/core/consultation_session.py), which holds the consultation's state: every
field writes its finding there, and the request, whether the answer is out of date and what closing needs are read
back from it. The symptom list (app/ui/symptom_panel.py) and the extra HPO findings (app/ui/term_panel.py) are
widgets of their own; Ctrl+Enter diagnoses from anywhere on the screen. Inference runs on the task manager's pool,
never on the GUI thread.

The screen takes the whole diagnose contract v2: age in days, months or years; AVPU consciousness; pregnancy, shown
only for a woman of 10 to 60; the vitals and measurements; symptoms, examination signs (grouped as IMCI does) and
extra HPO findings, each on its own tab so the screen fits a 1366x768 laptop.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from app.core.consultation_session import Answer, ConsultationSession, Findings, final_code, pregnancy_applies
from app.core.contract import AVPU, ContractError
from app.core.engine import DiagnosisEngine
from app.core.plausibility import unlikely_values
from app.core.predictor import Predictor
from app.ui import operations as ops
from app.ui.age_field import AgeField
from app.ui.clinical_text import avpu_text
from app.ui.i18n import tr, translator
from app.ui.next_findings_panel import FindingFocus
from app.ui.pregnancy_field import PregnancyField
from app.ui.qt import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QShortcut,
    QSplitter,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.result_view import DiagnosisView
from app.ui.sign_checklist import SignChecklist
from app.ui.symptom_panel import SymptomPanel
from app.ui.tasks import TaskManager
from app.ui.term_panel import TermPanel
from app.ui.vital_fields import vital_fields
from app.ui.widgets import ElidedLabel, NumberField, WheelGuard, format_number, with_message

MAX_DURATION_DAYS = 3650
TAB_SYMPTOMS, TAB_SIGNS, TAB_HPO = range(3)


class ConsultationWidget(QWidget):
    diagnosed = Signal(dict, dict)  # request, response
    close_requested = Signal(str, str)  # confirmed diagnosis code, doctor's notes

    def __init__(self, engine: DiagnosisEngine, tasks: TaskManager, parent: QWidget | None = None,
                 session: ConsultationSession | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.predictor: Predictor = engine  # the offline engine, or the mode-aware predictor (app/sync/predict.py)
        self.tasks = tasks
        self.operations = ops.Operations(tasks, parent=self, on_error=self._failed)
        self.session = session if session is not None else ConsultationSession()
        self._pushing = False  # the session's findings are being put on screen: the fields' signals are echoes
        vocabulary = engine.vocabulary
        WheelGuard.install()  # scrolling the result panel must never change a box under the pointer

        # Patient -----------------------------------------------------------------------------------------------
        self.patient_label = ElidedLabel()  # a long name is cut with "…", never widens the window
        self.age = AgeField()
        self.sex = QComboBox()
        self.sex.addItem("", "F")
        self.sex.addItem("", "M")
        self.duration = NumberField(0, MAX_DURATION_DAYS, 1)
        self.consciousness = QComboBox()  # AVPU; the first item, "not assessed", sends nothing
        for level in (None, *AVPU):
            self.consciousness.addItem("", level)
        self.pregnancy = PregnancyField()
        # The contract takes a pregnancy only for a woman of 10 to 60: the field follows sex and age as they change.
        self.sex.currentIndexChanged.connect(self._update_pregnancy)
        self.age.changed.connect(self._update_pregnancy)

        # Vitals and measurements (contract v2 added weight, height, MUAC, capillary refill) ---------------------
        self.vital_fields = vital_fields(vocabulary)
        self.vitals: dict[str, NumberField] = {}
        self.vital_labels: dict[str, QLabel] = {}
        self.vitals_box = QGroupBox()
        vitals_grid = QGridLayout(self.vitals_box)
        vitals_grid.setVerticalSpacing(3)
        per_column = (len(self.vital_fields) + 1) // 2  # two columns: eleven rows would not fit a laptop screen
        for i, vital in enumerate(self.vital_fields):
            box = NumberField(vital.low, vital.high, vital.decimals)  # empty: not measured
            label = QLabel()
            label.setBuddy(box)
            self.vitals[vital.key] = box
            self.vital_labels[vital.key] = label
            row, column = i % per_column, 2 * (i // per_column)
            vitals_grid.addWidget(label, row, column)
            vitals_grid.addWidget(with_message(box), row, column + 1)
        vitals_grid.setColumnStretch(0, 1)
        vitals_grid.setColumnStretch(2, 1)

        # Findings: symptoms (keyboard first), examination signs (contract v2, grouped as IMCI does), HPO terms ---
        self.symptom_panel = SymptomPanel(vocabulary, commonness=engine.next_findings.dist.symptom_commonness())
        self.symptom_model, self.symptom_filter = self.symptom_panel.model, self.symptom_panel.filter
        self.search, self.table = self.symptom_panel.search, self.symptom_panel.table
        self.only_entered, self.entered_label = self.symptom_panel.only_entered, self.symptom_panel.entered_label
        self.signs = SignChecklist()
        self.age.changed.connect(self._show_signs_for_age)  # the checklist offers the signs of the patient's age
        self.sex.currentIndexChanged.connect(self._show_signs_for_sex)  # and sex: no vaginal bleeding for a man
        self._show_signs_for_sex()  # the combo starts on a sex: the list starts with it
        self.hpo_box = TermPanel(engine, tasks)  # the third tab
        self.hpo_search, self.hpo_results = self.hpo_box.search, self.hpo_box.results
        self.hpo_chosen, self.hpo_chosen_label = self.hpo_box.chosen, self.hpo_box.chosen_label
        self.hpo_box.ready.connect(self._terms_ready)

        self.diagnose_button = QPushButton()
        self.diagnose_button.setDefault(True)
        self.diagnose_button.clicked.connect(self.diagnose)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.diagnose)
        QShortcut(QKeySequence("Ctrl+Enter"), self, self.diagnose)  # the keypad's Enter key
        self.clear_button = QPushButton()
        self.clear_button.clicked.connect(self.clear)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b71c1c;")
        self._message_words: Callable[[str], str] | None = None  # what `message` says, in a given language

        # Result and confirmation ------------------------------------------------------------------------------
        self.result = DiagnosisView(vocabulary)
        # Findings changed after "Diagnosticar": the answer on screen did not see them, and closing waits for a new one.
        self.stale = QLabel()
        self.stale.setObjectName("staleAnswer")
        self.stale.setWordWrap(True)
        self.stale.setStyleSheet("QLabel#staleAnswer { border: 3px solid #ef8f00; background: #fff4e0; "
                                 "color: #3d2600; padding: 6px; font-weight: bold; }")
        self.stale.hide()
        self.confirm_box = QGroupBox()
        self.final_diagnosis = QComboBox()
        self.final_diagnosis.setEditable(True)  # an ORPHA code or another ICD-10 code can be typed
        self.final_diagnosis.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
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
        patient_grid.addWidget(with_message(self.duration), 2, 3)
        patient_grid.addWidget(self.pregnancy_label, 3, 0)  # the row folds away when the field does not apply
        patient_grid.addWidget(self.pregnancy, 3, 1, 1, 3)
        patient_grid.setColumnStretch(1, 3)
        patient_grid.setColumnStretch(3, 2)

        # Symptoms, signs and extra findings share the room under the vitals; each tab says how many it holds.
        self.findings_tabs = QTabWidget()
        self.findings_tabs.addTab(self.symptom_panel, "")
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
        right_layout.addWidget(self.stale)
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

        # Every finding the doctor changes goes to the session, which then says whether the answer is out of date.
        for signal in (self.symptom_model.intensities_changed, self.signs.changed, self.hpo_box.changed,
                       self.age.changed, self.sex.currentIndexChanged, self.consciousness.currentIndexChanged,
                       self.pregnancy.changed, self.duration.changed, *(box.changed for box in self.vitals.values())):
            signal.connect(self._pull)
        # "Si puede, mida / pregunte:" under the answer: an item takes the doctor to its field; its value re-diagnoses.
        self.next_focus = FindingFocus(self, self.result.next_findings)
        self.diagnosed.connect(self.next_focus.answered)

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
            self.vitals[vital.key].setToolTip(tr("consult.vital_range", low=format_number(vital.low),
                                                 high=format_number(vital.high)))
        self.hpo_box.retranslate()
        self.symptom_panel.retranslate()
        self.diagnose_button.setText(tr("consult.diagnose"))
        self.clear_button.setText(tr("consult.clear"))
        self.confirm_box.setTitle(tr("consult.confirm"))
        self.final_label.setText(tr("consult.final_diagnosis"))
        self.notes_label.setText(tr("consult.notes"))
        self.close_button.setText(tr("consult.close"))
        self.stale.setText(tr("consult.stale"))
        self._fill_final_choices()
        self._show_findings_state()
        self._say(self._message_words)

    def _say(self, words: Callable[[str], str] | None) -> None:
        """Show a message under the form (None: none), and again in the other language when the doctor switches: a
        weight note left in Spanish after a switch to English would not be read."""
        self._message_words = words
        self.message.setText("" if words is None else words(translator().lang))

    # The session: fields to findings, findings to fields -----------------------------------------------------------
    def findings_on_screen(self) -> Findings:
        """What the fields hold; a number a field refused is left out (see `number_errors`)."""
        vitals = {key: value for key, box in self.vitals.items() if (value := box.value()) is not None}
        return Findings(age=self.age.years(), sex=self.sex.currentData(), duration_days=self.duration.value(),
                        consciousness=self.consciousness.currentData() or None, pregnancy=self.pregnancy.value(),
                        vitals=vitals, symptoms=self.symptom_model.intensities(), signs=tuple(self.signs.checked()),
                        hpo_terms=tuple(self.hpo_box.chosen_terms()),
                        excluded_hpo_terms=tuple(self.hpo_box.absent_terms()))

    def _pull(self, *_args: object) -> None:
        if self._pushing or not hasattr(self, "patient_box"):
            return  # an echo of `_push`, or the screen is still being built
        self.session.set_findings(self.findings_on_screen())
        self._show_findings_state()

    def _push(self) -> None:
        """Put the session's findings on screen (a new patient, a saved visit)."""
        findings = self.session.findings
        self._pushing = True
        try:
            self.age.set_years(findings.age)
            self.sex.setCurrentIndex(1 if findings.sex == "M" else 0)
            self.duration.setValue(findings.duration_days)
            for key, box in self.vitals.items():
                box.setValue(findings.vitals.get(key))
            self.symptom_model.set_intensities(dict(findings.symptoms))
            self.hpo_box.set_terms(list(findings.hpo_terms), findings.excluded_hpo_terms)
            if findings.pregnancy is None:
                self.pregnancy.clear()
            else:
                self.pregnancy.set_value(dict(findings.pregnancy))
            self.consciousness.setCurrentIndex(max(0, self.consciousness.findData(findings.consciousness)))
            self.signs.set_checked(findings.signs)
        finally:
            self._pushing = False
        self._update_pregnancy()
        self._pull()  # the session holds what the fields took

    def _show_findings_state(self) -> None:
        """Counts on the tabs; the out-of-date banner, and the close button only for an answer that is not."""
        symptoms = len(self.session.findings.symptoms)
        self.entered_label.setText(tr("consult.entered", count=symptoms))
        self.findings_tabs.setTabText(TAB_SYMPTOMS, tr("consult.tab_symptoms", count=symptoms))
        self.findings_tabs.setTabText(TAB_SIGNS, tr("consult.tab_signs", count=len(self.session.findings.signs)))
        extra = len(self.session.findings.hpo_terms) + len(self.session.findings.excluded_hpo_terms)
        self.findings_tabs.setTabText(TAB_HPO, tr("consult.tab_hpo", count=extra))
        stale = self.session.stale
        self.stale.setVisible(stale)
        self.close_button.setEnabled(not stale)

    def answer_is_stale(self) -> bool:
        """True when the findings on screen are not those the answer on screen was given for."""
        self._pull()
        return self.session.stale

    def _show_signs_for_age(self) -> None:
        self.signs.set_age(self.age.years())

    def _show_signs_for_sex(self) -> None:
        self.signs.set_sex(self.sex.currentData())

    def _update_pregnancy(self) -> None:
        shown = pregnancy_applies(self.sex.currentData(), self.age.years())
        self.pregnancy_label.setVisible(shown)
        self.pregnancy.setVisible(shown)

    def _fill_final_choices(self, keep: bool = True) -> None:
        pick = translator().pick
        current = self.final_diagnosis.currentData() if keep else None
        self.final_diagnosis.clear()
        codes: list[str] = []
        if self.result.response:
            codes += [c["code"] for c in self.result.response["top_conditions"]]
            codes += [d["orpha_code"] for d in self.result.response["rare_diseases"]]
        codes += [c.code for c in self.engine.vocabulary.conditions if c.code not in codes]
        for code in codes:
            if code.startswith("ORPHA:"):
                # Ignored on the next line: an ORPHA code can only have come from the response read above (not None).
                name = next(d["name"] for d in self.result.response["rare_diseases"]  # type: ignore[index]
                            if d["orpha_code"] == code)
                if translator().lang != "en":  # Orphanet's names come in English: say so on a Spanish screen
                    name = tr("consult.name_in_english", name=name)
            else:
                name = pick(self.engine.vocabulary.condition(code).name)
            self.final_diagnosis.addItem(f"{name} ({code})", code)
        if current:
            index = self.final_diagnosis.findData(current)
            self.final_diagnosis.setCurrentIndex(max(0, index))
        else:
            self.final_diagnosis.setCurrentIndex(-1)  # nothing chosen until there is an answer
            self.final_diagnosis.setEditText("")

    # Input -------------------------------------------------------------------------------------------------------
    def start(self, patient: dict[str, Any] | None, name: str, age: float | None, sex: str) -> None:
        """A new consultation for `patient` (None: a quick one); `age` None (birth date unknown) leaves the age for
        the doctor to enter."""
        self.clear()
        self.session.start(patient, age, sex)
        self.patient_label.setText(name)
        self._push()

    def set_patient(self, name: str, age: float | None, sex: str) -> None:
        self.start(self.session.patient, name, age, sex)

    def request(self) -> dict[str, Any]:
        """The diagnose-contract (v2) request for what is on screen (validated by the engine, not here)."""
        self._pull()
        return self.session.request()

    def load_request(self, request: dict[str, Any]) -> None:
        """Put a saved request (a draft, a past encounter; contract v1 or v2) back on screen."""
        self.session.set_findings(Findings.from_request(request))
        self._push()

    def number_fields(self) -> list[NumberField]:
        return [self.age.number, self.duration, self.pregnancy.number, *self.vitals.values()]

    def number_errors(self) -> list[NumberField]:
        """The number fields holding a value they refused (shown beside each), in screen order."""
        return [f for f in self.number_fields() if f.isVisibleTo(self) and f.error()]

    def open_record(self, encounter: dict[str, Any]) -> None:
        """A stored encounter of the session's patient: its findings, and its answer, diagnosis and notes if it was
        diagnosed (a closed one read-only; a draft goes on)."""
        self.session.open_record(encounter)
        self._push()
        if encounter.get("response"):
            self.show_saved(encounter["request"], encounter["response"], encounter.get("final_code"),
                            encounter.get("notes") or "", closed=self.session.closed)
        self.show_closable()

    def show_saved(self, request: dict[str, Any], response: dict[str, Any], final_code: str | None, notes: str,
                   *, closed: bool) -> None:
        """A stored visit's answer, the doctor's diagnosis and notes; a closed visit's notes are read-only."""
        self.session.answer = Answer(self.request(), response)  # the saved findings as this screen puts them
        self.result.show_response(request, response)
        self._fill_final_choices(keep=False)
        if final_code:
            index = self.final_diagnosis.findData(final_code)
            if index >= 0:
                self.final_diagnosis.setCurrentIndex(index)
            else:
                self.final_diagnosis.setEditText(final_code)
        else:
            self.final_diagnosis.setCurrentIndex(0)
        self.notes.setPlainText(notes)
        self.notes.setReadOnly(closed)
        if self.hpo_chosen.count():  # extra findings recorded: show them rather than an empty symptom list
            self.findings_tabs.setCurrentIndex(TAB_HPO)
        self.show_closable()

    def show_closable(self) -> None:
        """The doctor's confirmation is open only for an answer of a visit not closed yet."""
        self.confirm_box.setEnabled(self.session.answer is not None and not self.session.closed)
        self._show_findings_state()

    def clear(self) -> None:
        """Everything shown for a patient goes: findings, answer, the doctor's diagnosis and notes, the patient's
        name. The session keeps who the consultation is for (the main window's `reset_consultation` drops it)."""
        self.patient_label.setText("")
        self.symptom_panel.clear()
        self.hpo_box.clear()
        self.session.forget_findings()  # after the panels: clearing them announces findings the session must not keep
        self._push()
        self.findings_tabs.setCurrentIndex(TAB_SYMPTOMS)
        self.notes.clear()
        self.notes.setReadOnly(False)
        self._say(None)
        self.result.clear()
        self._fill_final_choices(keep=False)
        self.confirm_box.setEnabled(False)
        self._show_findings_state()

    # Extra findings (HPO) ----------------------------------------------------------------------------------------
    @property
    def terms(self) -> Any:
        return self.hpo_box.terms

    def _terms_ready(self) -> None:
        self.result.term_label = self.term_label

    def term_label(self, hpo: str) -> str:
        return self.hpo_box.term_label(hpo)

    def chosen_terms(self) -> list[str]:
        return self.hpo_box.chosen_terms()

    # Diagnose ----------------------------------------------------------------------------------------------------
    def diagnose(self) -> None:
        refused = self.number_errors()
        if refused:  # never diagnose on a value cut or dropped without the doctor knowing
            for field in refused:
                field.show_error()
            refused[0].setFocus()
            self._say(lambda _lang: tr("consult.fix_numbers"))
            return
        request = self.request()
        try:
            validated = self.engine.validate(request)  # cheap; errors shown at once, in the doctor's words
        except ContractError as exc:
            self._say(exc.message)
            return
        self._say(None)
        # A child's weight no child that age could have is most often a slip (10.4 typed as 40): say so beside the
        # answer, never instead of it.
        unlikely = unlikely_values(self.engine.features, validated.age, dict(validated.vitals))
        if unlikely:
            self._say(lambda lang: " ".join(u.message()[lang] for u in unlikely))
        self.diagnose_button.setEnabled(False)
        self.operations.run(ops.diagnose(self.predictor, validated), lambda response: self._show(request, response))

    def _show(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        self.diagnose_button.setEnabled(True)
        self.session.answered(request, response)
        self.result.show_response(request, response)
        # The doctor's choice is kept across re-diagnoses; none is made for her: a top condition chosen in advance
        # was closed as "confirmed" by a tired doctor's one click, and confirmed outcomes train the next model.
        self._fill_final_choices()
        self.confirm_box.setEnabled(True)
        self._show_findings_state()
        self.diagnosed.emit(request, response)

    def _failed(self, error: BaseException) -> None:
        from app.ui.errors import show_error

        self.diagnose_button.setEnabled(True)
        show_error(self, error)

    def _request_close(self) -> None:
        self._pull()
        choice = self.final_diagnosis.currentData() or self.final_diagnosis.currentText()
        problem = self.session.closing_problem(choice)  # a stale answer: closing stores the findings it did not see
        if problem is not None:
            self._show_findings_state()
            self._say(lambda _lang: tr(problem))
            return
        self.close_requested.emit(final_code(choice), self.notes.toPlainText().strip())

    def set_predictor(self, predictor: Predictor) -> None:
        self.predictor = predictor

    @property
    def last_request(self) -> dict[str, Any] | None:
        answer = self.session.answer
        return dict(answer.request) if answer is not None else None
