"""Benchmark: exporting 10,000 closed encounters (FHIR R4 Bundle, xlsx, CSV) and the size of the files.

    python bench/export.py [--encounters 10000] [--runs 3] [--rebuild]

Builds (once, kept in bench/results/export-<N>/) a clinic whose encounters are written through the store API
(`store.encounters.record`, one transaction each, as a doctor closing them would) with real engine answers, then
times, per run: reading the records out of the encrypted store (`encounters.closed` + `patients.register`), building
and validating the FHIR Bundle with fhirclient and writing its JSON, writing the xlsx (both sheets) and the
encounters CSV. Prints the median of the runs and the file sizes (also gzip-compressed for the FHIR JSON, as it
would travel). Synthetic patients only (app/store/demo.py's generators).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.engine import DiagnosisEngine  # noqa: E402
from app.interop import notifiable, spreadsheets  # noqa: E402
from app.interop.fhir import FhirExport, paused_gc  # noqa: E402
from app.store import ClinicStore, KdfParams  # noqa: E402
from app.store.demo import synthetic_patients, synthetic_request  # noqa: E402

PASSPHRASE = "bench-passphrase-vereda"
RESULTS = ROOT / "bench" / "results"
KDF = KdfParams(n=2**10, r=8, p=1)  # unlocking is not what is measured here (bench/store.py measures it)


def build(folder: Path, encounters: int, engine: DiagnosisEngine) -> None:
    store, _ = ClinicStore.create(folder, clinic_name="Puesto de salud (bench)", municipality="Bench",
                                  admin_login="admin", admin_name="Admin", admin_passphrase=PASSPHRASE, kdf=KDF)
    store.users.add("doctora", "Dra. Bench", "doctor", PASSPHRASE, must_change_passphrase=False)
    store.lock()
    rng = random.Random(20261130)
    people = list(synthetic_patients(rng, encounters // 3 + 1))
    requests = [synthetic_request(rng, people[i // 3]) for i in range(encounters)]
    answers = engine.diagnose_many([engine.validate(r) for r in requests])
    started = time.perf_counter()
    with ClinicStore.unlock(folder, "doctora", PASSPHRASE) as doctor:
        ids = []
        for p in people:
            ids.append(doctor.patients.add(given_names=p.given_names, family_names=p.family_names, sex=p.sex,
                                           birth_date=p.birth_date, document_type=p.document_type,
                                           document_number=p.document_number, village=p.village, phone=p.phone).id)
        for i, (request, answer) in enumerate(zip(requests, answers, strict=True)):
            doctor.encounters.record(ids[i // 3], request=request, response=dict(answer),
                                     final_code=answer["top_conditions"][0]["code"])
    print(f"built {encounters} encounters through the store API in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encounters", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    engine = DiagnosisEngine.load()
    folder = RESULTS / f"export-{args.encounters}"
    if args.rebuild and folder.exists():
        shutil.rmtree(folder)
    if not (folder / "built").exists():  # absent after an interrupted build: start again
        shutil.rmtree(folder, ignore_errors=True)
        build(folder, args.encounters, engine)
        (folder / "built").write_text(str(args.encounters))
    out = folder / "out"
    out.mkdir(exist_ok=True)
    diseases = notifiable.load()
    times: dict[str, list[float]] = {"read": [], "fhir": [], "xlsx": [], "csv": []}
    for _ in range(args.runs):
        with ClinicStore.unlock(folder, "doctora", PASSPHRASE) as store:
            unlocked = time.perf_counter()
            encounters = store.encounters.closed()
            patients = {p.id: p for p in store.patients.register()}
            clinic = store.clinic
        times["read"].append(time.perf_counter() - unlocked)
        t = time.perf_counter()
        with paused_gc():  # as `vereda export fhir` does
            export = FhirExport(engine.vocabulary, clinic)
            for e in encounters:
                export.add(patients[e.patient_id], e)
            data = export.to_json()
        (out / "clinic.fhir.json").write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                                              encoding="utf-8")
        times["fhir"].append(time.perf_counter() - t)
        t = time.perf_counter()
        rows = spreadsheets.encounter_rows(encounters, patients, engine.vocabulary, "es", diseases.__contains__)
        tables = [spreadsheets.patient_table(patients.values()), spreadsheets.encounter_table(rows)]
        spreadsheets.write_xlsx(tables, out / "clinic.xlsx")
        times["xlsx"].append(time.perf_counter() - t)
        t = time.perf_counter()
        spreadsheets.write_csv(spreadsheets.encounter_table(
            spreadsheets.encounter_rows(encounters, patients, engine.vocabulary, "es", diseases.__contains__)),
            out / "encounters.csv")
        times["csv"].append(time.perf_counter() - t)
    fhir_bytes = (out / "clinic.fhir.json").read_bytes()
    print(f"{len(encounters)} closed encounters, {len(patients)} patients, {len(data['entry'])} FHIR resources; "
          f"median of {args.runs} runs (one process, this machine)")
    print(f"  read from the encrypted store: {statistics.median(times['read']):.2f} s")
    print(f"  FHIR R4 Bundle (build + fhirclient validation + JSON): {statistics.median(times['fhir']):.2f} s, "
          f"{len(fhir_bytes) / 1e6:.1f} MB ({len(gzip.compress(fhir_bytes)) / 1e6:.1f} MB gzip)")
    print(f"  xlsx (register + encounters sheets): {statistics.median(times['xlsx']):.2f} s, "
          f"{(out / 'clinic.xlsx').stat().st_size / 1e6:.1f} MB")
    print(f"  CSV (encounters): {statistics.median(times['csv']):.2f} s, "
          f"{(out / 'encounters.csv').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
