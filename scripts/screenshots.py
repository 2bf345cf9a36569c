"""Take the PNG screenshots of the doctor's guides (docs/screenshots/), in Spanish, at 1366x768.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--out docs/screenshots] [--lang es]

Builds a throwaway clinic in a temporary folder with the real store and engine, walks the main screens and grabs
each window. Nothing here is mocked: what the picture shows is what the app shows.
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

from app.core.engine import DiagnosisEngine  # noqa: E402
from app.preferences import Preferences  # noqa: E402
from app.store.config_vars import AUTO_LOCK, AUTO_LOCK_LIMIT, LANGUAGE, MODE  # noqa: E402
from app.store.keys import KdfParams  # noqa: E402
from app.store.store import ClinicStore  # noqa: E402
from app.ui.dialogs import AboutDialog, SettingsDialog  # noqa: E402
from app.ui.i18n import translator  # noqa: E402
from app.ui.qt import QApplication, QWidget  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--lang", default="es", choices=("es", "en"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
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
        store.lock()
        store = ClinicStore.unlock(data_dir, "ana", PASSPHRASE)
        import datetime as dt

        for given, family, doc, born, sex, village in (
            ("María José", "Gómez Ríos", "1023456789", dt.date(1985, 3, 2), "F", "La Esperanza"),
            ("Mario", "Gómez Castaño", "79555123", dt.date(1958, 7, 19), "M", "El Recreo"),
            ("Marisol", "Gómez", "1110222333", dt.date(2015, 11, 5), "F", "Alto Bonito"),
        ):
            store.patients.add(given_names=given, family_names=family, document_number=doc, birth_date=born,
                               sex=sex, village=village)
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

        # 4. Consultation with the origin document's case 4 and a few vitals.
        patient = main.patients.current()
        assert patient is not None
        main.start_consultation(patient)
        main.consultation.load_request({"age": 40, "sex": "F", "duration_days": 0.5,
                                        "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8},
                                        "vitals": {"heart_rate": 118, "spo2": 93, "systolic_bp": 100,
                                                   "diastolic_bp": 65}})
        main.consultation.diagnose()
        for _ in range(100):
            settle(app, vereda.tasks)
            if main.consultation.result.response is not None:
                break
        settle(app, vereda.tasks)
        grab(main, args.out / "05-consulta-resultado.png")

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
        vereda.quit()
        settle(app, vereda.tasks)
        vereda.tasks.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
