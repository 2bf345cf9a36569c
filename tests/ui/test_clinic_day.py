"""A whole clinic day under offscreen Qt, against a real central service on 127.0.0.1 in hybrid mode (issue 13,
"What it must show").

Setup through the wizard; the administrator adds a second doctor through the accounts screen and sets hybrid mode;
a newborn registered with a birth date 5 days ago is diagnosed with the answer from the cloud; the service stops and
the next patient is diagnosed locally within 2 s; findings added after diagnosing force a new diagnosis before
closing; the referral letter is exported and read back (clinic, visit date, units, this patient's notes only); the
doctor locks; the other doctor logs in and sees nothing of the first patient; wheel events over the final-diagnosis
box change nothing. No assertion rests on the model's probabilities or its top condition.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pypdf
import pytest

pytest.importorskip("pytestqt")

from app.preferences import Preferences
from app.store.config_vars import CENTRAL_URL, MODE
from app.ui.app import VeredaApp
from app.ui.i18n import tr, translator
from app.ui.qt import QWizard
from tests.server.conftest import start_server  # noqa: F401 - fixture
from tests.ui.conftest import log_in
from tests.ui.test_consultation_v2 import choose_final_diagnosis
from tests.ui.test_first_day import lock, wheel
from tests.ui.test_patient_safety import _register

ADMIN = ("admin", "cuatro palabras muy largas")
ANA = ("ana", "la doctora de la vereda")
LUIS = ("luis", "temporal de luis 1", "la clave propia de luis")
WAIT = 30_000


def _diagnose(qtbot, main) -> dict:
    errors: list[BaseException] = []
    main.consultation._failed = errors.append  # an error dialog would block offscreen: record it and fail
    with qtbot.waitSignal(main.consultation.diagnosed, timeout=WAIT) as blocker:
        main.consultation.diagnose_button.click()
    assert not errors, errors
    return blocker.args[1]


def _pdf_text(path: Path) -> str:
    text = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(path).pages).split())
    return text.replace(" :", ":")


def test_a_clinic_day_in_hybrid_mode(qtbot, engine, start_server, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("VEREDA_CONFIG_DIR", str(tmp_path / "config"))
    translator().set_language("es")
    server = start_server(f"sqlite:///{tmp_path / 'central.db'}")
    vereda = VeredaApp(tmp_path / "clinic", engine, Preferences())
    try:
        _day(qtbot, vereda, server, tmp_path)
    finally:
        if vereda.store is not None:
            store = vereda.store
            vereda.tasks.run_database(lambda: store.lock("test")).result(timeout=30)
        vereda.tasks.shutdown()
        for w in (vereda.main, vereda.login, vereda.wizard):
            if w is not None:
                w.hide()
                w.deleteLater()


def _day(qtbot, vereda: VeredaApp, server, tmp_path: Path) -> None:
    # Setup: clinic, administrator, recovery key, the first doctor.
    vereda.start()
    wizard = vereda.wizard
    assert wizard is not None
    wizard.next()
    wizard.clinic_page.name.setText("Puesto de Salud La Esperanza")
    wizard.clinic_page.municipality.setText("Inzá, Cauca")
    wizard.next()
    wizard.admin_page.display_name.setText("Administración")
    wizard.admin_page.passphrase.setText(ADMIN[1])
    wizard.admin_page.confirm.setText(ADMIN[1])
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=WAIT)
    wizard.recovery_page.wrote_it.setChecked(True)
    wizard.next()
    wizard.doctor_page.login.setText(ANA[0])
    wizard.doctor_page.display_name.setText("Dra. Ana Pérez")
    wizard.doctor_page.passphrase.setText(ANA[1])
    wizard.doctor_page.confirm.setText(ANA[1])
    wizard.next()
    with qtbot.waitSignal(wizard.finished_setup, timeout=WAIT):
        wizard.button(QWizard.WizardButton.FinishButton).click()

    # The administrator: hybrid mode against the central service, and a second doctor through the accounts screen.
    main = log_in(qtbot, vereda, *ADMIN)
    done: list[object] = []
    main.db(lambda s: (s.settings.set(CENTRAL_URL, server.url), s.settings.set(MODE, "hybrid")), done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    main.open_accounts()
    accounts = main.accounts_dialog
    assert accounts is not None
    qtbot.waitUntil(lambda: len(accounts.rows) == 2, timeout=WAIT)
    accounts.login.setText(LUIS[0])
    accounts.display_name.setText("Dr. Luis Mora")
    accounts.passphrase.setText(LUIS[1])
    accounts.add_button.click()
    qtbot.waitUntil(lambda: len(accounts.rows) == 3, timeout=WAIT)
    accounts.close()
    lock(qtbot, vereda)

    # The first doctor: a newborn, 5 days old, diagnosed by the central service.
    main = log_in(qtbot, vereda, *ANA)
    assert "Puesto de Salud La Esperanza" in main.windowTitle()
    qtbot.waitUntil(lambda: getattr(main.consultation.predictor, "mode", "") == "hybrid", timeout=WAIT)
    baby = _register(qtbot, main, "Luz", "Quispe Mamani", dt.date.today() - dt.timedelta(days=5))
    main.start_consultation(baby)
    consultation = main.consultation
    assert consultation.age.current_unit() == "days" and consultation.age.number.value() == 5
    consultation.vitals["temperature_c"].setText("38,6")  # a Colombian keyboard's decimal comma
    consultation.symptom_model.set_intensities({"fiebre": 8, "dificultad_respirar": 6, "tos": 4})
    answer = _diagnose(qtbot, main)
    assert answer["engine"] == "cloud"
    qtbot.waitUntil(lambda: main.encounter_id is not None, timeout=WAIT)
    choose_final_diagnosis(qtbot, consultation)
    consultation.notes.setPlainText("NOTAS DE LUZ: fiebre en recién nacida, remitir.")
    consultation.close_button.click()
    qtbot.waitUntil(lambda: main.encounter_closed, timeout=WAIT)

    # The service stops: the next patient is diagnosed by the laptop, within 2 s.
    server.stop()
    adult = _register(qtbot, main, "Rosa", "Villca Choque", dt.date(1980, 3, 2))
    main.start_consultation(adult)
    assert consultation.result.response is None and consultation.notes.toPlainText() == ""
    consultation.vitals["systolic_bp"].setText("150")
    consultation.vitals["heart_rate"].setText("96")
    consultation.symptom_model.set_intensities({"fiebre": 7, "tos": 8, "expectoracion": 6})
    started = time.monotonic()
    answer = _diagnose(qtbot, main)
    assert answer["engine"] == "local"
    assert time.monotonic() - started < 2.0
    qtbot.waitUntil(lambda: main.encounter_id is not None, timeout=WAIT)

    # Wheel events over the final-diagnosis box (and the explanation selector) change nothing.
    consultation.search.setFocus()
    chosen = consultation.final_diagnosis.currentData()
    why = consultation.result.why_target.currentIndex()
    wheel(consultation.final_diagnosis, -2)
    wheel(consultation.result.why_target, -2)
    assert consultation.final_diagnosis.currentData() == chosen
    assert consultation.result.why_target.currentIndex() == why

    # A finding added after diagnosing: the answer is out of date, closing waits for a new diagnosis.
    consultation.symptom_model.set_intensities({"fiebre": 7, "tos": 8, "expectoracion": 6, "dolor_pecho": 5})
    assert consultation.stale.isVisible() and not consultation.close_button.isEnabled()
    consultation._request_close()
    assert not main.encounter_closed and consultation.message.text() == tr("consult.stale")
    answer = _diagnose(qtbot, main)
    assert "dolor_pecho" in consultation.last_request["symptoms"]
    assert not consultation.stale.isVisible()
    choose_final_diagnosis(qtbot, consultation)
    consultation.notes.setPlainText("Control en 48 horas.")
    consultation.close_button.click()
    qtbot.waitUntil(lambda: main.encounter_closed, timeout=WAIT)
    closed_at = dt.datetime.now()

    # The referral letter, read back from the PDF.
    pdf = tmp_path / "remision.pdf"
    written: list[Path] = []
    main.remember_referral("Hospital Universitario San José", "RM 07-1111")
    main.export_referral(pdf, written.append, facility="Hospital Universitario San José",
                         registration="RM 07-1111")
    qtbot.waitUntil(lambda: bool(written), timeout=WAIT)
    text = _pdf_text(pdf)
    assert "Puesto de Salud La Esperanza, Inzá, Cauca" in text
    assert f"Fecha y hora de la consulta {closed_at:%Y-%m-%d} " in text  # the visit's, with its time
    assert "150 mmHg" in text and "96 lpm" in text  # vitals with their units
    assert "Rosa Villca Choque" in text and "Control en 48 horas." in text
    assert "LUZ" not in text and "recién nacida" not in text  # the other patient's notes never appear
    assert "Hospital Universitario San José" in text and "RM 07-1111" in text and "Firma" in text
    assert "Dolor torácico intensidad 5/10" in text
    assert main.preferences.referral_facilities[0] == "Hospital Universitario San José"

    # Lock; the other doctor logs in (choosing his own passphrase) and sees nothing of the first patient.
    lock(qtbot, vereda)
    vereda.login.login.setText(LUIS[0])
    vereda.login.passphrase.setText(LUIS[1])
    vereda.login.button.click()
    qtbot.waitUntil(vereda.login.new_passphrase.isVisible, timeout=WAIT)
    vereda.login.new_passphrase.setText(LUIS[2])
    vereda.login.new_confirm.setText(LUIS[2])
    vereda.login.button.click()
    qtbot.waitUntil(lambda: main.isVisible() and vereda.store is not None, timeout=WAIT)
    assert vereda.store.principal.login == LUIS[0]
    consultation = main.consultation
    assert consultation.patient_label.full_text() == tr("consult.no_patient")
    assert consultation.result.response is None and consultation.final_diagnosis.currentText() == ""
    assert consultation.notes.toPlainText() == "" and consultation.symptom_model.intensities() == {}
    assert consultation.request()["vitals"] == {} and not main.action_pdf.isEnabled()
    assert main.patients.search.text() == "" and main.patients.model.rowCount() == 0
    assert main.patients.history.count() == 0
    wheel(consultation.final_diagnosis, -3)
    assert consultation.final_diagnosis.currentText() == ""
