"""Benchmark: Vereda's /v1/predict side by side with the origin document's rule service and the HTTP floor.

    python bench/predict_http.py [--duration 20] [--threads 2] [--connections 16] [--workers 2]
                                 [--only floor,rules,vereda,answer-only] [--before DIR] [--rate-limit N] [--rounds N]
                                 [--python-load]

Starts on loopback, one after the other, each with `--workers` worker processes:

- vereda: `vereda-server serve` of the checkout holding this script (SQLite in a temp folder, rate limit off unless
  `--rate-limit`), POST /v1/predict;
- answer-only: the same Vereda service, POST /v1/predict?next_findings=false (what bulk callers may choose);
- rules: the origin document's Flask rule service under gunicorn (bench/anchors/anchor_rules.py), POST /predict;
- floor: FastAPI under uvicorn parsing the same JSON and answering a constant (bench/anchors/anchor_floor.py).

and loads each with the same pattern: wrk, `--threads` threads, `--connections` keep-alive connections, `--duration`
seconds after a 3 s warm-up, the origin document's case 4 with two vitals. wrk is Debian's package: when it is
missing the bench installs it with apt-get (as root, or with sudo) and otherwise falls back to a Python load
generator, and says so (that one takes far more CPU from the servers, so its figures are lower). Prints req/s,
p50 and p99 of each in one table. Target (ARCHITECTURE.md): Vereda >= the rule service's req/s with p99 <= 20 ms.
The load generator shares the 2-core machine with the servers: the figures are a floor for all three alike.
`--before DIR` adds a row for Vereda served from an older checkout (`git archive <commit> | tar -x -C DIR`), so a
change is measured before and after in one run. `--rounds N` runs every service N times, interleaved, and prints the
medians, for a machine shared with other work; `--rate-limit N` turns Vereda's shared rate limit on at N per second
(with a burst of as many), to see what charging the caller's bucket in the database costs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `http`: take its folder off the import path before anything
# (requests, http.client) imports the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import numpy as np  # noqa: E402
import requests  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT / "bench" / "anchors"
sys.path.insert(0, str(ROOT))

# The origin document's case 4 (expected ENFERMEDAD_AGUDA) with two vitals, as the issue measured it.
CASE4 = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8},
         "vitals": {"heart_rate": 112, "spo2": 94}}
WARMUP_S = 3.0
TARGET_P99_MS = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            reply = requests.post(url, data=json.dumps(CASE4), headers={"Content-Type": "application/json"},
                                  timeout=5)
            if reply.status_code == 200:
                time.sleep(1.0)  # the first answer proves one worker is up; give the other a moment too
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{url} did not answer; see {log}")


@contextmanager
def service(name: str, workers: int, workdir: Path, vereda_root: Path | None = None,
            rate_limit: float = 0.0) -> Iterator[str]:
    """Start one of the three services on a free loopback port; yield its predict URL; stop it."""
    port = free_port()
    env = {**os.environ}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    bin_dir = Path(sys.executable).parent
    if name in ("vereda", "before", "answer-only"):
        # The checkout this script lives in, or (--before) another one, e.g. `git archive` of an older commit; never
        # whichever copy the virtualenv has installed.
        vereda_root = vereda_root if name == "before" and vereda_root is not None else ROOT
        command = [sys.executable, "-m", "server"]
        env["PYTHONPATH"] = str(vereda_root)
        command += ["serve", "--database", f"sqlite:///{workdir / 'vereda.db'}", "--host", "127.0.0.1",
                    "--port", str(port), "--workers", str(workers)]
        env.update({"VEREDA_SERVER_DATA_DIR": str(workdir), "VEREDA_SERVER_RATE_LIMIT_PER_SECOND": f"{rate_limit:g}",
                    "VEREDA_SERVER_RATE_LIMIT_BURST": str(max(100, int(rate_limit))),
                    "VEREDA_SERVER_LOG_LEVEL": "WARNING"})
        # answer-only: the same service asked to skip next_findings (issue 19), what bulk callers can choose.
        path = "/v1/predict?next_findings=false" if name == "answer-only" else "/v1/predict"
    elif name == "rules":
        command = [str(bin_dir / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--chdir", str(ANCHORS),
                   "--log-level", "warning", "anchor_rules:app"]
        path = "/predict"
    else:
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(ANCHORS), "anchor_floor:app", "--host",
                   "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                   "--no-access-log"]
        path = "/v1/predict"
    log = workdir / f"{name}.log"
    cwd = vereda_root if name in ("vereda", "before", "answer-only") else workdir
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=env, cwd=cwd,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}{path}"
    try:
        wait_ready(process, url, log)
        yield url
    finally:
        # The server and its workers form their own process group; end exactly that group.
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def find_wrk() -> str | None:
    """wrk from PATH, or installed from Debian's package when we may; None when it cannot be had."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        return None
    sudo: list[str] = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else [])
    if os.geteuid() != 0 and not sudo:
        return None
    print("wrk is missing: installing Debian's package with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["update", "-qq"], ["install", "-y", "-qq", "wrk"]):
        if subprocess.run([*sudo, apt, *step], env=env, capture_output=True).returncode != 0 and step[0] != "update":
            return None
    return shutil.which("wrk")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def run_wrk(wrk: str, url: str, threads: int, connections: int, seconds: float, workdir: Path) -> dict[str, float]:
    script = workdir / "post.lua"
    body = json.dumps(CASE4).replace("\\", "\\\\").replace('"', '\\"')
    script.write_text(f'wrk.method = "POST"\nwrk.body = "{body}"\n'
                      'wrk.headers["Content-Type"] = "application/json"\n')
    base = [wrk, f"-t{threads}", f"-c{connections}", "--latency", "-s", str(script)]
    subprocess.run([*base, f"-d{WARMUP_S:g}s", url], capture_output=True, check=True)
    out = subprocess.run([*base, f"-d{seconds:g}s", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": float(errors.group(1)) if errors else 0.0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}  # type: ignore[dict-item]


def run_python(url: str, connections: int, seconds: float) -> dict[str, float]:
    """Fallback load generator: `connections` threads, each with one keep-alive connection, for `seconds`."""
    host, rest = url.removeprefix("http://").split(":", 1)
    port, path = rest.split("/", 1)
    body = json.dumps(CASE4).encode()
    headers = {"Content-Type": "application/json"}

    def load(until: float, sink: list[float], errors: list[int]) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while time.monotonic() < until:
            t = time.perf_counter()
            try:
                conn.request("POST", "/" + path, body=body, headers=headers)
                reply = conn.getresponse()
                reply.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                errors.append(1)
                continue
            sink.append(time.perf_counter() - t)
            if reply.status != 200:
                errors.append(1)
        conn.close()

    for seconds_run, keep in ((WARMUP_S, False), (seconds, True)):
        sinks: list[list[float]] = [[] for _ in range(connections)]
        errors: list[int] = []
        until = time.monotonic() + seconds_run
        threads = [threading.Thread(target=load, args=(until, sinks[k], errors)) for k in range(connections)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        if keep:
            flat = np.asarray([x for s in sinks for x in s]) * 1000
            return {"rps": flat.size / elapsed, "p50": float(np.percentile(flat, 50)),
                    "p99": float(np.percentile(flat, 99)), "errors": float(len(errors))}
    raise AssertionError("unreachable")


LABELS = {
    "floor": "FastAPI + uvicorn answering a constant (floor)",
    "rules": "origin document's Flask rule service (gunicorn)",
    "before": "Vereda /v1/predict, before (--before)",
    "vereda": "Vereda /v1/predict",
    "answer-only": "Vereda /v1/predict?next_findings=false",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="floor,rules,vereda,answer-only",
                        help="services to run: floor, rules, vereda, answer-only (Vereda asked to skip next_findings)")
    parser.add_argument("--rate-limit", type=float, default=0.0, metavar="PER_SECOND",
                        help="Vereda's rate limit per caller (default 0: off, as the anchors have none); a limit the "
                        "load never reaches, e.g. 10000, measures what charging the shared bucket costs per request")
    parser.add_argument("--rounds", type=int, default=1, help="run every service this many times, interleaved, and "
                        "print the medians (for a machine shared with other work)")
    parser.add_argument("--python-load", action="store_true", help="use the Python load generator even with wrk")
    parser.add_argument("--before", type=Path, help="also serve Vereda from this older checkout (`git archive <commit> "
                        "| tar -x -C DIR`, same virtualenv) as a fourth row, for before/after in one run")
    args = parser.parse_args()

    wrk = None if args.python_load else find_wrk()
    if wrk is None:
        print("wrk is not available: using the Python load generator (it competes harder with the servers for "
              "the CPU; compare rows of one run only)")
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if args.before is not None:
        names.append("before")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="vereda-bench-http-") as tmp:
        # Rounds interleave the services, so a neighbour's load on a shared machine falls on all of them alike.
        for round_no in range(args.rounds):
            for name in names:
                workdir = Path(tmp) / f"{name}-{round_no}"
                workdir.mkdir()
                with service(name, args.workers, workdir, args.before, args.rate_limit) as url:
                    if wrk is not None:
                        runs[name].append(run_wrk(wrk, url, args.threads, args.connections, args.duration, workdir))
                    else:
                        runs[name].append(run_python(url, args.connections, args.duration))
                print(f"  {name}: {runs[name][-1]['rps']:.0f} req/s", flush=True)
    # Each figure is the median of the rounds; non-2xx answers are the sum.
    rows = {name: {key: (float(sum(r[key] for r in results)) if key == "errors" else
                         float(np.median([r[key] for r in results]))) for key in ("rps", "p50", "p99", "errors")}
            for name, results in runs.items()}

    generator = f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s" if wrk else \
        f"Python load generator, {args.connections} connections, {args.duration:g} s"
    rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"\n{generator}{rounds}, {args.workers} worker processes each, loopback, {os.cpu_count()} CPUs, body: case 4 "
          f"with two vitals, Vereda's rate limit {f'{args.rate_limit:g}/s per caller' if args.rate_limit else 'off'}")
    print(f"{'service':50}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}")
    for name in ("floor", "rules", "before", "vereda", "answer-only"):
        if name in rows:
            r = rows[name]
            print(f"{LABELS[name]:50}{r['rps']:10.0f}{r['p50']:10.2f}{r['p99']:10.2f}{r['errors']:9.0f}")
    if "vereda" in rows and "rules" in rows:
        v, rules = rows["vereda"], rows["rules"]
        ok = v["rps"] >= rules["rps"] and v["p99"] <= TARGET_P99_MS
        print(f"target: Vereda req/s >= rule service ({v['rps']:.0f} vs {rules['rps']:.0f}, "
              f"{v['rps'] / rules['rps']:.2f}x) and p99 <= {TARGET_P99_MS:g} ms ({v['p99']:.1f}) -> "
              f"{'OK' if ok else 'NOT MET'}")


if __name__ == "__main__":
    main()
