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

The load generator runs on the same 2-core machine as the server and takes CPU from it, so the figures are a floor.
Every loop is bounded by a count and a deadline; nothing leaves 127.0.0.1. The client side is deliberately minimal
(requests and http.client); app/sync will bring the real one.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", help="default: a SQLite file in a temp folder")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="vereda-bench-"))
    database = args.database or f"sqlite:///{workdir / 'bench.db'}"
    kind = "PostgreSQL" if database.startswith("postgres") else "SQLite"
    process, url = start_server(database, args.workers, workdir)
    try:
        print(f"vereda-server on {url}: {args.workers} workers, {kind}, rate limit off, {os.cpu_count()} CPUs")
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
