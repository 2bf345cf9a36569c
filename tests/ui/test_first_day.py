"""A doctor's first day (issue 13, points 3-11): what leaked between patients and users, what the wheel and the
locale changed behind the doctor's back, answers that went stale, the referral letter, accounts, long names,
keyboard traps and the smaller defects. Offscreen, real engine, real encrypted store; no assertion rests on the
model's probabilities or its top condition.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pypdf
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QWheelEvent

from app.store.config_vars import AUTO_LOCK, AUTO_LOCK_LIMIT
from app.store.keys import KdfParams
from app.ui.accounts import AccountsDialog
from app.ui.app import VeredaApp
from app.ui.consultation import ConsultationWidget
from app.ui.dialogs import SettingsDialog, about_html
from app.ui.i18n import tr, translator
from app.ui.patients import PatientDialog
from app.ui.qt import QApplication, QComboBox, QLocale, QPrinter, Qt, QWidget
from app.ui.referral import ReferralLetter, print_letter
from app.ui.setup_wizard import SetupWizard
from app.ui.tasks import TaskManager
from app.ui.vital_fields import vital_fields
from tests.ui.conftest import ANA, DOCTOR_PASSPHRASE, PASSPHRASE, WAIT, create_clinic, log_in
from tests.ui.test_consultation_v2 import choose_final_diagnosis, type_value
from tests.ui.test_patient_safety import _register

CHEAP = KdfParams(n=2**14, r=8, p=1)
SECOND_PASSPHRASE = "el otro medico del puesto"
FINDINGS = {"fiebre": 8, "tos": 7, "dificultad_respirar": 6}


@pytest.fixture
def screen(consultation_screen):
    consultation_screen.age.set_years(40)
    return consultation_screen


@pytest.fixture
def locale_es_co():
    before = QLocale()
    QLocale.setDefault(QLocale("es_CO"))
    yield
    QLocale.setDefault(before)


def diagnose(qtbot, widget: ConsultationWidget, symptoms: dict[str, int] | None = None) -> dict:
    if symptoms is not None:
        widget.symptom_model.set_intensities(symptoms)
    with qtbot.waitSignal(widget.diagnosed, timeout=WAIT) as blocker:
        widget.diagnose_button.click()
    return blocker.args[1]


def wheel(widget: QWidget, clicks: int) -> None:
    """Real wheel events, as a mouse over the widget sends them (negative: towards the doctor, down the list)."""
    centre = widget.rect().center()
    for _ in range(abs(clicks)):
        event = QWheelEvent(QPointF(centre), QPointF(widget.mapToGlobal(centre)), QPoint(0, 0),
                            QPoint(0, -120 if clicks < 0 else 120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)


def clinic_with_two_doctors(tmp_path: Path) -> None:
    create_clinic(tmp_path / "clinic", users=(ANA, ("luis", "Dr. Luis Mora", SECOND_PASSPHRASE)))


def ana_logged_in(qtbot, vereda: VeredaApp, tmp_path: Path):
    """Dra. Ana Pérez logged in at a clinic with a second doctor."""
    clinic_with_two_doctors(tmp_path)
    vereda.start()
    return log_in(qtbot, vereda, "ana", DOCTOR_PASSPHRASE)


def lock(qtbot, vereda: VeredaApp) -> None:
    vereda.lock()
    qtbot.waitUntil(lambda: vereda.login.isVisible() and vereda.store is None, timeout=WAIT)


def shown_for_a_patient(main) -> dict[str, object]:
    """Everything on screen that belongs to one patient's visit."""
    c = main.consultation
    return {
        "patient": "" if c.patient_label.toolTip() == tr("consult.no_patient") else c.patient_label.toolTip(),
        "result": c.result.response, "final": c.final_diagnosis.currentText(), "notes": c.notes.toPlainText(),
        "symptoms": c.symptom_model.intensities(), "signs": c.signs.checked(), "terms": c.chosen_terms(),
        "pregnancy": c.pregnancy.value(), "vitals": c.request()["vitals"],
        "stale": hasattr(c, "stale") and c.stale.isVisible(),
        "letter": main.action_pdf.isEnabled(), "confirm": c.confirm_box.isEnabled(),
    }


EMPTY = {"patient": "", "result": None, "final": "", "notes": "", "symptoms": {}, "signs": [], "terms": [],
         "pregnancy": None, "vitals": {}, "stale": False, "letter": False, "confirm": False}


def fill_a_visit(qtbot, main) -> None:
    c = main.consultation
    c.age.set_years(30)
    c.sex.setCurrentIndex(c.sex.findData("F"))
    c.pregnancy.status.setCurrentIndex(c.pregnancy.status.findData("pregnant"))
    c.pregnancy.number.setValue(20)
    c.vitals["temperature_c"].setValue(38.5)
    c.signs.set_checked(["severe_palmar_pallor"])
    qtbot.waitUntil(lambda: c.terms is not None, timeout=WAIT)
    c.hpo_search.setText("convulsi")
    qtbot.waitUntil(lambda: c.hpo_results.count() > 0, timeout=WAIT)
    qtbot.keyClick(c.hpo_search, Qt.Key.Key_Return)
    diagnose(qtbot, c, FINDINGS)
    qtbot.waitUntil(lambda: main.encounter_id is not None, timeout=WAIT)
    choose_final_diagnosis(qtbot, c)
    c.notes.setPlainText("NOTAS DE LA PRIMERA PACIENTE")


# Point 3 -------------------------------------------------------------------------------------------------------------
def test_patient_consultation_and_user_changes_clear_everything_shown(qtbot, vereda: VeredaApp,
                                                                       tmp_path: Path) -> None:
    main = ana_logged_in(qtbot, vereda, tmp_path)
    first = _register(qtbot, main, "Rosa", "Villca Choque", dt.date(1995, 3, 2))
    _register(qtbot, main, "Marta", "Quispe", dt.date(1990, 1, 1))

    # Another patient.
    main.start_consultation(first)
    fill_a_visit(qtbot, main)
    assert shown_for_a_patient(main)["final"] and shown_for_a_patient(main)["terms"]
    main.patients.consult_button.click()  # Marta, the current row
    assert main.patient["given_names"] == "Marta"
    assert {**shown_for_a_patient(main), "patient": ""} == EMPTY

    # A new consultation of the same patient.
    main.start_consultation(first)
    fill_a_visit(qtbot, main)
    main.start_consultation(first)
    assert {**shown_for_a_patient(main), "patient": ""} == EMPTY

    # Another user: the patient list and its search go too.
    fill_a_visit(qtbot, main)
    main.patients.search.setText("villca")
    qtbot.waitUntil(lambda: main.patients.model.rowCount() == 1, timeout=WAIT)
    lock(qtbot, vereda)
    main = log_in(qtbot, vereda, "luis", SECOND_PASSPHRASE)
    assert shown_for_a_patient(main) == EMPTY
    assert main.patients.search.text() == "" and main.patients.model.rowCount() == 0
    assert main.patients.history.count() == 0


# Point 4 -------------------------------------------------------------------------------------------------------------
def test_the_wheel_changes_no_box_it_merely_passes_over(qtbot, screen: ConsultationWidget) -> None:
    diagnose(qtbot, screen, FINDINGS)
    screen.search.setFocus()
    final, why = screen.final_diagnosis, screen.result.why_target
    before = (final.currentIndex(), why.currentIndex())
    for box in (final, why):
        wheel(box, -2)
        wheel(box, 1)
    assert (final.currentIndex(), why.currentIndex()) == before
    # The same events do change a box the doctor has put the focus in: they are real wheel events.
    final.setFocus()
    qtbot.waitUntil(final.hasFocus)
    wheel(final, -2)
    assert final.currentIndex() != before[0]

    # Every combo box and spin box of the app, whoever made it, lost "wheel focus".
    dialog = PatientDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    birth = dialog.birth.date()
    wheel(dialog.birth, -3)
    assert dialog.birth.date() == birth
    for box in [*screen.findChildren(QComboBox), dialog.birth, dialog.document_type]:
        assert box.focusPolicy() != Qt.FocusPolicy.WheelFocus, box


# Point 5 -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("locale", ["es_CO", "en_US"])
def test_both_decimal_separators_under_either_locale(qtbot, screen: ConsultationWidget, locale: str) -> None:
    before = QLocale()
    QLocale.setDefault(QLocale(locale))
    try:
        for typed in ("38.5", "38,5"):
            type_value(qtbot, screen.vitals["temperature_c"], typed)
            assert screen.request()["vitals"]["temperature_c"] == 38.5, (locale, typed)
        type_value(qtbot, screen.vitals["weight_kg"], "3,25")  # 0.1 kg: 3.25 cannot be taken exactly
        assert screen.vitals["weight_kg"].error()
        type_value(qtbot, screen.vitals["weight_kg"], "3,2")
        assert screen.request()["vitals"]["weight_kg"] == 3.2
        type_value(qtbot, screen.duration, "2,5")
        assert screen.request()["duration_days"] == 2.5
    finally:
        QLocale.setDefault(before)


def test_a_value_a_field_cannot_take_is_refused_beside_it(qtbot, screen: ConsultationWidget) -> None:
    screen.symptom_model.set_intensities(FINDINGS)
    temperature = screen.vitals["temperature_c"]
    heart = screen.vitals["heart_rate"]
    for field, typed in ((temperature, "385"), (heart, "9999"), (temperature, "20"), (temperature, "38.5.1")):
        type_value(qtbot, field, typed)
        screen.diagnose()
        assert field.text() == typed  # kept as typed: never cut to 38 or 99, never turned into "—"
        assert field.message.isVisible() and field.message.text(), typed
        assert screen.result.response is None  # no diagnosis on a refused number
        assert "temperature_c" not in screen.request()["vitals"] or field is heart
        assert screen.message.text()
        field.clear()
        assert not field.message.isVisible()
    screen.sex.setCurrentIndex(screen.sex.findData("F"))
    screen.age.set_years(30)
    screen.pregnancy.status.setCurrentIndex(screen.pregnancy.status.findData("pregnant"))
    type_value(qtbot, screen.pregnancy.number, "9999")
    assert screen.pregnancy.number.error() and screen.pregnancy.value() == {"status": "pregnant"}
    assert screen.pregnancy.number.text() == "9999"
    type_value(qtbot, screen.age.number, "200")
    screen.age.number.show_error()
    assert screen.age.years() is None and screen.age.number.message.isVisible()

    dialog = SettingsDialog(None, {AUTO_LOCK_LIMIT: 10, AUTO_LOCK: 10}, {AUTO_LOCK: True}, Path("."))
    qtbot.addWidget(dialog)
    type_value(qtbot, dialog.auto_lock, "999")
    dialog._accept()
    assert dialog.result() == 0 and dialog.auto_lock.message.text()  # refused, not cut to 99


# Point 6 -------------------------------------------------------------------------------------------------------------
def test_findings_changed_after_diagnosing_need_a_new_diagnosis_before_closing(qtbot, screen) -> None:
    closes: list[tuple[str, str]] = []
    screen.close_requested.connect(lambda code, notes: closes.append((code, notes)))
    diagnose(qtbot, screen, FINDINGS)
    assert not screen.stale.isVisible()

    screen.symptom_model.set_intensities({**FINDINGS, "dolor_cabeza": 5})  # added after the answer
    assert screen.stale.isVisible() and screen.stale.text()
    assert not screen.close_button.isEnabled()
    screen._request_close()  # even if reached another way (the keyboard), closing waits
    assert closes == []

    screen.signs.set_checked(["some_palmar_pallor"])
    assert screen.stale.isVisible()
    answer = diagnose(qtbot, screen)
    assert answer and not screen.stale.isVisible() and screen.close_button.isEnabled()
    assert screen.last_request == screen.request()  # the answer saw exactly what closing will store
    choose_final_diagnosis(qtbot, screen)
    screen.close_button.click()
    assert len(closes) == 1

    type_value(qtbot, screen.vitals["heart_rate"], "120")  # a vital counts too
    assert screen.stale.isVisible()


def test_closing_without_choosing_a_final_diagnosis_stores_nothing(qtbot, screen) -> None:
    """Vereda's first suggestion is never chosen for the doctor: one tired click on Cerrar consulta would have
    stored the model's guess as a confirmed outcome, and confirmed outcomes train the next model."""
    closes: list[tuple[str, str]] = []
    screen.close_requested.connect(lambda code, notes: closes.append((code, notes)))
    answer = diagnose(qtbot, screen, FINDINGS)
    assert screen.final_diagnosis.currentText() == "" and screen.close_button.isEnabled()
    assert screen.final_diagnosis.itemData(0) == answer["top_conditions"][0]["code"]  # offered first, not chosen
    qtbot.mouseClick(screen.close_button, Qt.MouseButton.LeftButton)
    assert closes == [] and screen.message.text() == tr("consult.need_final")
    code = choose_final_diagnosis(qtbot, screen)
    diagnose(qtbot, screen, {**FINDINGS, "dolor_cabeza": 4})  # a new answer keeps the doctor's choice
    assert screen.final_diagnosis.currentData() == code
    qtbot.mouseClick(screen.close_button, Qt.MouseButton.LeftButton)
    assert closes == [(code, "")]


# Point 7 -------------------------------------------------------------------------------------------------------------
def test_a_reopened_closed_visit_shows_its_notes_and_extra_findings(qtbot, vereda: VeredaApp,
                                                                    tmp_path: Path) -> None:
    main = ana_logged_in(qtbot, vereda, tmp_path)
    patient = _register(qtbot, main, "Rosa", "Villca Choque", dt.date(1995, 3, 2))
    main.start_consultation(patient)
    fill_a_visit(qtbot, main)
    terms = main.consultation.chosen_terms()
    code = main.consultation.final_diagnosis.currentData()
    main.consultation.close_button.click()
    qtbot.waitUntil(lambda: main.encounter_closed, timeout=WAIT)

    main.start_consultation(patient)  # away, then back from the history
    main.load_history(patient["id"])
    qtbot.waitUntil(lambda: main.patients.history.count() == 1
                    and main.patients.history.item(0).data(Qt.ItemDataRole.UserRole) is not None, timeout=WAIT)
    main.patients.history.itemActivated.emit(main.patients.history.item(0))
    qtbot.waitUntil(lambda: main.encounter_closed and main.consultation.result.response is not None, timeout=WAIT)
    consultation = main.consultation
    assert consultation.notes.toPlainText() == "NOTAS DE LA PRIMERA PACIENTE" and consultation.notes.isReadOnly()
    assert consultation.chosen_terms() == terms and consultation.findings_tabs.currentWidget() is consultation.hpo_box
    assert consultation.final_diagnosis.currentData() == code
    assert not consultation.stale.isVisible()


def test_the_letter_prints_through_a_printer(engine, tmp_path: Path) -> None:
    request = {"age": 30, "sex": "F", "symptoms": FINDINGS, "vitals": {"temperature_c": 38.5}}
    letter = ReferralLetter(
        clinic="Puesto de Salud La Vereda", clinic_place="San Andrés", patient_name="Rosa Villca",
        patient_document="CC 123", patient_age=30, patient_sex="F", doctor="Dra. Ana Pérez",
        when=dt.datetime(2026, 3, 4, 9, 30), request=request, response=engine.diagnose(request),
        final_diagnosis="Neumonía (J18.9)", notes="Control en 48 h", vitals=vital_fields(engine.vocabulary),
        receiving_facility="Hospital San José", registration="RM 55-1234",
        symptom_labels={s.key: s.label for s in engine.vocabulary.symptoms})
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)  # what the print dialog hands back, here to a file
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "printed.pdf"))
    print_letter(letter, printer, "es")
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "printed.pdf").pages).split())
    for expected in ("Puesto de Salud La Vereda, San Andrés", "Hospital San José", "2026-03-04 09:30",
                     "RM 55-1234", "38.5 °C", "Firma y sello del médico", "intensidad 8/10"):
        assert expected in text.replace(" :", ":"), expected


# Point 8 -------------------------------------------------------------------------------------------------------------
def test_the_administrator_manages_accounts_and_a_new_doctor_chooses_a_passphrase(
        qtbot, vereda: VeredaApp, tmp_path: Path) -> None:
    clinic_with_two_doctors(tmp_path)
    vereda.start()
    main = log_in(qtbot, vereda, "admin", PASSPHRASE)
    assert main.action_accounts.isVisible() and main.action_accounts in main.tools_menu.actions()
    main.open_accounts()
    dialog = main.accounts_dialog
    assert isinstance(dialog, AccountsDialog)
    qtbot.waitUntil(lambda: len(dialog.rows) == 3, timeout=WAIT)

    dialog.login.setText("carla")
    dialog.display_name.setText("Dra. Carla Ruiz")
    dialog.passphrase.setText("temporal de carla 1")
    dialog.add_button.click()
    qtbot.waitUntil(lambda: len(dialog.rows) == 4, timeout=WAIT)
    carla = next(r for r in dialog.rows if r["login"] == "carla")
    assert carla["role"] == "doctor" and carla["must_change"]

    dialog.select_login("luis")
    dialog.disable_button.click()
    qtbot.waitUntil(lambda: not next(r for r in dialog.rows if r["login"] == "luis")["active"], timeout=WAIT)
    dialog.select_login("luis")
    dialog.temporary.setText("luis vuelve temporal")
    dialog.enable_button.click()
    qtbot.waitUntil(lambda: next(r for r in dialog.rows if r["login"] == "luis")["active"], timeout=WAIT)
    dialog.select_login("ana")
    dialog.temporary.setText("ana temporal nueva")
    dialog.reset_button.click()
    qtbot.waitUntil(lambda: next(r for r in dialog.rows if r["login"] == "ana")["must_change"], timeout=WAIT)
    dialog.select_login("admin")
    dialog.disable_button.click()  # refused by the store, said in words
    qtbot.waitUntil(lambda: bool(dialog.status.text()) and "#b71c1c" in dialog.status.styleSheet(), timeout=WAIT)
    dialog.close()
    lock(qtbot, vereda)

    # The new doctor logs in with the temporary passphrase and must choose her own first.
    vereda.login.login.setText("carla")
    vereda.login.passphrase.setText("temporal de carla 1")
    vereda.login.button.click()
    qtbot.waitUntil(lambda: vereda.login.new_passphrase.isVisible(), timeout=WAIT)
    assert not main.isVisible()
    vereda.login.new_passphrase.setText("la clave propia de carla")
    vereda.login.new_confirm.setText("la clave propia de carla")
    vereda.login.button.click()
    qtbot.waitUntil(lambda: main.isVisible() and vereda.store is not None, timeout=WAIT)
    assert not main.action_accounts.isVisible()  # a doctor has no accounts screen
    lock(qtbot, vereda)
    main = log_in(qtbot, vereda, "carla", "la clave propia de carla")


def test_skipping_the_doctor_page_says_nobody_can_close_consultations(qtbot, tmp_path: Path) -> None:
    translator().set_language("es")
    tasks = TaskManager()
    wizard = SetupWizard(tmp_path / "clinic", tasks)
    qtbot.addWidget(wizard)
    wizard.show()
    try:
        wizard.next()
        wizard.clinic_page.name.setText("Puesto")
        wizard.clinic_page.municipality.setText("Pueblo")
        wizard.next()
        admin = wizard.admin_page
        admin.passphrase.setText(PASSPHRASE)
        admin.confirm.setText(PASSPHRASE)
        admin.display_name.setText("TI")
        wizard.next()
        qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=WAIT)
        wizard.recovery_page.wrote_it.setChecked(True)
        wizard.next()
        assert "después" in wizard.doctor_page.explanation.text() and "Cuentas" in wizard.doctor_page.explanation.text()
        wizard.next()  # left empty
        assert wizard.currentPage() is wizard.service_page
        assert wizard.service_page.no_doctor.isVisible()
        assert "nadie podrá cerrar consultas" in wizard.service_page.no_doctor.text()
    finally:
        if wizard.store is not None:
            wizard.store.lock()
        tasks.shutdown()


# Point 9 -------------------------------------------------------------------------------------------------------------
def test_a_very_long_name_never_widens_the_window(qtbot, vereda: VeredaApp, tmp_path: Path) -> None:
    main = ana_logged_in(qtbot, vereda, tmp_path)
    main.resize(1366, 740)
    width = main.width()
    long_name = "María de los Ángeles " * 30
    patient = _register(qtbot, main, long_name.strip(), "Quispe " * 20, dt.date(1990, 1, 1))
    main.start_consultation(patient)
    QApplication.processEvents()
    assert main.width() == width <= 1366
    assert main.minimumSizeHint().width() <= 1366
    label = main.consultation.patient_label
    assert label.toolTip().startswith("María de los Ángeles") and label.toolTip().endswith("Quispe")
    assert label.text().endswith("…") and len(label.text()) < len(label.toolTip())


# Point 10 ------------------------------------------------------------------------------------------------------------
def test_torac_puts_chest_pain_first(qtbot, screen: ConsultationWidget) -> None:
    qtbot.keyClicks(screen.search, "torac")
    first = screen.symptom_filter.index(0, 0)
    assert first.data(Qt.ItemDataRole.UserRole) == "dolor_pecho", first.data()
    qtbot.keyClick(screen.search, Qt.Key.Key_Down)
    qtbot.keyClick(screen.table, "4")
    assert screen.request()["symptoms"] == {"dolor_pecho": 4}


def test_a_letter_typed_on_the_list_starts_a_new_search(qtbot, screen: ConsultationWidget) -> None:
    qtbot.keyClicks(screen.search, "fiebre")
    qtbot.keyClick(screen.search, Qt.Key.Key_Down)
    qtbot.keyClick(screen.table, "8")
    qtbot.keyClick(screen.table, "t")  # a letter on the list starts a new search in the search box...
    assert screen.search.text() == "t"
    qtbot.keyClicks(screen.search, "os")  # ...where the doctor goes on typing
    assert screen.search.text() == "tos"
    assert screen.symptom_filter.rowCount() > 0
    assert screen.symptom_filter.index(0, 0).data(Qt.ItemDataRole.UserRole) == "tos"


# Point 11 ------------------------------------------------------------------------------------------------------------
def test_rare_disease_names_are_marked_as_english_on_the_spanish_screen(screen: ConsultationWidget, engine) -> None:
    request = {"age": 30, "sex": "F", "symptoms": FINDINGS}
    response = {**engine.diagnose(request), "rare_disease_alert": False,  # Orphanet's names are English
                "rare_diseases": [{"orpha_code": "ORPHA:558", "name": "Marfan syndrome", "score": 0.4,
                                   "matched_terms": []}]}
    screen._show(request, response)
    index = screen.final_diagnosis.findData("ORPHA:558")
    assert screen.final_diagnosis.itemText(index) == "Marfan syndrome [nombre en inglés] (ORPHA:558)"
    translator().set_language("en")
    try:
        assert screen.final_diagnosis.itemText(screen.final_diagnosis.findData("ORPHA:558")) \
            == "Marfan syndrome (ORPHA:558)"
    finally:
        translator().set_language("es")


def test_about_box_shows_text_not_a_dictionary(engine) -> None:
    text = about_html(engine.bundle, "es")
    assert "{'" not in text and "':" not in text
    if isinstance(engine.bundle.manifest.get("rare", {}).get("attribution"), dict):
        assert "Human Phenotype Ontology" in text and "Orphanet" in text


def test_document_types_follow_the_age(qtbot) -> None:
    translator().set_language("es")
    dialog = PatientDialog(None)
    qtbot.addWidget(dialog)

    def offered() -> list[str]:
        return [dialog.document_type.itemData(i) for i in range(dialog.document_type.count())]

    today = dt.date.today()
    dialog.birth.setDate(today.replace(year=today.year - 11))
    assert "CC" not in offered() and "TI" in offered() and "RC" not in offered()
    dialog.birth.setDate(today - dt.timedelta(days=5))
    assert "RC" in offered() and "TI" not in offered() and "CC" not in offered()
    dialog.birth.setDate(dt.date(1980, 1, 1))
    assert "CC" in offered() and "TI" not in offered()
    assert "PA" in offered() and "CE" in offered()


def test_a_wrong_passphrase_is_one_warning_line_not_an_error(qtbot, vereda: VeredaApp, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    clinic_with_two_doctors(tmp_path)
    vereda.start()
    caplog.set_level(logging.INFO)
    vereda.login.login.setText("ana")
    vereda.login.passphrase.setText("esta no es la clave")
    vereda.login.button.click()
    qtbot.waitUntil(lambda: vereda.login.button.isEnabled() and vereda.login.status.text() != "", timeout=WAIT)
    qtbot.waitUntil(lambda: any("refused" in r.getMessage() for r in caplog.records), timeout=WAIT)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].exc_info is None and refused[0].levelno == logging.WARNING
