"""The administrator's accounts screen (Tools → Accounts): add a doctor, list the accounts, disable, enable, reset a
passphrase.

Every change is a named operation (app/ui/operations.py) run on the database worker; the store checks that the
person logged in may manage users and writes each change to the audit log. A new, re-enabled or reset account gets
a temporary passphrase that its owner replaces at the next login. Each doctor's professional registration number is
her own setting (REGISTRATION_NUMBER), asked for on her first referral letter and remembered with her account.
"""

from __future__ import annotations

from typing import Any

from app.ui import operations as ops
from app.ui.errors import friendly_message
from app.ui.i18n import tr
from app.ui.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStandardItem,
    QStandardItemModel,
    Qt,
    QVBoxLayout,
    QWidget,
)
from app.ui.widgets import row_table

ROLES = ("doctor", "nurse", "admin")
COLUMNS = ("login", "name", "role", "state")


class AccountsDialog(QDialog):
    def __init__(self, parent: QWidget | None, operations: ops.Operations) -> None:
        super().__init__(parent)
        self.run = operations.run
        self.rows: list[dict[str, Any]] = []
        self.setWindowTitle(tr("accounts.title"))
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels([tr(f"accounts.col_{c}") for c in COLUMNS])
        self.table = row_table(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # sized to the rows each time they come
        header.setSectionResizeMode(COLUMNS.index("name"), QHeaderView.ResizeMode.Stretch)

        # A new account.
        self.new_box = QGroupBox(tr("accounts.new"))
        self.login = QLineEdit()
        self.display_name = QLineEdit()
        self.role = QComboBox()
        for role in ROLES:
            self.role.addItem(tr(f"accounts.role_{role}"), role)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_button = QPushButton(tr("accounts.add"))
        self.add_button.clicked.connect(self.add)
        form = QFormLayout(self.new_box)
        form.addRow(tr("setup.login"), self.login)
        form.addRow(tr("setup.display_name"), self.display_name)
        form.addRow(tr("accounts.role"), self.role)
        form.addRow(tr("accounts.temporary"), self.passphrase)
        form.addRow(self.add_button)

        # The selected account.
        self.selected_box = QGroupBox(tr("accounts.selected"))
        self.temporary = QLineEdit()
        self.temporary.setEchoMode(QLineEdit.EchoMode.Password)
        self.disable_button = QPushButton(tr("accounts.disable"))
        self.enable_button = QPushButton(tr("accounts.enable"))
        self.reset_button = QPushButton(tr("accounts.reset"))
        self.disable_button.clicked.connect(self.disable)
        self.enable_button.clicked.connect(self.enable)
        self.reset_button.clicked.connect(self.reset_passphrase)
        selected = QFormLayout(self.selected_box)
        selected.addRow(tr("accounts.temporary"), self.temporary)
        actions = QHBoxLayout()
        for button in (self.disable_button, self.enable_button, self.reset_button):
            actions.addWidget(button)
        selected.addRow(actions)

        self.status = QLabel()
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        panes = QHBoxLayout()
        panes.addWidget(self.new_box)
        panes.addWidget(self.selected_box)
        layout.addLayout(panes)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.table.selectionModel().currentRowChanged.connect(lambda *_a: self._selection_changed())
        self.resize(900, 560)
        self._selection_changed()
        self.refresh()

    # List ---------------------------------------------------------------------------------------------------------
    def refresh(self, message: str = "") -> None:
        def shown(rows: list[dict[str, Any]]) -> None:
            self._show(rows)
            self.status.setStyleSheet("")
            self.status.setText(message)

        self.run(ops.list_accounts(), shown, self._failed)

    def _show(self, rows: list[dict[str, Any]]) -> None:
        current = self.current()
        self.rows = rows
        self.model.removeRows(0, self.model.rowCount())
        for row in rows:
            state = (tr("accounts.disabled") if not row["active"]
                     else tr("accounts.must_change") if row["must_change"] else tr("accounts.active"))
            cells = (row["login"], row["name"], tr(f"accounts.role_{row['role']}"), state)
            items = [QStandardItem(text) for text in cells]
            items[0].setData(row["id"], Qt.ItemDataRole.UserRole)
            self.model.appendRow(items)
        for column in range(len(COLUMNS)):
            if COLUMNS[column] != "name":
                self.table.resizeColumnToContents(column)
        for i, row in enumerate(rows):
            if current is not None and row["id"] == current["id"]:
                self.table.selectRow(i)
        self._selection_changed()

    def current(self) -> dict[str, Any] | None:
        index = self.table.currentIndex()
        return self.rows[index.row()] if index.isValid() and index.row() < len(self.rows) else None

    def select_login(self, login: str) -> None:
        for i, row in enumerate(self.rows):
            if row["login"] == login:
                self.table.selectRow(i)

    def _selection_changed(self) -> None:
        row = self.current()
        for button in (self.disable_button, self.enable_button, self.reset_button):
            button.setEnabled(row is not None)
        if row is not None:
            self.disable_button.setEnabled(row["active"])
            self.enable_button.setEnabled(not row["active"])
            self.reset_button.setEnabled(row["active"])

    def _failed(self, error: BaseException) -> None:
        self.status.setStyleSheet("color: #b71c1c;")
        self.status.setText(friendly_message(error))

    # Changes ------------------------------------------------------------------------------------------------------
    def add(self) -> None:
        login, name = self.login.text().strip(), self.display_name.text().strip()
        role, passphrase = self.role.currentData(), self.passphrase.text()

        def added(new_login: str) -> None:
            for field in (self.login, self.display_name, self.passphrase):
                field.clear()
            self.refresh(tr("accounts.added", login=new_login))

        self.run(ops.add_user(login, name, role, passphrase), added, self._failed)

    def _change(self, op: Any, row: dict[str, Any], done: str) -> None:
        self.run(op, lambda _r: self.refresh(tr(done, login=row["login"])), self._failed)

    def disable(self) -> None:
        row = self.current()
        if row is not None:
            self._change(ops.disable_user(row["id"]), row, "accounts.disabled_done")

    def enable(self) -> None:
        temporary, row = self.temporary.text(), self.current()
        self.temporary.clear()
        if row is not None:
            self._change(ops.enable_user(row["id"], temporary), row, "accounts.enabled_done")

    def reset_passphrase(self) -> None:
        temporary, row = self.temporary.text(), self.current()
        self.temporary.clear()
        if row is not None:
            self._change(ops.reset_passphrase(row["id"], temporary), row, "accounts.reset_done")

