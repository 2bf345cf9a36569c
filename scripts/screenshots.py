"""Take the PNG screenshots of the doctor's guides (docs/screenshots/), in Spanish, at 1366x768.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--out docs/screenshots] [--lang es]
    xvfb-run -s "-screen 0 1366x768x24" env QT_QPA_PLATFORM=xcb python scripts/screenshots.py --screen-dir /tmp/s

Builds a throwaway clinic in a temporary folder with the real store and engine, walks the main screens and grabs
each window. Nothing here is mocked: what the picture shows is what the app shows. The consultation pictures cover
the triage levels of contract v2: a pregnant woman in EMERGENCIA, an older man PRIORITARIO by NEWS2, a woman NO
URGENTE, and a child's examination signs. Each consultation is checked to fit the laptop screen (the window did not
grow past 1366x740 and the Diagnose button is inside it); on a real display (Xvfb) `--screen-dir` also keeps what
the screen itself shows. It also takes the answer marked out of date with a refused number, the referral
letter's dialog and its page (through pdftoppm from poppler-utils), the administrator's accounts screen, and
"Si puede, mida / pregunte:" (issue 19): a cough without SpO2 proposing it first, then SpO2 86 % making it EMERGENCIA.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.core.age import age_in_years  # noqa: E402
from app.core.engine import DiagnosisEngine  # noqa: E402
from app.preferences import Preferences  # noqa: E402
from app.store.config_vars import AUTO_LOCK, AUTO_LOCK_LIMIT, LANGUAGE, MODE  # noqa: E402
from app.store.keys import KdfParams  # noqa: E402
from app.store.store import ClinicStore  # noqa: E402
from app.ui.dialogs import AboutDialog, SettingsDialog  # noqa: E402
from app.ui.i18n import translator  # noqa: E402
from app.ui.qt import QApplication, QGuiApplication, QWidget  # noqa: E402

SIZE = (1366, 740)  # a 1366x768 screen less the task bar
PASSPHRASE = "la doctora de la vereda"


def settle(app: QApplication, tasks, rounds: int = 50) -> None:
    """Let queued results reach the GUI (store and engine run on worker threads)."""
    import time

    for _ in range(rounds):
        app.processEvents()
        if tasks.in_flight == 0:
            break
        time.sleep(0.05)
    app.processEvents()


def grab(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def fits_the_screen(main: QWidget) -> None:
    """Stop with a message if the consultation no longer fits an old 1366x768 laptop."""
    button = main.consultation.diagnose_button  # type: ignore[attr-defined]
    corner = button.mapTo(main, button.rect().bottomRight())
    if main.width() > SIZE[0] or main.height() > SIZE[1] or not main.rect().contains(corner):
        raise SystemExit(f"the consultation does not fit {SIZE}: window {main.width()}x{main.height()}, "
                         f"Diagnose button corner at {corner.x()},{corner.y()}")


def consult(app: QApplication, main, patient: dict, request: dict, path: Path, screen_dir: Path | None,
            tab: int | None = None) -> dict:
    """Open the patient's consultation, enter `request` as the doctor would leave it, diagnose and grab."""
    main.start_consultation(patient)
    main.consultation.load_request({**request, "age": age_in_years(patient["birth_date"])})
    main.consultation.only_entered.setChecked(True)  # the list shows what was entered, as a doctor checks it
    if tab is not None:
        main.consultation.findings_tabs.setCurrentIndex(tab)
    main.consultation.diagnose()
    for _ in range(100):
        settle(app, main.tasks)
        if main.consultation.result.response is not None:
            break
    settle(app, main.tasks)
    fits_the_screen(main)
    grab(main, path)
    if screen_dir is not None:
        QGuiApplication.primaryScreen().grabWindow(0).save(str(screen_dir / path.name))
    response = main.consultation.result.response
    assert response is not None, path
    print(f"  triage {response.get('triage', {}).get('level')}, scores {response.get('scores')}")
    return response


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--lang", default="es", choices=("es", "en"))
    parser.add_argument("--screen-dir", type=Path, default=None,
                        help="also save the whole screen as the display shows it (for checks under Xvfb)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.screen_dir is not None:
        args.screen_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    translator().set_language(args.lang)
    engine = DiagnosisEngine.load()
    cheap = KdfParams(n=2**14, r=8, p=1)  # screenshots, not security: a fast key derivation

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VEREDA_CONFIG_DIR"] = str(Path(tmp) / "config")
        data_dir = Path(tmp) / "clinic"
        from app.ui.app import VeredaApp
        from app.ui.setup_wizard import SetupWizard

        # 1. First-run wizard: the recovery key page.
        vereda = VeredaApp(data_dir, engine, Preferences(language=args.lang))
        wizard = SetupWizard(Path(tmp) / "wizard-clinic", vereda.tasks)
        wizard.resize(640, 480)
        wizard.show()
        wizard.next()
        wizard.clinic_page.name.setText("Puesto de salud La Esperanza")
        wizard.clinic_page.municipality.setText("San Vicente del Caguán")
        grab(wizard, args.out / "01-primer-uso-puesto.png")
        wizard.next()
        wizard.admin_page.login.setText("admin")
        wizard.admin_page.display_name.setText("Administración")
        wizard.admin_page.passphrase.setText("cuatro palabras largas aquí")
        wizard.admin_page.confirm.setText("cuatro palabras largas aquí")
        wizard.next()
        for _ in range(200):
            settle(app, vereda.tasks)
            if wizard.currentPage() is wizard.recovery_page:
                break
        grab(wizard, args.out / "02-primer-uso-clave-recuperacion.png")
        wizard.hide()

        # A demo clinic with a doctor and a few patients for the other screens.
        store, _ = ClinicStore.create(data_dir, clinic_name="Puesto de salud La Esperanza",
                                      municipality="San Vicente del Caguán", admin_login="admin",
                                      admin_name="Administración", admin_passphrase=PASSPHRASE, kdf=cheap)
        store.users.add("ana", "Dra. Ana Pérez", "doctor", PASSPHRASE, must_change_passphrase=False, kdf=cheap)
        store.users.add("jorge", "Jorge Cuéllar", "nurse", PASSPHRASE, kdf=cheap)
        store.lock()
        store = ClinicStore.unlock(data_dir, "ana", PASSPHRASE)
        import datetime as dt

        today = dt.date.today()
        for given, family, doc_type, doc, born, sex, village in (
            ("María José", "Gómez Ríos", "CC", "1023456789", dt.date(1985, 3, 2), "F", "La Esperanza"),
            ("Mario", "Gómez Castaño", "CC", "79555123", dt.date(1958, 7, 19), "M", "El Recreo"),
            ("Marisol", "Gómez", "TI", "1110222333", dt.date(2015, 11, 5), "F", "Alto Bonito"),
            ("Lucía", "Mamani Quispe", "CC", "1098765432", dt.date(1997, 4, 9), "F", "La Esperanza"),
            # A child holds the civil registry (RC), an 11-year-old the identity card (TI): what the form offers.
            ("Mateo", "Ríos Cárdenas", "RC", "1234567", today - dt.timedelta(days=2 * 365 + 90), "M", "El Recreo"),
        ):
            store.patients.add(given_names=given, family_names=family, document_type=doc_type, document_number=doc,
                               birth_date=born, sex=sex, village=village)
        store.lock()

        # 2. Login.
        vereda.login.login.setText("ana")
        vereda.login.resize(*SIZE)
        vereda.login.show()
        settle(app, vereda.tasks)
        grab(vereda.login, args.out / "03-ingreso.png")
        vereda.login.passphrase.setText(PASSPHRASE)
        vereda.login.submit()
        for _ in range(200):
            settle(app, vereda.tasks)
            if vereda.main.isVisible():
                break
        main = vereda.main
        main.resize(*SIZE)

        # 3. Patients.
        main.patients.search.setText("gom")
        main.search("gom")
        settle(app, vereda.tasks)
        settle(app, vereda.tasks)
        grab(main, args.out / "04-pacientes.png")

        # 4. Consultations. Each patient is found as the doctor would, by family name.
        from app.ui.consultation import TAB_SIGNS

        patients: dict[str, dict] = {}
        for family in ("Gómez Ríos", "Mamani Quispe", "Gómez Castaño", "Ríos Cárdenas"):
            main.patients.search.setText(family)
            main.search(family)
            settle(app, vereda.tasks)
            settle(app, vereda.tasks)
            current = main.patients.current()
            assert current is not None and current["family_names"] == family, family
            patients[family] = current

        # The origin document's case 4 with a few vitals.
        consult(app, main, patients["Gómez Ríos"], {
            "sex": "F", "duration_days": 0.5, "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8},
            "vitals": {"heart_rate": 118, "spo2": 93, "systolic_bp": 100, "diastolic_bp": 65}},
            args.out / "05-consulta-resultado.png", args.screen_dir)
        # Contract v2: the triage level first, in colour and words, with its reasons and scores.
        consult(app, main, patients["Mamani Quispe"], {
            "sex": "F", "duration_days": 1, "consciousness": "A", "pregnancy": {"status": "pregnant", "weeks": 34},
            "symptoms": {"dolor_cabeza": 8, "cambios_vision": 5, "nausea": 3},
            "vitals": {"heart_rate": 96, "respiratory_rate": 18, "systolic_bp": 168, "diastolic_bp": 112,
                       "weight_kg": 72.5}}, args.out / "08-consulta-embarazo-emergencia.png", args.screen_dir)
        consult(app, main, patients["Gómez Castaño"], {
            "sex": "M", "duration_days": 3, "consciousness": "A",
            "symptoms": {"fiebre": 6, "tos": 7, "expectoracion": 5, "fatiga": 4},
            "vitals": {"temperature_c": 38.4, "heart_rate": 98, "respiratory_rate": 22, "spo2": 95,
                       "systolic_bp": 125, "diastolic_bp": 80, "weight_kg": 68, "height_cm": 165}},
            args.out / "09-consulta-prioritario-news2.png", args.screen_dir)
        consult(app, main, patients["Gómez Ríos"], {
            "sex": "F", "duration_days": 2, "consciousness": "A", "pregnancy": {"status": "not_pregnant"},
            "symptoms": {"disuria": 6, "frecuencia_urinaria": 5, "dolor_abdominal": 3},
            "vitals": {"temperature_c": 37.2, "heart_rate": 80, "respiratory_rate": 16, "spo2": 98,
                       "systolic_bp": 118, "diastolic_bp": 76}},
            args.out / "10-consulta-no-urgente.png", args.screen_dir)
        consult(app, main, patients["Ríos Cárdenas"], {
            "sex": "M", "duration_days": 2, "symptoms": {"fiebre": 7, "tos": 5, "diarrea": 4},
            "signs": ["unable_to_drink_or_breastfeed", "sunken_eyes"],
            "vitals": {"temperature_c": 38.9, "heart_rate": 150, "respiratory_rate": 44, "weight_kg": 11.2,
                       "muac_mm": 128, "capillary_refill_s": 2}},
            args.out / "11-consulta-nino-signos.png", args.screen_dir, tab=TAB_SIGNS)

        # The child's visit: a finding added after diagnosing marks the answer out of date; a temperature typed
        # "385" is refused beside its field, never cut to 38.
        consultation = main.consultation
        consultation.symptom_model.set_intensities({"fiebre": 7, "tos": 5, "diarrea": 4, "dolor_abdominal": 4})
        consultation.vitals["temperature_c"].setText("385")
        consultation.vitals["temperature_c"].show_error()
        settle(app, vereda.tasks)
        grab(main, args.out / "12-consulta-desactualizada.png")

        # The referral letter: a new diagnosis, the visit closed, the letter's dialog and its page.
        consultation.vitals["temperature_c"].setText("38,5")
        consultation.diagnose()
        for _ in range(100):
            settle(app, main.tasks)
            if not consultation.answer_is_stale():
                break
        consultation.final_diagnosis.setCurrentIndex(max(0, consultation.final_diagnosis.findData("E86")))
        consultation.notes.setPlainText("No tolera la vía oral; sales de rehidratación rechazadas. Remito para "
                                        "hidratación intravenosa.")
        consultation.close_button.click()
        for _ in range(100):
            settle(app, main.tasks)
            if main.encounter_closed:
                break
        from app.ui.referral_dialog import ReferralDialog

        dialog = ReferralDialog(main, ["ESE Hospital María Inmaculada, Florencia",
                                       "Hospital San Rafael, San Vicente del Caguán"], "RM 18-4455")
        dialog.show()
        settle(app, vereda.tasks)
        grab(dialog, args.out / "13-remision-dialogo.png")
        dialog.hide()
        pdf = Path(tmp) / "remision.pdf"
        written: list[Path] = []
        main.export_referral(pdf, written.append, facility=dialog.facility_name(),
                             registration=dialog.registration_number())
        for _ in range(100):
            settle(app, main.tasks)
            if written:
                break
        import shutil
        import subprocess

        if shutil.which("pdftoppm"):
            stem = args.out / "14-carta-remision"
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(stem)], check=True)
            print(f"wrote {stem}.png")
        else:
            print("pdftoppm (poppler-utils) not installed: no picture of the letter")

        # "Si puede, mida / pregunte:" (issue 19): a cough with fever and fast breathing, only SpO2 not measured. The
        # list under the answer proposes SpO2 first; the doctor picks it (Alt+1), types 86: the answer is EMERGENCIA.
        cough = {"sex": "M", "duration_days": 3, "symptoms": {"tos": 7, "fiebre": 8, "dificultad_respirar": 6},
                 "vitals": {"temperature_c": 38.9, "heart_rate": 100, "respiratory_rate": 24, "systolic_bp": 120,
                            "diastolic_bp": 80, "glucose_mg_dl": 100, "capillary_refill_s": 1.5}}
        answer = consult(app, main, patients["Gómez Castaño"], cough, args.out / "16-consulta-si-puede-medir.png",
                         args.screen_dir)
        print(f"  next findings {[item['finding'] for item in answer.get('next_findings', [])]}")
        consultation = main.consultation
        consultation.result.next_findings.choose(0)
        consultation.vitals["spo2"].setText("86")
        consultation.diagnose()
        for _ in range(100):
            settle(app, main.tasks)
            if not consultation.answer_is_stale():
                break
        settle(app, main.tasks)
        grab(main, args.out / "17-consulta-si-puede-emergencia.png")
        if args.screen_dir is not None:
            screen = QGuiApplication.primaryScreen().grabWindow(0)
            screen.save(str(args.screen_dir / "17-consulta-si-puede-emergencia.png"))
        answer = consultation.result.response or {}
        print(f"  triage {answer.get('triage', {}).get('level')}, next findings "
              f"{[item['finding'] for item in answer.get('next_findings', [])]}")

        # 5. Settings and About.
        # As the doctor sees it: her own language and auto-lock, the clinic's settings read-only.
        settings = SettingsDialog(main, {AUTO_LOCK_LIMIT: 10, AUTO_LOCK: 10, MODE: "offline"},
                                  {LANGUAGE: True, AUTO_LOCK: True}, data_dir)
        settings.show()
        grab(settings, args.out / "06-preferencias.png")
        settings.hide()
        about = AboutDialog(main, engine.bundle)
        about.show()
        grab(about, args.out / "07-acerca-de.png")
        about.hide()

        # 6. The administrator's accounts screen.
        vereda.lock()
        for _ in range(100):
            settle(app, vereda.tasks)
            if vereda.store is None:
                break
        vereda.login.login.setText("admin")
        vereda.login.passphrase.setText(PASSPHRASE)
        vereda.login.submit()
        for _ in range(200):
            settle(app, vereda.tasks)
            if vereda.store is not None and main.isVisible():
                break
        main.open_accounts()
        for _ in range(50):
            settle(app, vereda.tasks)
            if main.accounts_dialog is not None and main.accounts_dialog.rows:
                break
        accounts = main.accounts_dialog
        assert accounts is not None
        accounts.select_login("ana")
        settle(app, vereda.tasks)
        grab(accounts, args.out / "15-cuentas.png")
        accounts.hide()
        vereda.quit()
        settle(app, vereda.tasks)
        vereda.tasks.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
