"""Build the frozen database fixture of the current schema: `python -m tests.store.make_fixture REVISION`.

Run it once per released schema revision, when that revision ships, and commit the folder it writes under
`tests/fixtures/store-REVISION/`; never regenerate an existing one (its point is to be a file the old code made).
tests/store/test_migrations.py opens every such folder with the current code and upgrades it. The passphrases are
fixed and written down in tests/fixtures/README.md; the data is synthetic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

from app.core.engine import DiagnosisEngine
from app.store import ClinicStore, KdfParams
from app.store.config_vars import AUTO_LOCK_LIMIT
from app.store.database import SCHEMA_HEAD

ADMIN_PASS = "fixture-admin-passphrase"
DOCTOR_PASS = "fixture-doctora-passphrase"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Cheaper than production so the upgrade test stays fast; stored in the wraps like any parameters.
KDF = KdfParams(n=2**14, r=8, p=1)


def build(target: Path) -> str:
    engine = DiagnosisEngine.load()
    work = Path(tempfile.mkdtemp()) / "clinic"
    store, recovery_key = ClinicStore.create(
        work, clinic_name="Puesto de salud Fixture", municipality="Prueba", admin_login="admin",
        admin_name="Admin Fixture", admin_passphrase=ADMIN_PASS, kdf=KDF)
    store.users.add("doctora", "Dra. Fixture", "doctor", DOCTOR_PASS, must_change_passphrase=False)
    store.users.add("enfermero", "Enf. Fixture", "nurse", "fixture-enfermero-passphrase")
    store.bundles.record_installed(version=engine.bundle.version, sha256=engine.bundle.manifest_sha256,
                                   source="shipped", manifest={"version": engine.bundle.version})
    store.settings.set(AUTO_LOCK_LIMIT, 15)
    store.lock()
    with ClinicStore.unlock(work, "doctora", DOCTOR_PASS) as doctor:
        cases = [
            ("María José", "Peña Gómez", "F", "1023456789", dt.date(1990, 5, 1),
             {"age": 35, "sex": "F", "symptoms": {"fiebre": 8, "dolor_retroocular": 7, "dolor_muscular": 6}}),
            ("José", "Pérez Ruiz", "M", "52111222", dt.date(1958, 1, 20),
             {"age": 67, "sex": "M", "symptoms": {"dolor_pecho": 9, "dificultad_respirar": 8, "sudoracion": 6},
              "vitals": {"heart_rate": 118, "spo2": 91}}),
            ("Lucía", "Ñañez Cárdenas", "F", "1122334455", dt.date(2012, 9, 3),
             {"age": 13, "sex": "F", "symptoms": {"diarrea": 7, "vomito": 6, "dolor_abdominal": 5}}),
        ]
        for given, family, sex, document, birth, request in cases:
            patient = doctor.patients.add(given_names=given, family_names=family, sex=sex, document_number=document,
                                          birth_date=birth, village="Vereda El Carmen", phone="3100000000")
            response = engine.diagnose(request)
            doctor.encounters.record(patient.id, request=request, response=response,
                                     final_code=response["top_conditions"][0]["code"], notes="Fixture")
        # From revision 0002 on: a Peruvian patient registered with her DNI (a code revision 0001 refused).
        doctor.patients.add(given_names="Rosa", family_names="Quispe Mamani", sex="F", document_type="DNI",
                            document_number="45678912", birth_date=dt.date(1985, 3, 14), village="Caballococha")
        draft = doctor.encounters.start(patient.id, request=cases[0][5])
        doctor.encounters.update(draft.id, notes="Borrador sin cerrar")
        sent = doctor.outbox.pending(limit=1)
        doctor.outbox.mark_sent([sent[0].id])
    if target.exists():
        raise SystemExit(f"{target} exists: fixtures are frozen, never regenerated")
    target.mkdir(parents=True)
    for name in ("vereda.db", "keys.json", "audit-anchor.json"):
        shutil.copy2(work / name, target / name)
    return recovery_key


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revision", nargs="?", default=SCHEMA_HEAD)
    args = parser.parse_args(argv)
    if args.revision != SCHEMA_HEAD:
        raise SystemExit(f"this code builds schema {SCHEMA_HEAD}, not {args.revision}")
    recovery_key = build(FIXTURES / f"store-{SCHEMA_HEAD}")
    print(f"wrote {FIXTURES / f'store-{SCHEMA_HEAD}'}; recovery key (record it in the README): {recovery_key}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
