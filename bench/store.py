"""Benchmark: the encrypted patient store at clinic scale (100,000 patients, 300,000 encounters).

    python bench/store.py [--patients 100000] [--encounters 300000] [--queries 300] [--rebuild]

Prints the unlock time (scrypt at the production parameters + opening the SQLCipher database + the login's audit
entry), patient search by name prefix and by document number through `store.patients.search` (index scan,
fetching up to 50 patients, and the audit entry with its fsync) p50/p95, the insert rate through the store API (one
transaction with fsync per patient or per closed encounter with its outbox row and audit entry), the bulk-load rate
used to build the database, the time of the full check (what the first unlock after a crash costs) and the
database size.
Budgets (ARCHITECTURE.md): unlock <= 1 s, search p95 <= 50 ms.

The 100k database takes a few minutes to build, so it is kept in bench/results/store-<N>/ (gitignored) and reused
while the schema and the generator are the same; --rebuild forces a new one. Its passphrase is printed below.
Every patient is synthetic (app/store/demo.py's generators); diagnose responses are real engine outputs, a few
hundred of them reused.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.engine import DiagnosisEngine  # noqa: E402
from app.store import ClinicStore  # noqa: E402
from app.store.compression import pack  # noqa: E402
from app.store.context import new_id  # noqa: E402
from app.store.database import SCHEMA_HEAD  # noqa: E402
from app.store.demo import synthetic_patients, synthetic_request  # noqa: E402
from app.store.feedback import feedback_payload  # noqa: E402
from app.store.keys import DEFAULT_KDF, derive_kek  # noqa: E402
from app.store.models import dump_json, format_utc  # noqa: E402
from app.store.names import fold, name_tokens, normalise_document, sort_key  # noqa: E402

PASSPHRASE = "bench-passphrase-vereda"
GENERATOR = 2  # bump when the generated data changes, so a cached database is rebuilt
RESULTS = ROOT / "bench" / "results"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def build(folder: Path, patients: int, encounters: int, engine: DiagnosisEngine) -> float:
    """Create the clinic through the store, then bulk-load rows in the exact formats the models write."""
    if folder.exists():
        shutil.rmtree(folder)
    store, _ = ClinicStore.create(folder, clinic_name="Puesto de salud Benchmark", municipality="Banco",
                                  admin_login="admin", admin_name="Admin Bench", admin_passphrase=PASSPHRASE)
    doctor = store.users.add("doctora", "Dra. Bench", "doctor", PASSPHRASE, must_change_passphrase=False)
    clinic_id, pseudonym_key = store.clinic.id, bytes(store.context.pseudonym_key)
    rng = random.Random(2026)
    people = list(synthetic_patients(rng, patients))
    variants = []
    for person in rng.sample(people, 300):
        request = synthetic_request(rng, person)
        response = engine.diagnose(request)
        variants.append((request, dump_json(request), response, pack(dump_json(response).encode("utf-8"))))

    t0 = time.perf_counter()
    now = time.time()
    patient_rows, token_rows, patient_ids = [], [], []
    for person in people:
        pid = new_id()
        patient_ids.append(pid)
        created = format_utc(_utc(now - rng.uniform(0, 3 * 365 * 86400)))
        patient_rows.append((pid, person.given_names, person.family_names,
                             sort_key(person.given_names, person.family_names), person.document_type,
                             person.document_number, normalise_document(person.document_number),
                             person.birth_date.isoformat(), person.sex, person.village, person.phone, None, created,
                             doctor.id, created))
        token_rows.extend((t, pid) for t in name_tokens(person.given_names, person.family_names))
    encounter_rows, outbox_rows = [], []
    for _ in range(encounters):
        pid = rng.choice(patient_ids)
        request, request_text, response, blob = rng.choice(variants)
        eid = new_id()
        started = _utc(now - rng.uniform(0, 3 * 365 * 86400))
        closed = _utc(started.timestamp() + rng.uniform(300, 3600))
        code = response["top_conditions"][0]["code"]
        encounter_rows.append((eid, pid, doctor.id, format_utc(started), format_utc(closed), "closed", request_text,
                               blob, response["model"]["version"], response["model"]["sha256"], response["severity"],
                               int(response["requires_immediate_attention"]), None, code, "ICD10"))
        payload = feedback_payload(clinic_id=clinic_id, pseudonym_key=pseudonym_key, patient_id=pid,
                                   encounter_id=eid, closed_at=closed, request=request, response=response,
                                   final_code=code, final_code_system="ICD10")
        sent = format_utc(closed) if rng.random() < 0.95 else None
        outbox_rows.append((eid, format_utc(closed), dump_json(payload), sent, 1 if sent else 0))
    prepared = time.perf_counter() - t0

    raw = store.context.database.engine.raw_connection()
    try:
        conn = raw.driver_connection
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        conn.executemany(  # type: ignore[union-attr]
            "INSERT INTO patients (id, given_names, family_names, sort_name, document_type, document_number, "
            "document_norm, birth_date, sex, village, phone, notes, created_at, created_by, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", patient_rows)
        conn.executemany("INSERT INTO patient_name_tokens (token, patient_id) VALUES (?,?)",  # type: ignore[union-attr]
                         sorted(token_rows))
        conn.executemany(  # type: ignore[union-attr]
            "INSERT INTO encounters (id, patient_id, clinician_id, started_at, closed_at, status, request, "
            "response, model_version, model_sha256, severity, requires_attention, notes, final_code, "
            "final_code_system) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", encounter_rows)
        conn.executemany(  # type: ignore[union-attr]
            "INSERT INTO feedback_outbox (encounter_id, created_at, payload, sent_at, attempts) VALUES (?,?,?,?,?)",
            outbox_rows)
        conn.execute("COMMIT")  # type: ignore[union-attr]
        conn.execute("ANALYZE")  # type: ignore[union-attr]
        loaded = time.perf_counter() - t0
    finally:
        raw.close()
    store.audit.record_export("bench:seed", {"patients": patients, "encounters": encounters})
    store.lock()
    rows = len(patient_rows) + len(token_rows) + len(encounter_rows) + len(outbox_rows)
    (folder / "bench-meta.json").write_text(json.dumps({
        "schema": SCHEMA_HEAD, "generator": GENERATOR, "patients": patients, "encounters": encounters,
        "bulk_rows": rows, "bulk_seconds": loaded, "prepare_seconds": prepared,
    }))
    return loaded


def _utc(ts: float):
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--encounters", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--unlocks", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    folder = RESULTS / f"store-{args.patients}"
    meta_path = folder / "bench-meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    wanted = {"schema": SCHEMA_HEAD, "generator": GENERATOR, "patients": args.patients,
              "encounters": args.encounters}
    if args.rebuild or any(meta.get(k) != v for k, v in wanted.items()):
        print(f"building {folder} ({args.patients} patients, {args.encounters} encounters) ...", flush=True)
        t = time.perf_counter()
        build(folder, args.patients, args.encounters, DiagnosisEngine.load())
        print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
        meta = json.loads(meta_path.read_text())
    else:
        print(f"reusing {folder} (--rebuild to build it again)")
    print(f"passphrase of users admin and doctora: {PASSPHRASE}")

    # --- unlock: scrypt at the production parameters + open + login audit entry -----------------------------
    kdf_times, unlock_times = [], []
    for _ in range(args.unlocks):
        t = time.perf_counter()
        derive_kek(PASSPHRASE.encode(), b"0" * 16, DEFAULT_KDF)
        kdf_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        store = ClinicStore.unlock(folder, "doctora", PASSPHRASE)
        unlock_times.append(time.perf_counter() - t)
        store.lock()

    # --- search ------------------------------------------------------------------------------------------------
    rng = random.Random(7)
    store = ClinicStore.unlock(folder, "doctora", PASSPHRASE)
    db = store.context.database
    sample = db.pragma(f"SELECT given_names, family_names, document_number FROM patients "
                       f"WHERE document_number IS NOT NULL ORDER BY random() LIMIT {args.queries}")
    name_queries = []
    for given, family, _ in sample:
        words = name_tokens(given, family)
        kind = rng.random()
        if kind < 0.4:  # the first letters of one name, as typed into the search box
            name_queries.append(rng.choice(words)[: rng.randint(3, 5)])
        elif kind < 0.7:  # a whole name
            name_queries.append(rng.choice(words))
        else:  # given name and the start of a surname ("maria rod")
            name_queries.append(f"{fold(given.split()[0])} {fold(family.split()[0])[:3]}")
    doc_queries = [doc if rng.random() < 0.6 else doc[: rng.randint(4, 7)] for _, _, doc in sample]
    for q in name_queries[:20] + doc_queries[:20]:  # warm the page cache, as a working session would
        store.patients.search(q)

    def timed(queries: list[str]) -> tuple[list[float], list[int]]:
        times, counts = [], []
        for q in queries:
            t = time.perf_counter()
            found = store.patients.search(q)
            times.append(time.perf_counter() - t)
            counts.append(len(found))
        return times, counts

    name_times, name_counts = timed(name_queries)
    doc_times, doc_counts = timed(doc_queries)

    # --- inserts through the API (one transaction + fsync each) ------------------------------------------------
    engine = DiagnosisEngine.load()
    person = next(synthetic_patients(random.Random(5), 1, first_document=800_000_000 + rng.randint(0, 10**7)))
    request = synthetic_request(rng, person)
    response = engine.diagnose(request)
    n_insert = 300
    t = time.perf_counter()
    new_patients = [store.patients.add(given_names=person.given_names, family_names=person.family_names,
                                       sex=person.sex, document_number=None) for _ in range(n_insert)]
    patient_rate = n_insert / (time.perf_counter() - t)
    t = time.perf_counter()
    for p in new_patients:
        store.encounters.record(p.id, request=request, response=response,
                                final_code=response["top_conditions"][0]["code"])
    encounter_rate = n_insert / (time.perf_counter() - t)
    store.lock()

    # --- full check (runs on its own at the first unlock after a crash) ----------------------------------
    admin = ClinicStore.unlock(folder, "admin", PASSPHRASE)
    t = time.perf_counter()
    report = admin.context.run_checks()
    check_seconds = time.perf_counter() - t
    admin.lock()

    size = sum(p.stat().st_size for p in folder.glob("vereda.db*"))
    print()
    print(f"database: {args.patients:,} patients, {args.encounters:,} encounters (+ {n_insert} of each per run)")
    print(f"unlock (scrypt N=2^{DEFAULT_KDF.n.bit_length() - 1} r={DEFAULT_KDF.r} + open + login audit): "
          f"median {ms(statistics.median(unlock_times))}, max {ms(max(unlock_times))}   [budget <= 1000 ms]")
    print(f"  of which scrypt alone: median {ms(statistics.median(kdf_times))}")
    print(f"search by name prefix ({len(name_queries)} queries, mean {statistics.mean(name_counts):.0f} results): "
          f"p50 {ms(pct(name_times, 50))}, p95 {ms(pct(name_times, 95))}, max {ms(max(name_times))}"
          f"   [budget p95 <= 50 ms]")
    print(f"search by document ({len(doc_queries)} queries, mean {statistics.mean(doc_counts):.1f} results): "
          f"p50 {ms(pct(doc_times, 50))}, p95 {ms(pct(doc_times, 95))}, max {ms(max(doc_times))}"
          f"   [budget p95 <= 50 ms]")
    print(f"insert through the API: {patient_rate:.0f} patients/s, {encounter_rate:.0f} closed encounters/s "
          f"(each its own transaction with fsync, audit entry and, for encounters, the outbox row)")
    print(f"bulk load (build): {meta['bulk_rows'] / meta['bulk_seconds']:,.0f} rows/s "
          f"({meta['bulk_rows']:,} rows in {meta['bulk_seconds']:.1f} s)")
    print(f"full check, as run by `vereda check` and by the first unlock after a crash: {check_seconds:.1f} s, "
          f"{'ok' if report.ok else 'PROBLEMS'}")
    print(f"database size: {size / 1e6:.0f} MB ({size / args.patients / 1e3:.1f} kB per patient, "
          f"{size / args.encounters / 1e3:.2f} kB per encounter)")


if __name__ == "__main__":
    main()
