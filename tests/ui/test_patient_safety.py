"""Defects that put the wrong patient on paper or the wrong age into the engine, driven through the real app
(encrypted store, real engine, the patient dialog, the consultation screen, the referral PDF read back as text)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pypdf
import pytest

pytest.importorskip("pytestqt")

from app.ui.app import VeredaApp
from app.ui.patients import PatientDialog
from app.ui.qt import QApplication, QDialogButtonBox, QTimer
from tests.ui.conftest import DOCTOR_PASSPHRASE, WAIT, create_clinic, log_in


def _logged_in_doctor(qtbot, vereda: VeredaApp, tmp_path: Path):
    """Dra. Ana Pérez of the Puesto de Salud La Vereda, logged in."""
    create_clinic(tmp_path / "clinic")
    vereda.start()
    return log_in(qtbot, vereda, "ana", DOCTOR_PASSPHRASE)


def _register(qtbot, main, given: str, family: str, birth: dt.date | None) -> dict:
    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, PatientDialog)
        dialog.given.setText(given)
        dialog.family.setText(family)
        if birth is not None:
            dialog.birth.setDate(birth)
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save).click()

    QTimer.singleShot(200, fill)
    main.new_patient()
    qtbot.waitUntil(lambda: (main.patients.current() or {}).get("given_names") == given, timeout=WAIT)
    return main.patients.current()


def _diagnose(qtbot, main, symptoms: dict[str, int]) -> dict:
    consultation = main.consultation
    consultation.symptom_model.set_intensities(symptoms)
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        consultation.diagnose_button.click()
    qtbot.waitUntil(lambda: main.encounter_id is not None, timeout=WAIT)
    return blocker.args[1]


def _close(qtbot, main, code: str, notes: str) -> None:
    consultation = main.consultation
    consultation.final_diagnosis.setCurrentIndex(consultation.final_diagnosis.findData(code))
    consultation.notes.setPlainText(notes)
    consultation.close_button.click()
    qtbot.waitUntil(lambda: main.encounter_closed, timeout=WAIT)


def test_a_five_day_old_is_diagnosed_as_a_newborn(qtbot, vereda: VeredaApp, tmp_path: Path) -> None:
    main = _logged_in_doctor(qtbot, vereda, tmp_path)
    _register(qtbot, main, "Bebé", "Quispe Mamani", dt.date.today() - dt.timedelta(days=5))
    main.patients.consult_button.click()
    consultation = main.consultation
    assert consultation.request()["age"] == pytest.approx(5 / 365.25, abs=1e-4)  # was 40: 0 read as "missing"
    assert consultation.age.number.value() == 5 and consultation.age.current_unit() == "days"

    response = _diagnose(qtbot, main, {"fiebre": 8, "dificultad_respirar": 6, "tos": 4})
    assert response["requires_immediate_attention"]
    assert response["severity"] == "ENFERMEDAD_AGUDA"
    assert any("3 meses" in flag["message"]["es"] for flag in response["red_flags"]), response["red_flags"]


def test_an_unknown_birth_date_is_asked_for_never_guessed(qtbot, vereda: VeredaApp, tmp_path: Path) -> None:
    main = _logged_in_doctor(qtbot, vereda, tmp_path)
    patient = _register(qtbot, main, "Juan", "Sin Fecha", None)
    assert patient["birth_date"] is None  # stored as unknown, not as "30 years ago"
    main.patients.consult_button.click()
    consultation = main.consultation
    assert consultation.age.years() is None
    consultation.symptom_model.set_intensities({"fiebre": 8, "tos": 6, "dolor_cabeza": 4})
    consultation.diagnose()
    assert "age" in consultation.message.text()  # the contract names the missing field
    assert consultation.result.response is None

    consultation.age.unit.setCurrentIndex(consultation.age.unit.findData("years"))
    consultation.age.number.setValue(52)
    assert consultation.request()["age"] == 52


def test_a_referral_letter_carries_only_its_own_visit(qtbot, vereda: VeredaApp, tmp_path: Path) -> None:
    main = _logged_in_doctor(qtbot, vereda, tmp_path)
    adult = _register(qtbot, main, "Rosa", "Villca Choque", dt.date(1980, 3, 2))
    main.patients.consult_button.click()
    _diagnose(qtbot, main, {"fiebre": 7, "tos": 8, "expectoracion": 6})
    _close(qtbot, main, "J18.9", "Control en 48 horas.")

    _register(qtbot, main, "Bebé", "Condori Apaza", dt.date.today() - dt.timedelta(days=5))
    main.patients.consult_button.click()
    _diagnose(qtbot, main, {"fiebre": 8, "dificultad_respirar": 6, "tos": 4})
    _close(qtbot, main, "G03", "NOTAS DEL BEBE: sepsis neonatal probable, remitir YA.")

    # Back to the first patient's closed visit, from her history, and its letter.
    main.patients.search.setText("villca")
    qtbot.waitUntil(lambda: (main.patients.current() or {}).get("id") == adult["id"], timeout=WAIT)
    main.load_history(adult["id"])
    qtbot.waitUntil(lambda: main.patients.history.count() == 1, timeout=WAIT)
    item = main.patients.history.item(0)
    main.patients.history.itemActivated.emit(item)
    qtbot.waitUntil(lambda: main.encounter_closed and main.patient["id"] == adult["id"], timeout=WAIT)

    pdf = tmp_path / "remision.pdf"
    written: list[Path] = []
    main.export_referral(pdf, written.append)
    qtbot.waitUntil(lambda: bool(written), timeout=WAIT)
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)
    text = " ".join(text.split())
    assert "Rosa Villca Choque" in text
    assert "Control en 48 horas." in text
    assert "BEBE" not in text and "sepsis" not in text
    assert "J18.9" in text


def test_the_status_bar_follows_a_language_change(qtbot, vereda: VeredaApp, tmp_path: Path) -> None:
    from app.ui.i18n import tr, translator

    main = _logged_in_doctor(qtbot, vereda, tmp_path)
    qtbot.waitUntil(lambda: main.status_mode.text() == tr("status.mode_offline"), timeout=WAIT)
    spanish = main.status_mode.text()
    try:
        translator().set_language("en")
        assert main.status_mode.text() == tr("status.mode_offline") != spanish  # at once, not at the next refresh
    finally:
        translator().set_language("es")
    assert main.status_mode.text() == spanish
