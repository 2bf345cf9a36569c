"""A document number another patient already holds: the form comes back as it was typed, the reason under it, and the
list behind it shows who holds the number (found by entering patients: the error box came after the form had closed,
and everything typed was lost). Through the real app, its store and its modal form."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.ui.patients import PatientDialog
from app.ui.qt import QApplication, QDialogButtonBox, QTimer
from tests.ui.conftest import DOCTOR_PASSPHRASE, WAIT, create_clinic, log_in


def _type_patient(given: str, family: str, document: str, village: str, seen: list[dict]) -> None:
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, PatientDialog)
    seen.append({"error": dialog.error.text(), **dialog.values()})
    if given:
        dialog.given.setText(given)
        dialog.family.setText(family)
        dialog.village.setText(village)
    dialog.document_type.setCurrentIndex(dialog.document_type.findData("CC"))
    dialog.document.setText(document)
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save).click()


def test_a_document_already_held_brings_the_form_back_as_typed(qtbot, vereda, tmp_path: Path) -> None:
    create_clinic(tmp_path / "clinic")
    vereda.start()
    main = log_in(qtbot, vereda, "ana", DOCTOR_PASSPHRASE)
    seen: list[dict] = []
    QTimer.singleShot(200, lambda: _type_patient("Rosa", "Villca Choque", "41234567", "La Esperanza", seen))
    main.new_patient()
    qtbot.waitUntil(lambda: main.patients.model.rowCount() == 1, timeout=WAIT)

    # Another woman, the same number typed by mistake: refused, then the form again with all she typed. The form
    # is modal (its own event loop): what the clerk does in it is scheduled before it opens.
    reopened: dict = {}

    def correct_the_number() -> None:
        dialog = QApplication.activeModalWidget()
        holder = main.patients.current()
        shown = isinstance(dialog, PatientDialog) and bool(dialog.error.text())
        listed = holder is not None and holder["given_names"] == "Rosa"
        if not shown or (not listed and time.monotonic() < deadline):
            QTimer.singleShot(50, correct_the_number)
            return
        reopened.update(error=dialog.error.text(), focus=dialog.focusWidget() is dialog.document,
                        typed=(dialog.given.text(), dialog.family.text(), dialog.village.text(),
                               dialog.document.text()),
                        holder=(main.patients.model.rowCount(), (holder or {}).get("given_names")))
        _type_patient("", "", "41234576", "", seen)  # the right number: saved

    QTimer.singleShot(200, lambda: _type_patient("Marta", "Quispe Mamani", "41234567", "El Porvenir", seen))
    deadline = time.monotonic() + 10
    QTimer.singleShot(400, correct_the_number)
    main.new_patient()
    qtbot.waitUntil(lambda: main.patients.current() is not None
                    and main.patients.current()["given_names"] == "Marta", timeout=WAIT)
    assert reopened["error"] == "Ya hay un paciente con el documento CC indicado."
    assert reopened["typed"] == ("Marta", "Quispe Mamani", "El Porvenir", "41234567")
    assert reopened["focus"]
    assert reopened["holder"] == (1, "Rosa")  # the list behind the form shows who holds the number
    assert main.patients.current()["village"] == "El Porvenir"
