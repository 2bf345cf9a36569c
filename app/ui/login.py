"""The login / unlock window: user and passphrase, or the recovery key in an emergency.

Unlocking derives a key (a deliberate fraction of a second) on the database worker, so the window stays alive and
says what it is doing. Errors come from the store in the doctor's language (wrong passphrase, wait N seconds).
An account opened with a temporary passphrase (new, re-enabled or reset by the administrator) chooses its own
here before the main window opens: the store refuses everything else until then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.ui import operations as ops
from app.ui.errors import friendly_message
from app.ui.i18n import tr, translator
from app.ui.qt import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.tasks import TaskManager


class LoginWindow(QWidget):
    unlocked = Signal(object)  # the unlocked ClinicStore

    def __init__(self, data_dir: Path, tasks: TaskManager, last_login: str = "") -> None:
        super().__init__()
        self.data_dir = data_dir
        self.tasks = tasks
        self.operations = ops.Operations(tasks, parent=self)
        self.setObjectName("loginWindow")
        self.title = QLabel()
        font = self.title.font()
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.title.setFont(font)
        self.subtitle = QLabel()
        self.subtitle.setWordWrap(True)
        self.login = QLineEdit(last_login)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.returnPressed.connect(self.submit)
        self.use_recovery = QCheckBox()
        self.use_recovery.toggled.connect(self._mode_changed)
        self.recovery = QLineEdit()
        self.recovery.returnPressed.connect(self.submit)
        self.language = QComboBox()
        self.language.addItem("Español", "es")
        self.language.addItem("English", "en")
        self.language.setCurrentIndex(0 if translator().lang == "es" else 1)
        self.language.currentIndexChanged.connect(lambda _i: translator().set_language(self.language.currentData()))
        self.button = QPushButton()
        self.button.setDefault(True)
        self.button.clicked.connect(self.submit)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("loginStatus")
        # Shown only while a temporary passphrase is being replaced.
        self.new_passphrase, self.new_confirm = QLineEdit(), QLineEdit()
        for field in (self.new_passphrase, self.new_confirm):
            field.setEchoMode(QLineEdit.EchoMode.Password)
            field.returnPressed.connect(self.submit)
        self.new_label, self.confirm_label = QLabel(), QLabel()
        self._pending: Any = None  # the store opened with a temporary passphrase, and that passphrase
        self._temporary = ""

        self.login_label, self.passphrase_label, self.recovery_label = QLabel(), QLabel(), QLabel()
        form = QFormLayout()
        form.addRow(self.login_label, self.login)
        form.addRow(self.passphrase_label, self.passphrase)
        form.addRow(self.recovery_label, self.recovery)
        form.addRow(self.new_label, self.new_passphrase)
        form.addRow(self.confirm_label, self.new_confirm)
        form.addRow(self.use_recovery)
        row = QHBoxLayout()
        row.addWidget(self.language)
        row.addStretch(1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addStretch(2)
        layout.setContentsMargins(60, 30, 60, 30)
        # A bound method, not a lambda: Qt disconnects it when the window is destroyed.
        translator().language_changed.connect(self._language_changed)
        self.retranslate()
        self._mode_changed(False)

    def _language_changed(self, _lang: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr("login.window_title"))
        self.title.setText(tr("login.title"))
        self.subtitle.setText(tr("login.subtitle"))
        self.login_label.setText(tr("setup.login"))
        self.passphrase_label.setText(tr("setup.passphrase"))
        self.recovery_label.setText(tr("login.recovery_key"))
        self.use_recovery.setText(tr("login.use_recovery"))
        self.button.setText(tr("login.enter"))
        self.new_label.setText(tr("login.new_passphrase"))
        self.confirm_label.setText(tr("setup.passphrase_again"))

    def _mode_changed(self, recovery: bool) -> None:
        for w in (self.login, self.passphrase, self.login_label, self.passphrase_label):
            w.setVisible(not recovery)
        for w in (self.recovery, self.recovery_label):
            w.setVisible(recovery)
        for w in (self.new_passphrase, self.new_confirm, self.new_label, self.confirm_label):
            w.setVisible(self._pending is not None)
        (self.recovery if recovery else (self.passphrase if self.login.text() else self.login)).setFocus()

    def reset(self, message: str = "") -> None:
        self._pending, self._temporary = None, ""
        self.new_passphrase.clear()
        self.new_confirm.clear()
        self._mode_changed(self.use_recovery.isChecked())
        self.passphrase.clear()
        self.recovery.clear()
        self.status.setText(message)
        self.button.setEnabled(True)
        self.passphrase.setFocus() if self.login.text() else self.login.setFocus()

    def submit(self) -> None:
        if not self.button.isEnabled():
            return

        if self._pending is not None:
            self._change_passphrase()
            return
        self.button.setEnabled(False)
        self.status.setText(tr("login.opening"))
        if self.use_recovery.isChecked():
            key = self.recovery.text()
            op = ops.unlock_with_recovery_key(self.data_dir, key)
        else:
            login, passphrase = self.login.text().strip(), self.passphrase.text()
            self._temporary = passphrase
            op = ops.unlock(self.data_dir, login, passphrase)
        self.passphrase.clear()
        self.operations.run(op, self._done, self._failed)

    def _done(self, store: Any) -> None:
        self.button.setEnabled(True)
        if store.principal.must_change_passphrase and not store.principal.emergency:
            self._pending = store
            self._mode_changed(False)
            self.status.setText(tr("login.choose_passphrase"))
            self.new_passphrase.setFocus()
            return
        self._temporary = ""
        self.status.clear()
        self.unlocked.emit(store)

    def _change_passphrase(self) -> None:
        new, again = self.new_passphrase.text(), self.new_confirm.text()
        if new != again:
            self.status.setText(tr("setup.passphrase_mismatch"))
            return
        store, current = self._pending, self._temporary
        self.button.setEnabled(False)

        def changed(_result: object) -> None:
            self._pending, self._temporary = None, ""
            self.new_passphrase.clear()
            self.new_confirm.clear()
            self._mode_changed(False)
            self._done(store)

        def refused(error: BaseException) -> None:
            self.button.setEnabled(True)
            self.status.setText(friendly_message(error))

        self.operations.run(ops.change_own_passphrase(current, new), changed, refused, store=store)

    def _failed(self, error: BaseException) -> None:
        self.button.setEnabled(True)
        self.status.setText(friendly_message(error))
        self.passphrase.setFocus()
