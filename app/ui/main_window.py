"""The doctor's main window: patients and consultation tabs, menus, and the status bar.

It holds no clinical logic: searches, encounters and settings go to the store on the database worker; diagnoses
to the engine on the pool; this class only routes results to widgets. Store calls take `self.store` at the moment
they are scheduled, so a lock in between makes them fail cleanly instead of touching a closed database.

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
from app.core.engine import DiagnosisEngine
from app.core.vocabulary import STATE_LABELS
from app.preferences import Preferences
from app.store.config_vars import AUTO_LOCK, LANGUAGE, REGISTRATION_NUMBER, ConfigVar
from app.store.store import ClinicStore
from app.ui.accounts import AccountsDialog
from app.ui.consultation import ConsultationWidget
from app.ui.dialogs import PREFERENCES, AboutDialog, SettingsDialog
from app.ui.errors import show_error
from app.ui.i18n import tr, translator
from app.ui.patients import PatientDialog, PatientsWidget, encounter_row, patient_row
from app.ui.qt import (
    QAction,
    QCloseEvent,
    QFileDialog,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPrintDialog,
    QPrinter,
    QStandardPaths,
    QTabWidget,
    QTimer,
    Signal,
)
from app.ui.referral import ReferralLetter, print_letter, write_pdf
from app.ui.referral_dialog import PRINT, SAVE_PDF, ReferralDialog
from app.ui.tasks import TaskManager
from app.ui.vital_fields import vital_fields

log = logging.getLogger(__name__)
STATUS_REFRESH_MS = 60_000  # connectivity and records waiting; a background sync follows when allowed


def clinic_identity(store: ClinicStore) -> tuple[str, str]:
    """The clinic's name and place, for the window title and the referral letter (database worker)."""
    return store.clinic.name, store.clinic.municipality


def _local_time(iso: str | None) -> str:
    if not iso:
        return tr("status.never")
    try:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


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
        self._user_id: str | None = None  # kept across a lock: the same user unlocking gets the screen back
        self.clinic_name = ""
        self.clinic_place = ""
        self.user_name = ""
        self.user_login = ""
        self.patient: dict[str, Any] | None = None
        self.encounter_id: str | None = None
        self.encounter_closed = False
        self._status: dict[str, Any] = {}  # the last sync status read, for the background-sync decision
        self.last_pdf: Path | None = None
        self.accounts_dialog: AccountsDialog | None = None
        self.referral_dialog: ReferralDialog | None = None

        self.patients = PatientsWidget()
        self.consultation = ConsultationWidget(engine, tasks)
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

        self.status_connection, self.status_mode, self.status_pending, self.status_sync, self.status_model = (
            QLabel() for _ in range(5))
        for label in (self.status_connection, self.status_mode, self.status_pending, self.status_sync,
                      self.status_model):
            self.statusBar().addPermanentWidget(label)
        self._syncing = False
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_REFRESH_MS)
        self.status_timer.timeout.connect(self.refresh_status)

        self.action_pdf = QAction(self)
        self.action_pdf.setEnabled(False)
        self.action_pdf.triggered.connect(self.choose_pdf_path)
        self.action_lock = QAction(self)
        self.action_lock.setShortcut(QKeySequence("Ctrl+L"))
        self.action_lock.triggered.connect(self.lock_requested)
        self.action_quit = QAction(self)
        self.action_quit.setShortcut(QKeySequence.StandardKey.Quit)
        self.action_quit.triggered.connect(self.close)
        self.action_settings = QAction(self)
        self.action_settings.triggered.connect(self.open_settings)
        self.action_sync = QAction(self)
        self.action_sync.triggered.connect(lambda: self.sync_now(quiet=False))
        self.action_accounts = QAction(self)  # administrators only
        self.action_accounts.triggered.connect(self.open_accounts)
        self.action_accounts.setVisible(False)
        self.action_about = QAction(self)
        self.action_about.triggered.connect(lambda: AboutDialog(self, engine.bundle).exec())
        self.file_menu = self.menuBar().addMenu("")
        self.file_menu.addActions([self.action_pdf, self.action_sync, self.action_lock, self.action_quit])
        self.tools_menu = self.menuBar().addMenu("")
        self.tools_menu.addActions([self.action_settings, self.action_accounts])
        self.help_menu = self.menuBar().addMenu("")
        self.help_menu.addAction(self.action_about)
        # A bound method, not a lambda: Qt disconnects it when the window is destroyed.
        translator().language_changed.connect(self._language_changed)
        self.retranslate()
        self.resize(1366, 740)

    # Session -----------------------------------------------------------------------------------------------------
    def db(self, op: Callable[[ClinicStore], Any], on_done: Callable[[Any], None] | None = None,
           on_error: Callable[[BaseException], None] | None = None) -> None:
        store = self.store
        if store is None:
            return
        self.tasks.run_database(lambda: op(store), on_done, on_error or (lambda e: show_error(self, e)))

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
        self.db(lambda s: (*clinic_identity(s), s.settings.get(LANGUAGE)), self._show_session)
        self.refresh_status()
        self.status_timer.start()
        self.update_predictor()
        self.retranslate()

    def update_predictor(self) -> None:
        """Offline, hybrid or cloud, as the clinic's settings say (built on the database worker)."""
        from app.sync.predict import ModePredictor

        engine = self.engine
        self.db(lambda s: ModePredictor.from_store(s, engine), self.consultation.set_predictor)

    def detach(self) -> None:
        self.store = None
        self.status_timer.stop()

    def _show_session(self, values: tuple[str, str, str | None]) -> None:
        self.clinic_name, self.clinic_place, language = values
        if language and language != translator().lang:
            translator().set_language(language)  # each person's own (the clinic's until they choose one)
        self.retranslate()

    def _language_changed(self, _lang: str) -> None:
        self.retranslate()
        self._status_texts()  # the status bar kept the old language until its next refresh

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
        self.action_lock.setText(tr("main.lock"))
        self.action_quit.setText(tr("main.quit"))
        self.action_settings.setText(tr("main.settings"))
        self.action_sync.setText(tr("main.sync_now"))
        self.action_about.setText(tr("main.about"))
        self.action_accounts.setText(tr("main.accounts"))
        self.status_model.setText(tr("status.model", version=self.engine.bundle.version))

    def refresh_status(self) -> None:
        """Mode, records waiting, last sync (database worker); then whether the central service answers (pool)."""
        from app.sync.run import sync_status

        data_dir = self.data_dir
        self.db(lambda s: sync_status(s, data_dir), self._show_status)

    def _show_status(self, status: dict[str, Any]) -> None:
        from app.sync.client import probe

        self._status = status
        self._status_texts()
        mode = status["mode"]
        if mode == "offline":
            self.status_connection.clear()  # the mode says it all: no probing, no background sync
            return
        if not status["server"]:
            self.status_connection.setText(tr("status.offline"))
            return
        server = status["server"]
        self.tasks.run(lambda: probe(server, timeout=2.0), self._show_connectivity, lambda _e: None)

    def _status_texts(self) -> None:
        """The status bar's words for the last status read (again on a language change, without asking anyone)."""
        status = self._status
        if not status:
            return
        self.status_mode.setText(tr(f"status.mode_{status['mode']}"))
        self.status_pending.setText(tr("status.pending", count=status["pending"]))
        self.status_sync.setText(tr("status.last_sync", when=_local_time(status["last_sync"])))

    def _show_connectivity(self, connectivity: Any) -> None:
        self.status_connection.setText(tr("status.online") if connectivity.reachable else tr("status.unreachable"))
        status = self._status
        # Background sync only when the mode allows it, the laptop is enrolled and the service answers.
        if connectivity.reachable and status.get("auto_sync") and status.get("pending") and not self._syncing:
            self.sync_now(quiet=True)

    # Patients ----------------------------------------------------------------------------------------------------
    def search(self, query: str) -> None:
        if not query:
            self.patients.show_results([])
            return
        self.db(lambda s: [patient_row(p) for p in s.patients.search(query)], self.patients.show_results)

    def new_patient(self) -> None:
        dialog = PatientDialog(self)
        if dialog.exec():
            values = dialog.values()
            self.db(lambda s: patient_row(s.patients.add(**values)), self._patient_saved)

    def edit_patient(self, patient: dict[str, Any]) -> None:
        dialog = PatientDialog(self, patient)
        if dialog.exec():
            values = dialog.values()
            self.db(lambda s: patient_row(s.patients.update(patient["id"], **values)), self._patient_saved)

    def _patient_saved(self, row: dict[str, Any]) -> None:
        self.patients.search.blockSignals(True)
        self.patients.search.setText(row["family_names"])
        self.patients.search.blockSignals(False)
        self.patients.show_results([row])

    def load_history(self, patient_id: str) -> None:
        self.db(lambda s: [encounter_row(e) for e in s.encounters.for_patient(patient_id)],
                lambda rows: self.patients.show_history(rows, STATE_LABELS))

    # Consultation ------------------------------------------------------------------------------------------------
    def reset_consultation(self) -> None:
        self.patient = None
        self.encounter_id = None
        self.encounter_closed = False
        self.consultation.clear()
        self.consultation.patient_label.setText(tr("consult.no_patient"))
        self.action_pdf.setEnabled(False)
        self.last_pdf = None

    def start_consultation(self, patient: dict[str, Any]) -> None:
        self.reset_consultation()
        self.patient = patient
        age = age_in_years(patient["birth_date"])  # None when unknown: the doctor enters it; 0 is a newborn
        self.consultation.set_patient(f"{patient['given_names']} {patient['family_names']}", age, patient["sex"])
        self.tabs.setCurrentWidget(self.consultation)
        self.consultation.search.setFocus()

    def open_encounter(self, encounter: dict[str, Any]) -> None:
        """A past encounter from the history: shown read-only in the consultation screen (a draft can go on)."""
        patient = self.patients.current()
        if patient is None or not encounter.get("request"):
            return
        self.start_consultation(patient)
        self.consultation.load_request(encounter["request"])
        self.encounter_id = encounter["id"]
        self.encounter_closed = encounter["status"] == "closed"
        if encounter.get("response"):
            self.consultation.show_saved(encounter["request"], encounter["response"], encounter.get("final_code"),
                                         encounter.get("notes") or "", closed=self.encounter_closed)
        self.consultation.confirm_box.setEnabled(not self.encounter_closed and bool(encounter.get("response")))
        self.action_pdf.setEnabled(self.encounter_closed)

    def save_diagnosis(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        if self.patient is None:
            return  # a quick consultation without a patient is not stored
        patient_id = self.patient["id"]
        if self.encounter_id is None or self.encounter_closed:
            self.encounter_closed = False
            self.db(lambda s: s.encounters.start(patient_id, request=request, response=response).id,
                    self._encounter_started)
        else:
            encounter_id = self.encounter_id
            self.db(lambda s: s.encounters.update(encounter_id, request=request, response=response).id)

    def _encounter_started(self, encounter_id: str) -> None:
        self.encounter_id = encounter_id

    def save_draft(self, on_done: Callable[[Any], None] | None = None) -> None:
        """Keep unsaved findings before a lock: the encounter becomes (or stays) a draft with the request."""
        request = self.consultation.request()
        entered = request["symptoms"] or request.get("signs") or request.get("hpo_terms")
        if self.patient is None or self.encounter_closed or not entered:
            if on_done:
                on_done(None)
            return
        patient_id, encounter_id = self.patient["id"], self.encounter_id

        def save(s: ClinicStore) -> str:
            if encounter_id is None:
                return s.encounters.start(patient_id, request=request).id
            return s.encounters.update(encounter_id, request=request).id

        def saved(new_id: str) -> None:
            self.encounter_id = new_id
            if on_done:
                on_done(new_id)

        self.db(save, saved, lambda e: (show_error(self, e), on_done and on_done(None)))

    def close_encounter(self, code: str, notes: str) -> None:
        if self.patient is None:
            QMessageBox.information(self, tr("app.title"), tr("main.need_patient"))
            return
        if self.encounter_id is None:
            QMessageBox.information(self, tr("app.title"), tr("main.diagnose_first"))
            return
        encounter_id = self.encounter_id
        self.db(lambda s: s.encounters.close(encounter_id, code, notes=notes or None).id,
                lambda _id: self._closed(code, notes))

    def _closed(self, code: str, notes: str) -> None:
        self.encounter_closed = True
        self.consultation.confirm_box.setEnabled(False)
        self.action_pdf.setEnabled(True)
        self.statusBar().showMessage(tr("main.closed"), 8000)
        if self.patient:
            self.load_history(self.patient["id"])
        self.refresh_status()

    # Referral letter ---------------------------------------------------------------------------------------------
    def choose_pdf_path(self) -> None:
        """The letter's receiving facility and registration number, then print or save (File → Referral letter)."""
        self.db(lambda s: s.settings.get(REGISTRATION_NUMBER) or "", self._ask_referral)

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
            self.db(lambda s: s.settings.set(REGISTRATION_NUMBER, registration))

    def export_referral(self, target: Path | None, on_done: Callable[[Path], None] | None = None, *,
                        facility: str = "", registration: str | None = None) -> None:
        """Write the letter of the encounter on screen, built from its stored record on the database worker.

        Everything in the letter (findings, answer, the doctor's diagnosis, notes, visit time) is read back from
        that one encounter, never from what an earlier consultation left in the window: a letter once carried
        another patient's notes that way.
        """
        if self.patient is None or self.encounter_id is None:
            return
        patient, encounter_id = self.patient, self.encounter_id

        def read(s: ClinicStore) -> tuple[dict[str, Any], tuple[str, str], str]:
            number = registration if registration is not None else s.settings.get(REGISTRATION_NUMBER) or ""
            return encounter_row(s.encounters.get(encounter_id)), clinic_identity(s), str(number)

        self.db(read, lambda got: self._write_referral(patient, *got, target, on_done, facility))

    def _write_referral(self, p: dict[str, Any], encounter: dict[str, Any], clinic: tuple[str, str],
                        registration: str, target: Path | None, on_done: Callable[[Path], None] | None,
                        facility: str) -> None:
        request, response = encounter["request"], encounter["response"]
        if not request or not response:
            return
        vocabulary = self.engine.vocabulary
        code = encounter["final_code"] or ""
        label = next((f"{d['name']} ({code})" for d in response.get("rare_diseases", [])
                      if d["orpha_code"] == code), code)
        if code in {c.code for c in vocabulary.conditions}:
            label = f"{vocabulary.condition(code).name[translator().lang]} ({code})"
        letter = ReferralLetter(
            clinic=clinic[0], clinic_place=clinic[1], patient_name=f"{p['given_names']} {p['family_names']}",
            patient_document=f"{p['document_type']} {p['document_number']}".strip(),
            patient_age=request.get("age") if request.get("age") is not None else age_in_years(p["birth_date"]),
            patient_sex=p["sex"], doctor=self.user_name, when=encounter["started_at"].astimezone(),
            request=request, response=response,
            final_diagnosis=label, notes=encounter["notes"],
            symptom_labels={s.key: s.label for s in vocabulary.symptoms},
            vitals=vital_fields(vocabulary),
            patient_birth=p["birth_date"], patient_village=p.get("village") or "",
            receiving_facility=facility, registration=registration,
            term_labels={h: self.consultation.term_label(h) for h in request.get("hpo_terms") or []},
        )
        lang = translator().lang
        if target is None:  # on paper, through the system's print dialog (GUI thread: it is a dialog)
            printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            dialog = QPrintDialog(printer, self)
            if dialog.exec():
                print_letter(letter, printer, lang)
                self.db(lambda s: s.audit.record_export("referral_print", {"patient": p["id"],
                                                                      "encounter": encounter["id"]}))
            return
        patient_id, encounter_id = p["id"], encounter["id"]

        def written(path: Path) -> None:
            self.last_pdf = path
            self.statusBar().showMessage(tr("main.pdf_written", path=str(path)), 8000)
            self.db(lambda s: s.audit.record_export("referral_pdf", {"patient": patient_id, "encounter": encounter_id}))
            if on_done:
                on_done(path)

        self.tasks.run(lambda: write_pdf(letter, target, lang), written, lambda e: show_error(self, e))

    # Accounts ----------------------------------------------------------------------------------------------------
    def open_accounts(self) -> None:
        """The administrator's accounts screen (Tools → Accounts)."""
        self.accounts_dialog = AccountsDialog(self, self.db)
        self.accounts_dialog.open()

    # Settings and sync -------------------------------------------------------------------------------------------
    def open_settings(self) -> None:
        self.db(lambda s: ({v: s.settings.get(v) for v in PREFERENCES},
                           {v: s.settings.may_change(v) for v in PREFERENCES}), self._show_settings)

    def _show_settings(self, read: tuple[dict[ConfigVar, Any], dict[ConfigVar, bool]]) -> None:
        dialog = SettingsDialog(self, read[0], read[1], self.data_dir)
        if dialog.exec():
            self.save_settings(dialog.values())

    def save_settings(self, changes: dict[ConfigVar, Any]) -> None:
        """Save what the person changed in Preferences (each setting checked by the store against its declaration
        and the person's role), then apply the language and auto-lock that now hold for them."""
        def save(s: ClinicStore) -> dict[ConfigVar, Any]:
            for var, value in changes.items():
                s.settings.set(var, value)
            return {LANGUAGE: s.settings.get(LANGUAGE), AUTO_LOCK: s.settings.get(AUTO_LOCK)}

        self.db(save, self._settings_saved)

    def _settings_saved(self, values: dict[ConfigVar, Any]) -> None:
        if values[LANGUAGE]:
            translator().set_language(values[LANGUAGE])
        self.settings_changed.emit(values)
        self.update_predictor()
        self.refresh_status()

    def sync_now(self, quiet: bool = False) -> None:
        """Send confirmed outcomes and look for a model update, on the pool; store calls hop to the database worker.

        `quiet`: a background run says nothing unless something needs the doctor (a new model, refused records).
        """
        from app.sync.run import run_sync

        store = self.store
        if store is None or self._syncing:
            return
        self._syncing = True
        self.action_sync.setEnabled(False)
        if not quiet:
            self.statusBar().showMessage(tr("main.syncing"))
        tasks, data_dir = self.tasks, self.data_dir

        def call_store(fn: Callable[[ClinicStore], Any]) -> Any:
            return tasks.run_database(lambda: fn(store), on_error=lambda _e: None).result()

        self.tasks.run(lambda: run_sync(call_store, data_dir), lambda r: self._synced(r, quiet),
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
        self.refresh_status()

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
