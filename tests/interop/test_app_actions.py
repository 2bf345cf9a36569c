"""The app's side of issue 15, driven through the real window (offscreen, real engine, real encrypted store): the
notice when a doctor confirms a notifiable disease, and File → Export (FHIR)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.interop.fhir import parse_bundle
from app.ui.app import VeredaApp
from app.ui.i18n import translator
from app.ui.qt import QFileDialog
from tests.ui.conftest import (  # noqa: F401 - the app fixture and the UI tests' garbage-collection guard
    DOCTOR_PASSPHRASE,
    WAIT,
    _collect_on_the_gui_thread,
    create_clinic,
    log_in,
    vereda,
)
from tests.ui.test_patient_safety import _close, _diagnose, _register

DENGUE_LIKE = {"fiebre": 9, "dolor_cabeza": 7, "dolor_retroocular": 7, "dolor_muscular": 8}


def test_confirming_a_notifiable_disease_says_so_and_the_visit_exports_as_fhir(
        qtbot, vereda: VeredaApp, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    translator().set_language("es")
    create_clinic(tmp_path / "clinic")
    vereda.start()
    main = log_in(qtbot, vereda, "ana", DOCTOR_PASSPHRASE)
    assert not main.action_fhir.isEnabled()
    _register(qtbot, main, "Leidy", "Osorio Ríos", dt.date(1990, 6, 1))
    main.patients.consult_button.click()
    _diagnose(qtbot, main, DENGUE_LIKE)
    _close(qtbot, main, "A97", "")
    qtbot.waitUntil(lambda: "notificación obligatoria" in main.statusBar().currentMessage(), timeout=WAIT)
    assert "Dengue" in main.statusBar().currentMessage()

    target = tmp_path / "visita.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert main.action_fhir.isEnabled()
    main.action_fhir.trigger()
    qtbot.waitUntil(target.exists, timeout=WAIT)
    bundle = json.loads(target.read_text(encoding="utf-8"))
    parse_bundle(bundle)
    [condition] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    assert condition["code"]["coding"][0]["code"] == "A97"
    [patient] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert patient["name"][0]["family"] == "Osorio Ríos"

    # A diagnosis that is not notifiable: only the usual words.
    main.patients.consult_button.click()
    _diagnose(qtbot, main, {"tos": 5, "congestion_nasal": 6, "dolor_garganta": 4})
    _close(qtbot, main, "J06.9", "")
    qtbot.waitUntil(lambda: "Consulta cerrada" in main.statusBar().currentMessage(), timeout=WAIT)
    assert "notificación obligatoria" not in main.statusBar().currentMessage()
