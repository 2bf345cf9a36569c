"""First run: language, clinic, administrator, the recovery key shown once, the clinic's doctor, and the
optional central service.

The database is created when the administrator page is accepted (on the database worker, the key derivation
takes a moment), so the recovery key shown next is the real one. It is shown once and never stored: the page
cannot be left until the person ticks "I wrote it down". Confirming a diagnosis is a doctor's act, not an
administrator's, so the wizard also creates the doctor's own account (often the same person, with a second
passphrase); at the end the administrator's session is locked and the login window opens for the doctor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.store.config_vars import AUTO_LOCK_LIMIT, CENTRAL_URL, CLINIC_LANGUAGE, COUNTRY, ENROLLMENT_CODE, LANGUAGE
from app.store.store import ClinicStore
from app.ui import operations as ops
from app.ui.document_types import COUNTRY_NAMES
from app.ui.errors import friendly_message
from app.ui.i18n import tr, translator
from app.ui.qt import (
    QCheckBox,
    QComboBox,
    QFont,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
    Signal,
)
from app.ui.tasks import TaskManager
from app.ui.widgets import NumberField, with_message


class _LanguagePage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.spanish = QRadioButton("Español")
        self.english = QRadioButton("English")
        (self.spanish if translator().lang == "es" else self.english).setChecked(True)
        self.spanish.toggled.connect(lambda on: self._choose("es", on))
        self.english.toggled.connect(lambda on: self._choose("en", on))
        layout = QVBoxLayout(self)
        layout.addWidget(self.spanish)
        layout.addWidget(self.english)

    @staticmethod
    def _choose(lang: str, on: bool) -> None:
        if on:  # the button turned on (its partner's "off" signal changes nothing)
            translator().set_language(lang)

    def retranslate(self) -> None:
        self.setTitle(tr("setup.language_title"))


class _ClinicPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.name = QLineEdit()
        self.municipality = QLineEdit()
        # Which identity documents the patient form offers (the COUNTRY setting; Preferences can change it later).
        self.country = QComboBox()
        for code in COUNTRY.choices:
            self.country.addItem(COUNTRY_NAMES[code], code)
        self.form = QFormLayout(self)
        self.name_label, self.municipality_label, self.country_label = QLabel(), QLabel(), QLabel()
        self.form.addRow(self.name_label, self.name)
        self.form.addRow(self.municipality_label, self.municipality)
        self.form.addRow(self.country_label, self.country)
        self.name.textChanged.connect(self.completeChanged)
        self.municipality.textChanged.connect(self.completeChanged)

    def retranslate(self) -> None:
        self.setTitle(tr("setup.clinic_title"))
        self.name_label.setText(tr("setup.clinic_name"))
        self.municipality_label.setText(tr("setup.municipality"))
        self.country_label.setText(tr("setup.country"))

    def isComplete(self) -> bool:
        return bool(self.name.text().strip() and self.municipality.text().strip())


class _AccountFields:
    """User name, full name and passphrase twice, with their labels and an error line: one account's form rows."""

    KEYS = ("setup.login", "setup.display_name", "setup.passphrase", "setup.passphrase_again")

    def __init__(self, form: QFormLayout, login: str = "") -> None:
        self.login = QLineEdit(login)
        self.display_name = QLineEdit()
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm = QLineEdit()
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b71c1c;")
        self.labels = [QLabel() for _ in self.KEYS]
        for label, field in zip(self.labels, self.fields, strict=True):
            form.addRow(label, field)

    @property
    def fields(self) -> tuple[QLineEdit, ...]:
        return (self.login, self.display_name, self.passphrase, self.confirm)

    def retranslate(self) -> None:
        for label, key in zip(self.labels, self.KEYS, strict=True):
            label.setText(tr(key))

    def passphrases_match(self) -> bool:
        if self.passphrase.text() != self.confirm.text():
            self.error.setText(tr("setup.passphrase_mismatch"))
            return False
        return True


class _AdminPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._wizard = wizard
        form = QFormLayout(self)
        self.account = _AccountFields(form, login="admin")
        self.login, self.display_name = self.account.login, self.account.display_name
        self.passphrase, self.confirm, self.error = self.account.passphrase, self.account.confirm, self.account.error
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        form.addRow(self.hint)
        form.addRow(self.error)
        for field in self.account.fields:
            field.textChanged.connect(self.completeChanged)

    def retranslate(self) -> None:
        self.setTitle(tr("setup.admin_title"))
        self.account.retranslate()
        self.hint.setText(tr("setup.passphrase_hint"))

    def isComplete(self) -> bool:
        return all(f.text() for f in self.account.fields)

    def validatePage(self) -> bool:
        if self._wizard.store is not None:
            return True
        if not self.account.passphrases_match():
            return False
        self.error.setText(tr("setup.creating"))
        self.setEnabled(False)
        self._wizard.create_clinic()
        return False  # the wizard moves on by itself when the database exists


class _RecoveryPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.key = QLabel()
        font = QFont("monospace")
        font.setPointSize(16)
        font.setBold(True)
        self.key.setFont(font)
        self.key.setTextInteractionFlags(self.key.textInteractionFlags())
        self.wrote_it = QCheckBox()
        self.wrote_it.toggled.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explanation)
        layout.addWidget(self.key)
        layout.addWidget(self.wrote_it)

    def retranslate(self) -> None:
        self.setTitle(tr("setup.recovery_title"))
        self.explanation.setText(tr("setup.recovery_explanation"))
        self.wrote_it.setText(tr("setup.recovery_confirm"))

    def isComplete(self) -> bool:
        return self.wrote_it.isChecked()


class _DoctorPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(self.explanation)
        self.account = _AccountFields(form)
        self.login, self.display_name = self.account.login, self.account.display_name
        self.passphrase, self.confirm, self.error = self.account.passphrase, self.account.confirm, self.account.error
        form.addRow(self.error)

    def retranslate(self) -> None:
        self.setTitle(tr("setup.doctor_title"))
        self.explanation.setText(tr("setup.doctor_explanation"))
        self.account.retranslate()

    def wanted(self) -> bool:
        return any(f.text() for f in (self.login, self.display_name, self.passphrase))

    def validatePage(self) -> bool:
        if not self.wanted():
            return True  # the administrator adds doctors later
        if not all(f.text().strip() for f in (self.login, self.display_name, self.passphrase)):
            self.error.setText(tr("setup.doctor_incomplete"))
            return False
        return self.account.passphrases_match()


class _ServicePage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://vereda.example.org")
        self.code = QLineEdit()
        self.auto_lock = NumberField(1, 120, 0, optional=False)  # minutes
        self.auto_lock.setValue(10)
        # Said when the doctor page was left empty: until a doctor exists, nobody can close a consultation.
        self.no_doctor = QLabel()
        self.no_doctor.setWordWrap(True)
        self.no_doctor.setObjectName("noDoctorWarning")
        self.no_doctor.setStyleSheet("color: #7a4b00; font-weight: bold;")
        self.no_doctor.hide()
        self.labels = [QLabel() for _ in range(3)]
        form = QFormLayout(self)
        form.addRow(self.explanation)
        for label, field in zip(self.labels, (self.url, self.code, with_message(self.auto_lock)), strict=True):
            form.addRow(label, field)
        form.addRow(self.no_doctor)

    def validatePage(self) -> bool:
        if self.auto_lock.error():
            self.auto_lock.show_error()
            return False
        return True

    def retranslate(self) -> None:
        self.setTitle(tr("setup.service_title"))
        self.explanation.setText(tr("setup.service_explanation"))
        self.no_doctor.setText(tr("setup.no_doctor"))
        for label, key in zip(self.labels, ("settings.central_url", "setup.enrollment_code",
                                            "settings.auto_lock_limit"), strict=True):
            label.setText(tr(key))


class SetupWizard(QWizard):
    """Emits `finished_setup(login)`: the account to log in with next (the doctor's, else the administrator's)."""

    finished_setup = Signal(str)

    def __init__(self, data_dir: Path, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.tasks = tasks
        self.operations = ops.Operations(tasks, parent=self)
        self.store: ClinicStore | None = None
        self.language_page = _LanguagePage()
        self.clinic_page = _ClinicPage()
        self.admin_page = _AdminPage(self)
        self.recovery_page = _RecoveryPage()
        self.doctor_page = _DoctorPage()
        self.service_page = _ServicePage()
        for page in self.pages():
            self.addPage(page)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage)
        # A bound method, not a lambda: Qt disconnects it when the window is destroyed.
        translator().language_changed.connect(self._language_changed)
        self.retranslate()
        self.currentIdChanged.connect(self._page_changed)

    def _language_changed(self, _lang: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr("setup.title"))
        for page in self.pages():
            page.retranslate()

    def pages(self) -> tuple[Any, ...]:
        return (self.language_page, self.clinic_page, self.admin_page, self.recovery_page, self.doctor_page,
                self.service_page)

    def _page_changed(self, _page_id: int) -> None:
        # Once the database exists there is no going back to the pages that made it.
        if self.currentPage() in (self.recovery_page, self.doctor_page, self.service_page):
            self.button(QWizard.WizardButton.BackButton).setEnabled(False)
        if self.currentPage() is self.service_page:
            self.service_page.no_doctor.setVisible(not self.doctor_page.wanted())

    def create_clinic(self) -> None:
        values: dict[str, Any] = {
            "clinic_name": self.clinic_page.name.text().strip(),
            "municipality": self.clinic_page.municipality.text().strip(),
            "admin_login": self.admin_page.login.text().strip(),
            "admin_name": self.admin_page.display_name.text().strip(),
            "admin_passphrase": self.admin_page.passphrase.text(),
        }
        self.operations.run(ops.create_clinic(self.data_dir, values), self._created, self._failed)

    def _created(self, result: tuple[ClinicStore, str]) -> None:
        self.store, recovery_key = result
        self.recovery_page.key.setText(recovery_key)
        self.admin_page.setEnabled(True)
        self.admin_page.error.clear()
        self.admin_page.passphrase.clear()
        self.admin_page.confirm.clear()
        self.next()

    def _failed(self, error: BaseException) -> None:
        self.admin_page.setEnabled(True)
        self.admin_page.error.setText(friendly_message(error))

    def _failed_at_end(self, error: BaseException) -> None:
        page = self.doctor_page
        self.back() if self.currentPage() is self.service_page else None
        page.error.setText(friendly_message(error))

    def accept(self) -> None:
        store = self.store
        if store is None:
            return
        url = self.service_page.url.text().strip()
        code = self.service_page.code.text().strip()
        minutes = int(self.service_page.auto_lock.value() or 10)
        language = translator().lang
        country = self.clinic_page.country.currentData()
        doctor = self.doctor_page
        new_doctor = (doctor.login.text().strip(), doctor.display_name.text().strip(), doctor.passphrase.text()) \
            if doctor.wanted() else None

        def save() -> str:
            # The clinic's: the longest auto-lock and the language each user starts with; the administrator's own.
            store.settings.set(AUTO_LOCK_LIMIT, minutes)
            store.settings.set(CLINIC_LANGUAGE, language)
            store.settings.set(COUNTRY, country)
            store.settings.set(LANGUAGE, language)
            if url:
                store.settings.set(CENTRAL_URL, url)
            if code:
                store.settings.set(ENROLLMENT_CODE, code)
            login = store.principal.login
            if new_doctor is not None:
                # They chose the passphrase themselves, here: no forced change at first login.
                login = store.users.add(new_doctor[0], new_doctor[1], "doctor", new_doctor[2],
                                        must_change_passphrase=False).login
            store.lock("setup")
            return login

        def saved(login: str) -> None:
            self.store = None
            super(SetupWizard, self).accept()
            self.finished_setup.emit(login)

        self.tasks.run_database(save, saved, self._failed_at_end)
