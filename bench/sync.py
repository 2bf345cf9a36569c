"""Benchmark: the central service on loopback — feedback intake and cloud predict throughput and latency.

    python bench/sync.py [--records 10000] [--batch 500] [--requests 6000] [--clients 16] [--workers 2]
                         [--database URL]

Starts `vereda-server serve` on a free port of 127.0.0.1 (SQLite in a temp folder unless --database names a
PostgreSQL URL), with the per-process rate limit turned off (it is meant for clinics, not for a load test), then:

1. feedback: enrolls one device and pushes `--records` new records in batches of `--batch` over one keep-alive
   connection, as the sync client will; then replays them all (a lost acknowledgement) and checks the database holds
   each exactly once. Budget (ARCHITECTURE.md): 10,000 records <= 10 s.
2. predict: `--clients` threads, each with its own keep-alive connection, send `--requests` diagnose requests in
   total to /v1/predict (served by `--workers` processes) and time each. Budget: >= 300 req/s, p99 <= 100 ms with
   2 workers and 16 clients.

3. client: the real sync client end to end. A clinic store (SQLCipher, in the temp folder) gets `--records` closed
   encounters with their outbox rows (written in bulk: the setup is not what is measured), the laptop enrolls with
   a one-time code, and `app.sync.outbox.push_outbox` sends the outbox in batches of `--batch` exactly as
   `vereda sync` does: read pending rows, map them to service records, POST, mark the acknowledged rows sent.
   Budget: 10,000 records <= 10 s, store work included.

The load generator runs on the same 2-core machine as the server and takes CPU from it, so the figures are a floor.
Every loop is bounded by a count and a deadline; nothing leaves 127.0.0.1. Parts 1 and 2 use a deliberately minimal
client (requests and http.client) to measure the service alone; part 3 measures app/sync with its store.
`--only feedback|client|predict` runs one part.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASE4 = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}
DEADLINE_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(database: str, workers: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    script = Path(sys.executable).with_name("vereda-server")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "server"]
    env = {**os.environ, "VEREDA_SERVER_DATA_DIR": str(workdir), "VEREDA_SERVER_RATE_LIMIT_PER_SECOND": "0",
           "VEREDA_SERVER_LOG_LEVEL": "WARNING"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [*command, "serve", "--database", database, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=(workdir / "server.log").open("wb"), env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(url + "/health", timeout=2).ok:
                # With several workers the first answer proves one is up; give the others a moment too.
                time.sleep(1.0 if workers > 1 else 0)
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start; see {workdir / 'server.log'}")


def enroll(url: str, database: str) -> dict[str, Any]:
    from server.core.config import normalise_database_url
    from server.db import crud
    from server.db.session import make_engine, make_sessions

    with make_sessions(make_engine(normalise_database_url(database)), write=True)() as session:
        code, _, _ = crud.create_enrollment_code(session, "Puesto de Salud del Banco", 1.0)
        session.commit()
    reply = requests.post(url + "/v1/enroll", json={"code": code}, timeout=10)
    reply.raise_for_status()
    return reply.json()  # type: ignore[no-any-return]


def make_records(clinic_id: str, n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    symptoms = ["fiebre", "tos", "dolor_cabeza", "fatiga", "nausea", "dolor_muscular", "diarrea", "mareos"]
    out = []
    for _ in range(n):
        picked = rng.choice(symptoms, size=4, replace=False)
        out.append({
            "uuid": str(uuid.uuid4()), "clinic_id": clinic_id, "pseudonym": secrets.token_hex(32),
            "week": f"2026-W{int(rng.integers(1, 53)):02d}",
            "request": {"age": float(rng.integers(1, 90)), "sex": str(rng.choice(["F", "M"])),
                        "duration_days": float(rng.integers(0, 30)),
                        "symptoms": {str(s): int(rng.integers(1, 11)) for s in picked},
                        "vitals": {"temperature_c": round(float(rng.uniform(36, 40)), 1),
                                   "heart_rate": float(rng.integers(60, 130))},
                        "hpo_terms": []},
            "response_summary": {"severity": "ENFERMEDAD_LEVE", "top_condition": "J11",
                                 "requires_immediate_attention": False},
            "confirmed_diagnosis": "J11", "model_version": "2026.11.1",
        })
    return out


def push(url: str, token: str, records: list[dict[str, Any]], batch: int) -> tuple[float, int]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    accepted = 0
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        reply = session.post(url + "/v1/feedback:batch", json={"records": records[i : i + batch]}, timeout=60)
        reply.raise_for_status()
        accepted += reply.json()["accepted"]
        if time.perf_counter() - started > DEADLINE_S:
            raise SystemExit("feedback push passed the bench deadline")
    return time.perf_counter() - started, accepted


def stored_count(database: str) -> int:
    from server.core.config import normalise_database_url
    from server.db import crud
    from server.db.session import make_engine, make_sessions

    with make_sessions(make_engine(normalise_database_url(database)))() as session:
        return crud.count_feedback(session)


def predict_cases(n: int) -> list[bytes]:
    try:
        from model_export import knowledge
        from model_export.simulator import Simulator

        cases = Simulator(knowledge.load()).sample(n, seed=99).requests
    except Exception:  # the simulator needs the build extra; one fixed case still measures the service
        cases = [CASE4] * n
    return [json.dumps(c).encode() for c in cases]


def load_predict(url: str, bodies: list[bytes], total: int, clients: int) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    counter = iter(range(total))
    lock = threading.Lock()
    deadline = time.monotonic() + DEADLINE_S

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Content-Type": "application/json"}
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            t = time.perf_counter()
            conn.request("POST", "/v1/predict", body=bodies[i % len(bodies)], headers=headers)
            reply = conn.getresponse()
            data = reply.read()
            latencies[k].append(time.perf_counter() - t)
            if reply.status != 200:
                errors.append(f"{reply.status} {data[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = np.asarray([x for per in latencies for x in per]) * 1000
    if errors:
        print(f"  {len(errors)} errors, first: {errors[0]}")
    return {"requests": float(flat.size), "seconds": elapsed, "rps": flat.size / elapsed,
            "p50_ms": float(np.percentile(flat, 50)), "p95_ms": float(np.percentile(flat, 95)),
            "p99_ms": float(np.percentile(flat, 99)), "max_ms": float(flat.max()), "errors": float(len(errors))}


def clinic_with_outbox(folder: Path, n: int) -> tuple[Path, str]:
    """A clinic store with `n` closed encounters and their outbox rows; returns (data dir, admin passphrase)."""
    import datetime as dt

    from sqlalchemy import insert

    from app.core.engine import DiagnosisEngine
    from app.store import ClinicStore, KdfParams
    from app.store.context import new_id
    from app.store.feedback import feedback_payload
    from app.store.models import Encounter, FeedbackOutbox

    passphrase = "clave-de-banco-larga"
    store, _ = ClinicStore.create(folder, clinic_name="Puesto de banco", municipality="Banco", admin_login="admin",
                                  admin_name="Banco", admin_passphrase=passphrase, kdf=KdfParams(n=2**14, r=8, p=1))
    with store:
        engine = DiagnosisEngine.load()
        requests_ = [json.loads(b) for b in predict_cases(200)]
        answers = engine.diagnose_many([engine.validate(r) for r in requests_])
        patients = [store.patients.add(given_names=f"Paciente {i}", family_names="Banco", sex="F").id
                    for i in range(50)]
        now = dt.datetime.now(dt.UTC)
        encounters, outbox = [], []
        for i in range(n):
            request, response = requests_[i % len(requests_)], answers[i % len(answers)]
            encounter_id, code = new_id(), response["top_conditions"][0]["code"]
            encounters.append({"id": encounter_id, "patient_id": patients[i % len(patients)],
                               "clinician_id": store.principal.user_id, "started_at": now, "closed_at": now,
                               "status": "closed", "request": request, "response": response,
                               "model_version": response["model"]["version"], "severity": response["severity"],
                               "requires_attention": response["requires_immediate_attention"], "final_code": code,
                               "final_code_system": "ICD10"})
            outbox.append({"encounter_id": encounter_id, "created_at": now, "attempts": 0, "payload": feedback_payload(
                clinic_id=store.clinic.id, pseudonym_key=bytes(store.context.pseudonym_key),
                patient_id=encounters[-1]["patient_id"], encounter_id=encounter_id, closed_at=now, request=request,
                response=response, final_code=code, final_code_system="ICD10")})
        with store.context.transaction() as s:  # one transaction: the bench measures the push, not 10,000 closings
            s.execute(insert(Encounter), encounters)
            s.execute(insert(FeedbackOutbox), outbox)
    return folder, passphrase


def client_push(url: str, database: str, workdir: Path, n: int, batch: int) -> None:
    from app.store import ClinicStore
    from app.sync.client import CentralClient
    from app.sync.enrollment import enroll as enroll_device
    from app.sync.outbox import push_outbox
    from server.core.config import normalise_database_url
    from server.db import crud
    from server.db.session import make_engine, make_sessions

    started = time.perf_counter()
    folder, passphrase = clinic_with_outbox(workdir / "clinic", n)
    setup = time.perf_counter() - started
    with make_sessions(make_engine(normalise_database_url(database)), write=True)() as session:
        code, _, _ = crud.create_enrollment_code(session, "Puesto de banco (cliente)", 1.0)
        session.commit()
    before = stored_count(database)
    with ClinicStore.unlock(folder, "admin", passphrase) as store:
        in_store = [0.0]

        def call_store(fn: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(store)
            finally:
                in_store[0] += time.perf_counter() - t

        enrollment = enroll_device(call_store, url, code)
        in_store[0] = 0.0
        t = time.perf_counter()
        with CentralClient(url, enrollment.token) as client:
            summary = push_outbox(call_store, client, enrollment.clinic_id, batch_size=batch)
        seconds = time.perf_counter() - t
        counts = store.outbox.counts()
    stored = stored_count(database) - before
    ok = seconds <= 10 * n / 10_000 and counts["pending"] == 0 and stored == n
    print(f"client (app/sync from a ClinicStore outbox, setup {setup:.1f} s not counted): {summary.acknowledged} "
          f"acknowledged in {summary.batches} batches of {batch}: {seconds:.2f} s ({summary.acknowledged / seconds:.0f}"
          f" records/s; store {in_store[0]:.2f} s, network and service {seconds - in_store[0]:.2f} s); pending "
          f"{counts['pending']}, stored {stored}  budget <= 10 s for 10,000: {'OK' if ok else 'OVER'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", help="default: a SQLite file in a temp folder")
    parser.add_argument("--only", choices=("feedback", "client", "predict"), help="run one part")
    args = parser.parse_args()
    parts = {args.only} if args.only else {"feedback", "client", "predict"}

    workdir = Path(tempfile.mkdtemp(prefix="vereda-bench-"))
    database = args.database or f"sqlite:///{workdir / 'bench.db'}"
    kind = "PostgreSQL" if database.startswith("postgres") else "SQLite"
    process, url = start_server(database, args.workers, workdir)
    try:
        print(f"vereda-server on {url}: {args.workers} workers, {kind}, rate limit off, {os.cpu_count()} CPUs")
        if "feedback" in parts:
            device = enroll(url, database)
            records = make_records(device["clinic_id"], args.records)
            seconds, accepted = push(url, device["device_token"], records, args.batch)
            print(f"feedback: {accepted} records in {len(records) // args.batch} batches of {args.batch}: "
                  f"{seconds:.2f} s ({accepted / seconds:.0f} records/s)  budget <= 10 s for 10,000: "
                  f"{'OK' if seconds <= 10 * args.records / 10_000 else 'OVER'}")
            seconds, accepted = push(url, device["device_token"], records, args.batch)
            count = stored_count(database)
            print(f"feedback replay: {accepted} acknowledged again in {seconds:.2f} s; stored {count} "
                  f"({'each once' if count == args.records else 'MISMATCH'})")
        if "client" in parts:
            client_push(url, database, workdir, args.records, args.batch)
        if "predict" not in parts:
            return

        bodies = predict_cases(500)
        load_predict(url, bodies, 400, args.clients)  # warm-up: connections, caches, every worker
        r = load_predict(url, bodies, args.requests, args.clients)
        ok = r["rps"] >= 300 and r["p99_ms"] <= 100
        print(f"predict: {int(r['requests'])} requests, {args.clients} clients, {args.workers} workers: "
              f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"max {r['max_ms']:.1f} ms, errors {int(r['errors'])}  budget >= 300 req/s, p99 <= 100 ms: "
              f"{'OK' if ok else 'OVER'}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
