"""Before the referral letter goes out: where the patient is sent and the doctor's registration number, then
print it through the system's print dialog or save it as a PDF.

The receiving facility is chosen from those used before or typed; the main window remembers it for next time. The
registration number comes from the doctor's account (set by the administrator) and can be typed here when missing.
"""

from __future__ import annotations

from app.ui.i18n import tr
from app.ui.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

PRINT, SAVE_PDF = 1, 2


class ReferralDialog(QDialog):
    """`exec()` returns PRINT, SAVE_PDF or 0 (cancelled)."""

    def __init__(self, parent: QWidget | None, facilities: list[str], registration: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("referral_dialog.title"))
        self.facility = QComboBox()
        self.facility.setEditable(True)
        self.facility.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.facility.addItems(facilities)
        editor = self.facility.lineEdit()  # present: the box was made editable just above
        if editor is not None:
            editor.setPlaceholderText(tr("referral_dialog.facility_hint"))
        self.registration = QLineEdit(registration)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b71c1c;")
        self.print_button = QPushButton(tr("referral_dialog.print"))
        self.pdf_button = QPushButton(tr("referral_dialog.save_pdf"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.print_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.pdf_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.print_button.clicked.connect(lambda: self._finish(PRINT))
        self.pdf_button.clicked.connect(lambda: self._finish(SAVE_PDF))
        form = QFormLayout(self)
        form.addRow(tr("referral_dialog.facility"), self.facility)
        form.addRow(tr("referral_dialog.registration"), self.registration)
        form.addRow(self.error)
        form.addRow(buttons)
        self.resize(520, 160)

    def _finish(self, how: int) -> None:
        if not self.facility_name():
            self.error.setText(tr("referral_dialog.need_facility"))
            return
        self.done(how)

    def facility_name(self) -> str:
        return self.facility.currentText().strip()

    def registration_number(self) -> str:
        return self.registration.text().strip()
