"""The whole day of a doctor, offscreen, with a real encrypted store and the real engine:
first-run setup -> login -> new patient -> consultation with the origin document's case 4 -> diagnose ->
confirm -> close -> history shows it -> PDF written -> lock -> unlock. And the window never freezes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.ui.app import VeredaApp
from app.ui.patients import PatientDialog
from app.ui.qt import QApplication, QDialogButtonBox, QTimer, QWizard
from tests.ui.conftest import DOCTOR_PASSPHRASE, PASSPHRASE, WAIT, create_clinic, log_in


def fill_patient_dialog() -> None:
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, PatientDialog)
    dialog.given.setText("María José")
    dialog.family.setText("Gómez Ríos")
    dialog.document.setText("1023456789")
    dialog.birth.setDate(dt.date(1981, 5, 14))
    dialog.village.setText("La Esperanza")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save).click()


def test_first_run_to_unlock(qtbot, vereda: VeredaApp, tmp_path: Path):
    vereda.start()
    wizard = vereda.wizard
    assert wizard is not None and wizard.isVisible()
    wizard.next()  # language: Spanish by default
    wizard.clinic_page.name.setText("Puesto de salud La Vereda")
    wizard.clinic_page.municipality.setText("San Andrés")
    wizard.next()
    admin = wizard.admin_page
    admin.login.setText("admin")
    admin.display_name.setText("Administración del puesto")
    admin.passphrase.setText(PASSPHRASE)
    admin.confirm.setText(PASSPHRASE)
    wizard.next()  # creates the encrypted database on the database worker
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=WAIT)
    key = wizard.recovery_page.key.text()
    assert len(key) > 20
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # must confirm it was written down
    wizard.recovery_page.wrote_it.setChecked(True)
    wizard.next()
    doctor = wizard.doctor_page
    doctor.login.setText("ana")
    doctor.display_name.setText("Dra. Ana Pérez")
    doctor.passphrase.setText(DOCTOR_PASSPHRASE)
    doctor.confirm.setText(DOCTOR_PASSPHRASE)
    wizard.next()
    wizard.service_page.auto_lock.setValue(10)
    with qtbot.waitSignal(wizard.finished_setup, timeout=WAIT):
        wizard.button(QWizard.WizardButton.FinishButton).click()

    # Login as the doctor.
    qtbot.waitUntil(vereda.login.isVisible, timeout=WAIT)
    assert vereda.login.login.text() == "ana"
    vereda.login.passphrase.setText(DOCTOR_PASSPHRASE)
    vereda.login.button.click()
    qtbot.waitUntil(vereda.main.isVisible, timeout=WAIT)
    main = vereda.main
    assert key not in (tmp_path / "clinic").joinpath("vereda.db").read_bytes().decode("latin-1")

    # New patient through the real dialog.
    QTimer.singleShot(200, fill_patient_dialog)
    main.new_patient()
    qtbot.waitUntil(lambda: main.patients.model.rowCount() == 1, timeout=WAIT)
    patient = main.patients.current()
    assert patient is not None and patient["family_names"] == "Gómez Ríos"

    # Search finds her by partial, accent-free words.
    main.patients.search.setText("mar gom")
    qtbot.waitUntil(lambda: main.patients.model.rowCount() == 1 and main.patients.current() is not None,
                    timeout=WAIT)

    # Consultation with the origin document's case 4.
    main.patients.consult_button.click()
    consultation = main.consultation
    assert main.tabs.currentWidget() is consultation
    consultation.symptom_model.set_intensities({"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8})
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        consultation.diagnose_button.click()
    assert blocker.args[1]["severity"] == "ENFERMEDAD_AGUDA"
    qtbot.waitUntil(lambda: main.encounter_id is not None, timeout=WAIT)  # saved as a draft encounter

    # Confirm and close.
    consultation.final_diagnosis.setCurrentIndex(consultation.final_diagnosis.findData("I21"))
    consultation.notes.setPlainText("Remitida al hospital regional.")
    consultation.close_button.click()
    qtbot.waitUntil(lambda: main.encounter_closed, timeout=WAIT)
    assert main.action_pdf.isEnabled()

    # History shows it; the outbox has the confirmed outcome waiting.
    main.load_history(patient["id"])
    qtbot.waitUntil(lambda: main.patients.history.count() == 1
                    and "I21" in main.patients.history.item(0).text(), timeout=WAIT)
    qtbot.waitUntil(lambda: main.status_pending.text().endswith("1"), timeout=WAIT)

    # Referral letter.
    pdf = tmp_path / "remision.pdf"
    written: list[Path] = []
    main.export_referral(pdf, written.append)
    qtbot.waitUntil(lambda: bool(written), timeout=WAIT)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000

    # Lock: keys dropped, login shown, patient data hidden.
    vereda.lock()
    qtbot.waitUntil(lambda: vereda.login.isVisible() and not main.isVisible(), timeout=WAIT)
    assert vereda.store is None and main.store is None

    # Unlock as the same doctor: the screen comes back as it was.
    assert vereda.login.login.text() == "ana"
    vereda.login.passphrase.setText(DOCTOR_PASSPHRASE)
    vereda.login.button.click()
    qtbot.waitUntil(main.isVisible, timeout=WAIT)
    assert vereda.store is not None
    assert consultation.result.response is not None and consultation.result.response["severity"] == "ENFERMEDAD_AGUDA"


def test_wrong_passphrase_is_explained(qtbot, vereda: VeredaApp, tmp_path: Path):
    from app.store.store import ClinicStore

    store, _key = ClinicStore.create(tmp_path / "clinic", clinic_name="Puesto", municipality="Pueblo",
                                     admin_login="admin", admin_name="Admin", admin_passphrase=PASSPHRASE)
    store.lock()
    vereda.start()
    assert vereda.login.isVisible()
    vereda.login.login.setText("admin")
    vereda.login.passphrase.setText("no es la contraseña")
    vereda.login.button.click()
    qtbot.waitUntil(lambda: "incorrect" in vereda.login.status.text(), timeout=WAIT)
    assert not vereda.main.isVisible()


def test_gui_thread_keeps_ticking_during_slow_database_work(qtbot, vereda: VeredaApp):
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    done: list[object] = []
    vereda.tasks.run_database(lambda: time.sleep(1.5) or "slow", done.append)
    vereda.tasks.run(lambda: time.sleep(1.5) or "slow network", done.append)
    qtbot.waitUntil(lambda: len(done) == 2, timeout=WAIT)
    timer.stop()
    # 1.5 s at 20 ms is 75 ticks; a frozen loop would give one or two. Allow a loaded CI machine half of it.
    assert len(ticks) >= 35, len(ticks)
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.5


def test_idle_lock_keeps_unsaved_findings_as_a_draft(qtbot, vereda: VeredaApp, tmp_path: Path):
    from app.store.store import ClinicStore

    create_clinic(tmp_path / "clinic", users=(("ana", "Dra. Ana", DOCTOR_PASSPHRASE),), clinic_name="Puesto",
                  municipality="Pueblo")
    vereda.start()
    main = log_in(qtbot, vereda, "ana", DOCTOR_PASSPHRASE)
    QTimer.singleShot(200, fill_patient_dialog)
    main.new_patient()
    qtbot.waitUntil(lambda: main.patients.current() is not None, timeout=WAIT)
    main.patients.consult_button.click()
    main.consultation.symptom_model.set_intensities({"fiebre": 8, "tos": 6, "dolor_cabeza": 4})  # not diagnosed

    vereda.watcher.last -= vereda.auto_lock_minutes * 60 + 1  # nobody touched the laptop for the idle minutes
    vereda._check_idle()
    qtbot.waitUntil(lambda: vereda.login.isVisible() and vereda.store is None, timeout=WAIT)

    # Even if the app died now, the findings are in the database as a draft encounter.
    again = ClinicStore.unlock(tmp_path / "clinic", "ana", DOCTOR_PASSPHRASE)
    try:
        patient = again.patients.search("gomez rios")[0]
        drafts = [e for e in again.encounters.for_patient(patient.id) if e.status == "draft"]
        assert len(drafts) == 1 and drafts[0].request["symptoms"] == {"fiebre": 8, "tos": 6, "dolor_cabeza": 4}
    finally:
        again.lock()
