"""The referral letter carries what the receiving hospital acts on first: the WHO ETAT level and its reasons, NEWS2
and qSOFA when computed, AVPU, pregnancy, the examination signs and every vital with its unit. Driven through the
real app (encrypted store, real engine, the consultation screen) and read back from the PDF."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pypdf
import pytest

pytest.importorskip("pytestqt")

from app.ui.app import VeredaApp
from app.ui.explanation_chart import finding_label
from app.ui.i18n import translator
from app.ui.referral import ReferralLetter, render_html
from app.ui.vital_fields import vital_fields
from tests.ui.conftest import WAIT
from tests.ui.test_patient_safety import _close, _logged_in_doctor, _register


def _pdf_text(path: Path) -> str:
    text = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(path).pages).split())
    return text.replace(" :", ":")  # the extractor puts a space between a bold label and its colon


def test_letter_of_a_pregnant_woman_in_emergency(qtbot, vereda: VeredaApp, tmp_path: Path) -> None:
    main = _logged_in_doctor(qtbot, vereda, tmp_path)
    _register(qtbot, main, "Lucía", "Mamani Quispe", dt.date(1996, 4, 9))
    main.patients.consult_button.click()
    consultation = main.consultation
    consultation.pregnancy.status.setCurrentIndex(consultation.pregnancy.status.findData("pregnant"))
    consultation.pregnancy.number.setValue(34)
    consultation.consciousness.setCurrentIndex(consultation.consciousness.findData("A"))
    for key, value in (("systolic_bp", 168), ("diastolic_bp", 112), ("weight_kg", 72.5), ("capillary_refill_s", 2)):
        consultation.vitals[key].setValue(value)
    consultation.signs.set_checked(["severe_palmar_pallor"])
    consultation.symptom_model.set_intensities({"dolor_cabeza": 8, "cambios_vision": 5})
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT) as blocker:
        consultation.diagnose_button.click()
    response = blocker.args[1]
    assert response["triage"]["level"] == "EMERGENCIA"
    qtbot.waitUntil(lambda: main.encounter_id is not None, timeout=WAIT)
    _close(qtbot, main, "I10", "Sulfato de magnesio y remisión.")

    pdf = tmp_path / "remision.pdf"
    written: list[Path] = []
    main.export_referral(pdf, written.append)
    qtbot.waitUntil(lambda: bool(written), timeout=WAIT)
    text = _pdf_text(pdf)
    assert "Triaje (OMS ETAT): EMERGENCIA" in text
    assert "preeclampsia grave" in text  # the PRE_ECLAMPSIA_SEVERE reason, in words
    assert "Embarazo: Embarazada, 34 semanas" in text
    assert "Conciencia (AVPU): A — Alerta" in text
    assert "Signos al examen: Palidez palmar intensa" in text
    assert "168 mmHg" in text and "112 mmHg" in text  # the bundle's vitals with their units
    assert "Peso 72.5 kg" in text and "Llenado capilar 2 s" in text  # the contract's own, with theirs
    assert "NEWS2" not in text  # not computed in pregnancy: nothing shown rather than a made-up number


def test_letter_shows_news2_and_qsofa_when_computed_in_either_language(engine) -> None:
    request = {"age": 67, "sex": "M", "symptoms": {"fiebre": 6, "tos": 7, "expectoracion": 5}, "consciousness": "V",
               "vitals": {"temperature_c": 38.4, "heart_rate": 112, "respiratory_rate": 24, "spo2": 93,
                          "systolic_bp": 98, "diastolic_bp": 60, "height_cm": 170}}
    response = engine.diagnose(request)
    assert response["scores"]["news2"] is not None and response["scores"]["qsofa"] is not None
    letter = ReferralLetter(
        clinic="Puesto", patient_name="Mario", patient_document="CC 1", patient_age=67, patient_sex="M",
        doctor="Dra. Ana", when=dt.datetime(2026, 11, 20, 9, 30), request=request, response=response,
        final_diagnosis="J18.9", vitals=vital_fields(engine.vocabulary))
    news2, qsofa = response["scores"]["news2"], response["scores"]["qsofa"]
    es, en = render_html(letter, "es"), render_html(letter, "en")
    assert f"NEWS2 {news2} · qSOFA {qsofa}" in es and f"NEWS2 {news2} · qSOFA {qsofa}" in en
    assert response["triage"]["label"]["es"] in es and response["triage"]["label"]["en"] in en
    assert "V — Responde a la voz" in es and "V — Responds to voice" in en
    assert "Talla 170 cm" in es and ("Height 170 cm" in en or "Height or length 170 cm" in en)  # bundle's words
    assert "Frecuencia respiratoria 24 rpm" in es


def test_explanation_names_the_new_findings_in_words(engine) -> None:
    request = {"age": 0.5, "sex": "F", "signs": ["chest_indrawing"], "consciousness": "V",
               "vitals": {"muac_mm": 112}, "pregnancy": None}
    translator().set_language("es")
    labels = {name: finding_label(name, request, engine.vocabulary)
              for name in ("chest_indrawing", "stridor", "consciousness", "muac_mm", "weight_kg",
                           "pregnancy_status", "pregnancy_weeks")}
    assert labels["chest_indrawing"] == "Tiraje subcostal"
    assert labels["stridor"] == "Estridor en reposo (ausente)"
    assert labels["consciousness"] == "Conciencia (AVPU): V — Responde a la voz"
    assert labels["muac_mm"].startswith("Perímetro braquial (") and labels["muac_mm"].endswith(") 112 mm")
    assert labels["weight_kg"] == "Peso (no medido)"
    assert labels["pregnancy_status"] == "Embarazo: — (sin registrar)"
    assert labels["pregnancy_weeks"] == "Semanas de gestación (no aplica)"


def test_a_draft_with_only_examination_signs_is_kept_and_reopened(qtbot, vereda: VeredaApp,
                                                                   tmp_path: Path) -> None:
    main = _logged_in_doctor(qtbot, vereda, tmp_path)
    child = _register(qtbot, main, "Mateo", "Ríos Cárdenas", dt.date.today() - dt.timedelta(days=400))
    main.patients.consult_button.click()
    consultation = main.consultation
    consultation.signs.set_checked(["chest_indrawing", "stridor", "central_cyanosis"])  # no symptom typed yet
    consultation.vitals["muac_mm"].setValue(112)
    request = consultation.request()
    saved: list[str | None] = []
    main.save_draft(saved.append)  # what a lock or quitting does
    qtbot.waitUntil(lambda: bool(saved), timeout=WAIT)
    assert saved[0] is not None  # kept: signs are findings, not only symptoms

    main.load_history(child["id"])
    qtbot.waitUntil(lambda: main.patients.history.count() == 1, timeout=WAIT)
    main.patients.history.itemActivated.emit(main.patients.history.item(0))
    qtbot.waitUntil(lambda: main.encounter_id == saved[0], timeout=WAIT)
    assert consultation.request() == request
