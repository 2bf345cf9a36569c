"""Enter on the patient list opens the consultation of the patient under the cursor, as the doctor's guide says
(found by entering patients: only the search box and a double click did)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.ui.qt import Qt
from tests.ui.conftest import DOCTOR_PASSPHRASE, WAIT, create_clinic, log_in
from tests.ui.test_patient_safety import _register


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Enter])
def test_enter_on_the_list_opens_the_consultation(qtbot, vereda, tmp_path: Path, key) -> None:
    create_clinic(tmp_path / "clinic")
    vereda.start()
    main = log_in(qtbot, vereda, "ana", DOCTOR_PASSPHRASE)
    _register(qtbot, main, "Rosa", "Villca Choque", dt.date(1990, 3, 2))
    table = main.patients.table
    main.activateWindow()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=WAIT)
    qtbot.keyClick(table, key)
    qtbot.waitUntil(lambda: (main.patient or {}).get("given_names") == "Rosa", timeout=WAIT)
