"""Identity documents of the clinic's country (issue 13, point 11): the patient form offers the documents of the
country set at setup, for the patient's age; a Peruvian clinic registers a patient by DNI and finds her by it.
Offscreen Qt, the real wizard, the real encrypted store, the real main window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.store.config_vars import COUNTRIES, COUNTRY
from app.store.models import DOCUMENT_TYPES
from app.ui.app import VeredaApp
from app.ui.dialogs import SettingsDialog
from app.ui.document_types import BY_COUNTRY, document_types
from app.ui.i18n import LANGUAGES, load_catalog, translator
from app.ui.patients import PatientDialog
from app.ui.qt import QApplication, QDialogButtonBox, QTimer, QWizard

PASSPHRASE = "cuatro palabras muy largas"
DOCTOR_PASSPHRASE = "la doctora de la vereda"
WAIT = 30_000


def years_ago(years: int, days: int = 0) -> dt.date:
    today = dt.date.today()
    return today.replace(year=today.year - years) - dt.timedelta(days=days) if (today.month, today.day) != (2, 29) \
        else dt.date(today.year - years, 2, 28) - dt.timedelta(days=days)


def offered(dialog: PatientDialog) -> list[str]:
    return [dialog.document_type.itemData(i) for i in range(dialog.document_type.count())]


def test_every_country_the_clinic_can_choose_has_its_documents_and_names():
    assert set(BY_COUNTRY) == set(COUNTRIES)
    catalogs = [load_catalog(lang) for lang in LANGUAGES]
    for country, types in BY_COUNTRY.items():
        assert {t.code for t in types} <= set(DOCUMENT_TYPES), country  # the store takes every code offered
        for t in types:
            assert all(t.label_key() in c for c in catalogs), (country, t.code)


@pytest.mark.parametrize(("country", "birth", "present", "absent"), [
    ("CO", years_ago(11), {"TI", "MS"}, {"CC", "RC", "AS", "DNI"}),  # an 11-year-old cannot be given a CC
    ("CO", years_ago(18), {"CC", "AS"}, {"TI", "MS"}),  # 18 today: the citizenship card
    ("CO", years_ago(6, 360), {"RC"}, {"TI", "CC"}),  # a day short of 7: still the civil registry
    ("PE", years_ago(0, 5), {"DNI", "PN", "MS", "CE", "CPP"}, {"CC", "TI", "RC", "AS", "CI"}),  # a newborn
    ("PE", years_ago(11), {"DNI", "PN"}, {"CC", "TI"}),
    ("PE", years_ago(40), {"DNI", "CE", "CPP", "PA", "AS"}, {"PN", "MS", "CC", "TI"}),
    ("EC", years_ago(11), {"CI", "PN"}, {"CC", "TI", "DNI"}),
    ("BO", years_ago(30), {"CI", "CE"}, {"PN", "CC", "DNI"}),
    ("VE", years_ago(30), {"CI", "CE", "DE"}, {"CC", "DNI", "CPP"}),
])
def test_the_form_offers_the_documents_of_the_country_and_age(qtbot, country, birth, present, absent):
    translator().set_language("es")
    dialog = PatientDialog(None, country=country)
    qtbot.addWidget(dialog)
    dialog.birth.setDate(birth)
    codes = offered(dialog)
    assert present <= set(codes), codes
    assert not absent & set(codes), codes


def test_the_names_are_the_countrys_own(qtbot):
    translator().set_language("es")
    peru, bolivia = PatientDialog(None, country="PE"), PatientDialog(None, country="BO")
    for dialog in (peru, bolivia):
        qtbot.addWidget(dialog)
    label = {d: {d.document_type.itemData(i): d.document_type.itemText(i) for i in range(d.document_type.count())}
             for d in (peru, bolivia)}
    assert label[peru]["CE"] == "Carné de extranjería"
    assert label[peru]["DNI"].startswith("DNI")
    assert label[bolivia]["CE"] == "Cédula de identidad de extranjero"
    assert label[bolivia]["CI"] == "Cédula de identidad"


def test_an_unknown_birth_date_offers_every_document_and_a_stored_one_stays(qtbot):
    dialog = PatientDialog(None, country="PE")
    qtbot.addWidget(dialog)
    assert offered(dialog) == document_types(None, "PE")
    # A Colombian record opened in a Peruvian clinic keeps its type: never changed behind the clerk's back.
    old = {"given_names": "Ana", "family_names": "Ríos", "document_type": "CC", "document_number": "52111222",
           "birth_date": years_ago(40), "sex": "F", "village": "", "phone": "", "notes": ""}
    edit = PatientDialog(None, old, country="PE")
    qtbot.addWidget(edit)
    assert edit.values()["document_type"] == "CC"


def test_a_peruvian_clinic_registers_a_dni_patient_and_finds_her(qtbot, vereda: VeredaApp):
    vereda.start()
    wizard = vereda.wizard
    assert wizard is not None
    wizard.next()
    wizard.clinic_page.name.setText("Puesto de salud Caballococha")
    wizard.clinic_page.municipality.setText("Ramón Castilla")
    wizard.clinic_page.country.setCurrentIndex(wizard.clinic_page.country.findData("PE"))
    assert wizard.clinic_page.country.currentText() == "Perú"
    wizard.next()
    admin = wizard.admin_page
    admin.login.setText("admin")
    admin.display_name.setText("Administración")
    admin.passphrase.setText(PASSPHRASE)
    admin.confirm.setText(PASSPHRASE)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=WAIT)
    wizard.recovery_page.wrote_it.setChecked(True)
    wizard.next()
    doctor = wizard.doctor_page
    doctor.login.setText("rosa")
    doctor.display_name.setText("Dra. Rosa Huamán")
    doctor.passphrase.setText(DOCTOR_PASSPHRASE)
    doctor.confirm.setText(DOCTOR_PASSPHRASE)
    wizard.next()
    with qtbot.waitSignal(wizard.finished_setup, timeout=WAIT):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(vereda.login.isVisible, timeout=WAIT)
    vereda.login.passphrase.setText(DOCTOR_PASSPHRASE)
    vereda.login.button.click()
    qtbot.waitUntil(vereda.main.isVisible, timeout=WAIT)
    main = vereda.main
    qtbot.waitUntil(lambda: main.clinic_country == "PE", timeout=WAIT)

    seen: dict[str, list[str]] = {}

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, PatientDialog)
        dialog.given.setText("Yupanqui")
        dialog.family.setText("Quispe Mamani")
        dialog.birth.setDate(years_ago(11))
        seen["codes"] = offered(dialog)
        dialog.document_type.setCurrentIndex(dialog.document_type.findData("DNI"))
        dialog.document.setText("78912345")
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save).click()

    QTimer.singleShot(200, fill)
    main.new_patient()
    qtbot.waitUntil(lambda: main.patients.model.rowCount() == 1, timeout=WAIT)
    assert "DNI" in seen["codes"] and "CC" not in seen["codes"] and "TI" not in seen["codes"]
    assert main.patients.current()["document_type"] == "DNI"

    main.patients.show_results([])
    main.patients.search.setText("DNI 78912345")  # as read off the card
    qtbot.waitUntil(lambda: main.patients.model.rowCount() == 1, timeout=WAIT)
    found = main.patients.current()
    assert (found["family_names"], found["document_type"], found["document_number"]) == \
        ("Quispe Mamani", "DNI", "78912345")
    index = main.patients.proxy.index(0, 1)
    assert main.patients.proxy.data(index) == "DNI 78912345"


def test_preferences_show_the_clinics_country_and_only_the_administrator_changes_it(qtbot, tmp_path: Path):
    values = {COUNTRY: "EC"}
    admin = SettingsDialog(None, values, {COUNTRY: True}, tmp_path)
    doctor = SettingsDialog(None, values, {COUNTRY: False}, tmp_path)
    for dialog in (admin, doctor):
        qtbot.addWidget(dialog)
        assert dialog.country.currentData() == "EC"
    assert not doctor.country.isEnabled()
    admin.country.setCurrentIndex(admin.country.findData("BO"))
    assert admin.values()[COUNTRY] == "BO"
    assert COUNTRY not in doctor.values()
