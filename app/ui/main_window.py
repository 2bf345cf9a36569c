"""The doctor's main window: patients and consultation tabs, menus, and the status bar.

Layout and wiring only. What the screens do is a named operation (app/ui/operations.py) run on the task manager:
store work on the database worker, diagnoses, the PDF and the network on the pool. An operation that changes
something announces what (`OpChanges`), and each view refreshes itself from that: the status bar (app/ui/status_bar
.py), the patient's history, the predictor. The consultation's state (patient, findings, answer, encounter) is the
`ConsultationSession` the consultation screen shows (app/core/consultation_session.py).

Everything shown for a patient belongs to one patient, one consultation and one user: `reset_consultation` takes
all of it off the screen (findings, answer, the doctor's diagnosis and notes, the letter action) when any of the
three changes, and a different user also finds the patient list and its search empty.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.age import age_in_years
from app.core.consultation_session import ConsultationSession
from app.core.engine import DiagnosisEngine
from app.core.vocabulary import STATE_LABELS
from app.preferences import Preferences
from app.store.config_vars import COUNTRY, LANGUAGE, ConfigVar
from app.store.messages import StoreError
from app.store.store import ClinicStore
from app.ui import operations as ops
from app.ui.accounts import AccountsDialog
from app.ui.consultation import ConsultationWidget
from app.ui.dialogs import PREFERENCES, AboutDialog, SettingsDialog
from app.ui.document_types import document_text
from app.ui.errors import show_error
from app.ui.i18n import tr, translator
from app.ui.patients import PatientDialog, PatientsWidget
from app.ui.qt import (
    QAction,
    QCloseEvent,
    QFileDialog,
    QKeySequence,
    QMainWindow,
    QMessageBox,
    QPrintDialog,
    QPrinter,
    QStandardPaths,
    QTabWidget,
    QTimer,
    Signal,
)
from app.ui.referral import print_letter
from app.ui.referral_dialog import PRINT, SAVE_PDF, ReferralDialog
from app.ui.referral_export import referral_letter
from app.ui.status_bar import ClinicStatus
from app.ui.tasks import TaskManager

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    lock_requested = Signal()
    quit_requested = Signal()  # after the draft is saved
    settings_changed = Signal(object)  # {LANGUAGE: ..., AUTO_LOCK: minutes} as they apply to this user now

    def __init__(self, engine: DiagnosisEngine, tasks: TaskManager, data_dir: Path,
                 preferences: Preferences | None = None) -> None:
        super().__init__()
        self.preferences = preferences or Preferences()
        self.engine = engine
        self.tasks = tasks
        self.data_dir = data_dir
        self.store: ClinicStore | None = None
        self.operations = ops.Operations(tasks, ops.store_of(self), self, on_error=self.show_error)
        self._user_id: str | None = None  # kept across a lock: the same user unlocking gets the screen back
        self.clinic_name = ""
        self.clinic_place = ""
        self.clinic_country = COUNTRY.default  # the identity documents the patient form offers
        self.user_name = ""
        self.user_login = ""
        self._history_of: str | None = None  # the patient whose history the patients tab shows
        self._syncing = False
        self.last_pdf: Path | None = None
        self.accounts_dialog: AccountsDialog | None = None
        self.referral_dialog: ReferralDialog | None = None

        self.session = ConsultationSession()
        self.patients = PatientsWidget()
        self.consultation = ConsultationWidget(engine, tasks, session=self.session)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.patients, "")
        self.tabs.addTab(self.consultation, "")
        self.setCentralWidget(self.tabs)

        self.patients.search_requested.connect(self.search)
        self.patients.new_requested.connect(self.new_patient)
        self.patients.edit_requested.connect(self.edit_patient)
        self.patients.history_requested.connect(self.load_history)
        self.patients.consult_requested.connect(self.start_consultation)
        self.patients.encounter_opened.connect(self.open_encounter)
        self.consultation.diagnosed.connect(self.save_diagnosis)
        self.consultation.close_requested.connect(self.close_encounter)
        self.operations.changed.connect(self._follow_changes)

        self.status = ClinicStatus(self.statusBar(), self.operations, data_dir, engine.bundle.version)
        self.status.sync_wanted.connect(self.sync_in_background)
        self.status_connection, self.status_mode, self.status_pending, self.status_sync, self.status_model = (
            self.status.connection, self.status.mode, self.status.pending, self.status.last_sync, self.status.model)

        self.action_pdf = QAction(self)
        self.action_pdf.setEnabled(False)
        self.action_pdf.triggered.connect(self.choose_pdf_path)
        # File → Export (FHIR): the closed consultation on screen as a FHIR R4 Bundle (app/interop/fhir.py); usable
        # exactly when the referral letter is, so it follows that action instead of repeating its conditions.
        self.action_fhir = QAction(self)
        self.action_fhir.setEnabled(False)
        self.action_fhir.triggered.connect(self.export_fhir)
        self.action_pdf.changed.connect(self._follow_letter_action)
        self.action_lock = QAction(self)
        self.action_lock.setShortcut(QKeySequence("Ctrl+L"))
        self.action_lock.triggered.connect(self.lock_requested)
        self.action_quit = QAction(self)
        self.action_quit.setShortcut(QKeySequence.StandardKey.Quit)
        self.action_quit.triggered.connect(self.close)
        self.action_settings = QAction(self)
        self.action_settings.triggered.connect(self.open_settings)
        self.action_sync = QAction(self)
        self.action_sync.triggered.connect(self.sync_by_hand)
        self.action_accounts = QAction(self)  # administrators only
        self.action_accounts.triggered.connect(self.open_accounts)
        self.action_accounts.setVisible(False)
        self.action_about = QAction(self)
        self.action_about.triggered.connect(self.open_about)
        self.file_menu = self.menuBar().addMenu("")
        self.file_menu.addActions([self.action_pdf, self.action_fhir, self.action_sync, self.action_lock,
                                   self.action_quit])
        self.tools_menu = self.menuBar().addMenu("")
        self.tools_menu.addActions([self.action_settings, self.action_accounts])
        self.help_menu = self.menuBar().addMenu("")
        self.help_menu.addAction(self.action_about)
        # A bound method, not a lambda: Qt disconnects it when the window is destroyed.
        translator().language_changed.connect(self._language_changed)
        self.retranslate()
        self.resize(1366, 740)

    # The consultation's state lives in the session; these read it for the wiring below and for tests.
    @property
    def patient(self) -> dict[str, Any] | None:
        return self.session.patient

    @property
    def encounter_id(self) -> str | None:
        return self.session.encounter_id

    @property
    def encounter_closed(self) -> bool:
        return self.session.closed

    def show_error(self, error: BaseException) -> None:
        show_error(self, error)

    # Session -----------------------------------------------------------------------------------------------------
    def db(self, op: Callable[[ClinicStore], Any], on_done: Callable[[Any], None] | None = None,
           on_error: Callable[[BaseException], None] | None = None) -> None:
        """An unnamed store call (scripts and tests); the screens use the named operations."""
        self.operations.run(ops.QueryOp("db", op), on_done, on_error)

    def attach(self, store: ClinicStore) -> None:
        """A user logged in (or unlocked again)."""
        same_user = self._user_id == store.principal.user_id
        self.store = store
        self._user_id = store.principal.user_id
        self.user_name = store.principal.display_name
        self.user_login = store.principal.login
        self.action_accounts.setVisible(store.principal.role == "admin")
        if not same_user:
            self.reset_consultation()
            self.patients.clear()  # the last user's search and its results are not for the next one
        self.operations.run(ops.read_session(), self._show_session)
        self.status.start()
        self.update_predictor()
        self.retranslate()

    def update_predictor(self) -> None:
        """Offline, hybrid or cloud, as the clinic's settings say (built on the database worker)."""
        self.operations.run(ops.build_predictor(self.engine), self.consultation.set_predictor)

    def detach(self) -> None:
        self.store = None
        self.status.stop()

    def _follow_changes(self, changes: ops.OpChanges) -> None:
        """What this window itself shows of the store: the patient's history, the predictor (the mode), the
        clinic's name and country (the language a saved preference applies itself, in `_settings_saved`)."""
        if changes.encounters and self._history_of is not None:
            self.load_history(self._history_of)
        if changes.settings:
            self.update_predictor()
            self.operations.run(ops.read_clinic(), self._show_clinic)

    def _show_session(self, values: tuple[str, str, str | None, str]) -> None:
        name, place, language, country = values
        if language and language != translator().lang:
            translator().set_language(language)  # each person's own (the clinic's until they choose one)
        self._show_clinic((name, place, country))

    def _show_clinic(self, values: tuple[str, str, str]) -> None:
        self.clinic_name, self.clinic_place, self.clinic_country = values
        self.retranslate()

    def _language_changed(self, _lang: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        title = tr("app.title")
        if self.clinic_name:
            title += f" — {self.clinic_name}"
        if self.user_name:
            title += f" — {self.user_name}"
        self.setWindowTitle(title)
        self.tabs.setTabText(0, tr("main.patients"))
        self.tabs.setTabText(1, tr("main.consultation"))
        self.file_menu.setTitle(tr("main.menu_file"))
        self.tools_menu.setTitle(tr("main.menu_tools"))
        self.help_menu.setTitle(tr("main.menu_help"))
        self.action_pdf.setText(tr("main.export_pdf"))
        self.action_fhir.setText(tr("main.export_fhir"))
        self.action_lock.setText(tr("main.lock"))
        self.action_quit.setText(tr("main.quit"))
        self.action_settings.setText(tr("main.settings"))
        self.action_sync.setText(tr("main.sync_now"))
        self.action_about.setText(tr("main.about"))
        self.action_accounts.setText(tr("main.accounts"))
        self.status.retranslate()  # the status bar kept the old language until its next refresh

    def refresh_status(self) -> None:
        self.status.refresh()

    def open_about(self) -> None:
        AboutDialog(self, self.engine.bundle).exec()

    # Patients ----------------------------------------------------------------------------------------------------
    def search(self, query: str) -> None:
        if not query:
            self.patients.show_results([])
            return
        self.operations.run(ops.search_patients(query), self.patients.show_results)

    def new_patient(self) -> None:
        self._patient_form(None)

    def edit_patient(self, patient: dict[str, Any]) -> None:
        self._patient_form(patient)

    def _patient_form(self, patient: dict[str, Any] | None, typed: dict[str, Any] | None = None,
                      problem: str = "") -> None:
        """The patient form, new (`patient` None) or editing; `typed` and `problem`: what the clerk typed and why
        the store refused it."""
        dialog = PatientDialog(self, patient, country=self.clinic_country)
        if typed is not None:
            dialog.refill(typed, problem)
        if dialog.exec():
            values = dialog.values()
            op = ops.register_patient(values) if patient is None else ops.update_patient(patient["id"], values)
            self.operations.run(op, self._patient_saved, lambda error: self._patient_refused(error, values, patient))

    def _patient_refused(self, error: BaseException, typed: dict[str, Any], patient: dict[str, Any] | None) -> None:
        """A document another patient already holds: the form opens again as it was typed, the reason under it (an
        error box after the form had closed lost everything typed). Any other failure: the error dialog."""
        if not (isinstance(error, StoreError) and error.code == "patient_exists"):
            self.show_error(error)
            return
        problem = error.message(translator().lang)
        # The list behind the form shows who holds that document (the search reads "CC 41234567" as typed).
        self.patients.search.setText(document_text(typed["document_type"], typed["document_number"]))
        QTimer.singleShot(0, lambda: self._patient_form(patient, typed, problem))

    def _patient_saved(self, row: dict[str, Any]) -> None:
        self.patients.search.blockSignals(True)
        self.patients.search.setText(row["family_names"])
        self.patients.search.blockSignals(False)
        self.patients.show_results([row])

    def load_history(self, patient_id: str) -> None:
        """The patient's visits; what is on the list goes at once, and an answer for another patient asked for
        earlier is dropped: the list never shows one patient's visits under another's name."""
        self._history_of = patient_id
        self.patients.history.clear()

        def show(rows: list[dict[str, Any]]) -> None:
            if self._history_of == patient_id:
                self.patients.show_history(rows, STATE_LABELS)

        self.operations.run(ops.patient_history(patient_id), show)

    # Consultation ------------------------------------------------------------------------------------------------
    def reset_consultation(self) -> None:
        self.consultation.clear()
        self.session.clear()
        self.consultation.patient_label.setText(tr("consult.no_patient"))
        self.action_pdf.setEnabled(False)
        self.last_pdf = None

    def start_consultation(self, patient: dict[str, Any]) -> None:
        self.reset_consultation()
        age = age_in_years(patient["birth_date"])  # None when unknown: the doctor enters it; 0 is a newborn
        self.consultation.start(patient, f"{patient['given_names']} {patient['family_names']}", age, patient["sex"])
        self.tabs.setCurrentWidget(self.consultation)
        self.consultation.search.setFocus()

    def open_encounter(self, encounter: dict[str, Any]) -> None:
        """A past encounter from the history: shown read-only in the consultation screen (a draft can go on)."""
        patient = self.patients.current()
        if patient is None or not encounter.get("request"):
            return
        self.start_consultation(patient)
        self.consultation.open_record(encounter)
        self.action_pdf.setEnabled(self.session.closed)

    def save_diagnosis(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        """The answer is stored with its findings (a closed visit diagnosed again starts a new encounter)."""
        if self.session.patient is None:
            return  # a quick consultation without a patient is not stored
        self.operations.run(ops.save_consultation(self.session.patient["id"], self.session.encounter_id, request,
                                                  response), self.session.encounter_saved)

    def save_draft(self, on_done: Callable[[Any], None] | None = None) -> None:
        """Keep unsaved findings before a lock: the encounter becomes (or stays) a draft with the request."""
        self.consultation.request()  # the fields' last values into the session
        request = self.session.draft()  # None: no patient, a closed visit or nothing clinical entered
        if request is None or self.session.patient is None:
            if on_done:
                on_done(None)
            return

        def saved(new_id: str) -> None:
            self.session.encounter_saved(new_id)
            if on_done:
                on_done(new_id)

        def refused(error: BaseException) -> None:
            show_error(self, error)
            if on_done:
                on_done(None)  # the lock or the quit goes on: the error was shown

        op = ops.save_consultation(self.session.patient["id"], self.session.encounter_id, request)
        if not self.operations.run(op, saved, refused) and on_done:
            on_done(None)

    def close_encounter(self, code: str, notes: str) -> None:
        problem = self.session.record_problem()  # a registered patient and a stored, diagnosed encounter
        if problem is not None or self.session.encounter_id is None:
            QMessageBox.information(self, tr("app.title"), tr(problem or "main.diagnose_first"))
            return
        self.operations.run(ops.close_consultation(self.session.encounter_id, code, notes),
                            lambda encounter_id: self._closed(encounter_id, code))

    def _closed(self, _encounter_id: str, code: str = "") -> None:
        from app.interop.notifiable import closing_notice

        self.session.encounter_closed()
        self.consultation.show_closable()
        self.action_pdf.setEnabled(True)
        # A disease under surveillance is said at once; the weekly report (`vereda export notifications`) lists it.
        notice = closing_notice(code, self.data_dir, translator().lang) if code else None
        self.statusBar().showMessage(f"{tr('main.closed')} {notice}" if notice else tr("main.closed"),
                                     60_000 if notice else 8000)
        if self.session.patient:
            self._history_of = self.session.patient["id"]  # the history shown follows (operations.changed)

    def _follow_letter_action(self) -> None:
        self.action_fhir.setEnabled(self.action_pdf.isEnabled())

    def export_fhir(self) -> None:
        """File → Export (FHIR): the closed consultation on screen, as a FHIR R4 Bundle file."""
        encounter_id = self.session.encounter_id
        if encounter_id is None or not self.session.closed:
            return
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        name = f"fhir-{dt.date.today():%Y%m%d}.json"
        path, _ = QFileDialog.getSaveFileName(self, tr("main.export_fhir"), str(Path(folder) / name),
                                              tr("main.fhir_filter"))
        if not path:
            return
        self.operations.run(ops.export_fhir(encounter_id, self.engine.vocabulary, path, translator().lang),
                            lambda written: self.statusBar().showMessage(tr("main.fhir_written", path=written), 8000))

    # Referral letter ---------------------------------------------------------------------------------------------
    def choose_pdf_path(self) -> None:
        """The letter's receiving facility and registration number, then print or save (File → Referral letter)."""
        self.operations.run(ops.read_registration(), self._ask_referral)

    def _ask_referral(self, registration: str) -> None:
        dialog = ReferralDialog(self, self.preferences.referral_facilities, registration)
        self.referral_dialog = dialog
        how = dialog.exec()
        self.referral_dialog = None
        if how not in (PRINT, SAVE_PDF):
            return
        facility, registration = dialog.facility_name(), dialog.registration_number()
        self.remember_referral(facility, registration)
        if how == PRINT:
            self.export_referral(None, facility=facility, registration=registration)
            return
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        name = f"{tr('main.pdf_file_name')}-{dt.date.today():%Y%m%d}.pdf"
        path, _ = QFileDialog.getSaveFileName(self, tr("main.save_pdf_title"), str(Path(folder) / name),
                                              tr("main.pdf_filter"))
        if path:
            self.export_referral(Path(path), facility=facility, registration=registration)

    def remember_referral(self, facility: str, registration: str) -> None:
        """Keep the facility (first in this laptop's list next time) and the doctor's own registration number
        (a per-user setting of the clinic's store, so it follows her account, not the laptop)."""
        self.preferences.remember_facility(facility)
        self.preferences.save()
        if registration:
            self.operations.run(ops.remember_registration(registration))

    def export_referral(self, target: Path | None, on_done: Callable[[Path], None] | None = None, *,
                        facility: str = "", registration: str | None = None) -> None:
        """Write the letter of the encounter on screen, built from its stored record on the database worker.

        Everything in the letter (findings, answer, the doctor's diagnosis, notes, visit time) is read back from
        that one encounter, never from what an earlier consultation left in the window: a letter once carried
        another patient's notes that way.
        """
        patient, encounter_id = self.session.patient, self.session.encounter_id
        if patient is None or encounter_id is None:
            return
        self.operations.run(ops.read_letter(encounter_id, registration),
                            lambda got: self._write_referral(patient, got, target, on_done, facility))

    def _write_referral(self, patient: dict[str, Any], read: tuple[dict[str, Any], tuple[str, str], str],
                        target: Path | None, on_done: Callable[[Path], None] | None, facility: str) -> None:
        encounter, clinic, registration = read
        letter = referral_letter(self.engine.vocabulary, patient, encounter, clinic, doctor=self.user_name,
                                 facility=facility, registration=registration, term_label=self.consultation.term_label)
        if letter is None:
            return
        lang = translator().lang
        record = (patient["id"], encounter["id"])
        if target is None:  # on paper, through the system's print dialog (GUI thread: it is a dialog)
            printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            dialog = QPrintDialog(printer, self)
            if dialog.exec():
                print_letter(letter, printer, lang)
                self.operations.run(ops.record_export("referral_print", *record))
            return

        def written(path: Path) -> None:
            self.last_pdf = path
            self.statusBar().showMessage(tr("main.pdf_written", path=str(path)), 8000)
            self.operations.run(ops.record_export("referral_pdf", *record))
            if on_done:
                on_done(path)

        self.operations.run(ops.write_referral_pdf(letter, target, lang), written)

    # Accounts ----------------------------------------------------------------------------------------------------
    def open_accounts(self) -> None:
        """The administrator's accounts screen (Tools → Accounts)."""
        self.accounts_dialog = AccountsDialog(self, self.operations)
        self.accounts_dialog.open()

    # Settings and sync -------------------------------------------------------------------------------------------
    def open_settings(self) -> None:
        self.operations.run(ops.read_settings(PREFERENCES), self._show_settings)

    def _show_settings(self, read: tuple[dict[ConfigVar, Any], dict[ConfigVar, bool]]) -> None:
        dialog = SettingsDialog(self, read[0], read[1], self.data_dir)
        if dialog.exec():
            self.save_settings(dialog.values())

    def save_settings(self, changes: dict[ConfigVar, Any]) -> None:
        """Save what the person changed in Preferences (each setting checked by the store against its declaration
        and the person's role), then apply the language and auto-lock that now hold for them."""
        self.operations.run(ops.save_settings(changes), self._settings_saved)

    def _settings_saved(self, values: dict[ConfigVar, Any]) -> None:
        if values[LANGUAGE]:
            translator().set_language(values[LANGUAGE])
        self.settings_changed.emit(values)  # the predictor and the status bar follow operations.changed

    def sync_in_background(self) -> None:
        self.sync_now(quiet=True)

    def sync_by_hand(self) -> None:
        self.sync_now(quiet=False)

    def sync_now(self, quiet: bool = False) -> None:
        """Send confirmed outcomes and look for a model update, on the pool; store calls hop to the database worker.

        `quiet`: a background run says nothing unless something needs the doctor (a new model, refused records).
        """
        store = self.store
        if store is None or self._syncing:
            return
        self._syncing = True
        self.action_sync.setEnabled(False)
        if not quiet:
            self.statusBar().showMessage(tr("main.syncing"))
        tasks = self.tasks

        def call_store(fn: Callable[[ClinicStore], Any]) -> Any:
            return tasks.run_database(lambda: fn(store), on_error=lambda _e: None).result()

        self.operations.run(ops.sync_now(call_store, self.data_dir), lambda r: self._synced(r, quiet),
                            lambda e: self._sync_failed(e, quiet))

    def _synced(self, result: Any, quiet: bool) -> None:
        self._syncing = False
        self.action_sync.setEnabled(True)
        summary = result.to_json(translator().lang)
        model = summary["model"]
        if model.get("status") == "installed":
            QMessageBox.information(self, tr("app.title"), tr("main.model_installed", version=model.get("version")))
        message = summary["error"]["message"] if "error" in summary else tr(
            "main.synced", sent=summary["acknowledged"], pending=summary["pending"])
        if not quiet or "warning" in summary:
            self.statusBar().showMessage(summary.get("warning") or message, 10_000)

    def _sync_failed(self, error: BaseException, quiet: bool) -> None:
        from app.sync.messages import SyncError

        self._syncing = False
        self.action_sync.setEnabled(True)
        if isinstance(error, SyncError) and error.code == "not_enrolled":
            if not quiet:
                QMessageBox.information(self, tr("app.title"), tr("main.not_enrolled"))
            return
        if quiet and isinstance(error, SyncError) and error.transient:
            self.statusBar().showMessage(error.message(translator().lang), 10_000)
            return
        show_error(self, error)

    def closeEvent(self, event: QCloseEvent) -> None:
        # Quitting keeps unsaved findings as a draft, like a lock does.
        if self.store is not None:
            event.ignore()
            self.save_draft(lambda _id: self.quit_requested.emit())
            return
        super().closeEvent(event)
