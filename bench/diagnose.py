"""Benchmark: the diagnosis engine against bare onnxruntime on the same ONNX files, and the CLI process.

    python bench/diagnose.py [--cases 2000] [--repeats 5]

Prints model load time, per-case latency p50/p95 in-process (validation + features + both models + red flags +
explanations + response), batch throughput, the same for bare onnxruntime (both models on prepared rows), the
ratios, and the wall time of a `vereda diagnose` process on one case. Budgets (ARCHITECTURE.md): p95 <= 50 ms per
case with explanation; the process <= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.bundle import ModelBundle  # noqa: E402
from app.core.engine import DiagnosisEngine  # noqa: E402
from model_export import knowledge  # noqa: E402
from model_export.simulator import Simulator  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    loads = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        engine = DiagnosisEngine.load()
        loads.append(time.perf_counter() - t)

    cases = Simulator(knowledge.load()).sample(args.cases, seed=99).requests
    requests = [engine.validate(c) for c in cases]
    for c in cases[:50]:  # warm-up
        engine.diagnose(c)

    per_case = []
    for c in cases:
        t = time.perf_counter()
        engine.diagnose(c)
        per_case.append(time.perf_counter() - t)

    batch_times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        engine.diagnose_many(requests)
        batch_times.append(time.perf_counter() - t)

    # Bare onnxruntime: the same two ONNX files, same session options, rows already prepared.
    bundle = ModelBundle.load()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    sessions = []
    bare_loads = []
    for name in ("state", "condition"):
        spec = bundle.model(name)
        t = time.perf_counter()
        sessions.append((ort.InferenceSession(str(bundle.path / spec.file), options,
                                              providers=["CPUExecutionProvider"]), spec))
        bare_loads.append(time.perf_counter() - t)
    rows = bundle.features.expand(bundle.features.raw_matrix(requests))
    bare_case = []
    for i in range(rows.shape[0]):
        x = rows[i:i + 1]
        t = time.perf_counter()
        for session, spec in sessions:
            session.run([spec.output_name], {spec.input_name: x})
        bare_case.append(time.perf_counter() - t)
    bare_batch = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        for session, spec in sessions:
            session.run([spec.output_name], {spec.input_name: rows})
        bare_batch.append(time.perf_counter() - t)

    # The CLI process on one case, start to exit.
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}, fh)
    process = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app.cli", "diagnose", "--input", fh.name], check=True,
                       capture_output=True, cwd=ROOT)
        process.append(time.perf_counter() - t)
    Path(fh.name).unlink()

    n = len(requests)
    ms = 1000.0
    print(f"cases: {n} simulated (seed 99), repeats: {args.repeats}, bundle {bundle.version}")
    print(f"{'':34}{'vereda engine':>16}{'bare onnxruntime':>18}{'ratio':>8}")
    load_v, load_b = statistics.median(loads) * ms, sum(bare_loads) * ms
    print(f"{'model load, median (ms)':34}{load_v:16.1f}{load_b:18.1f}{load_v / load_b:8.1f}")
    for label, q in (("per case p50 (ms)", 50), ("per case p95 (ms)", 95), ("per case p99 (ms)", 99)):
        v, b = pct(per_case, q) * ms, pct(bare_case, q) * ms
        print(f"{label:34}{v:16.3f}{b:18.3f}{v / b:8.1f}")
    thr_v, thr_b = n / statistics.median(batch_times), n / statistics.median(bare_batch)
    print(f"{'batch throughput (cases/s)':34}{thr_v:16.0f}{thr_b:18.0f}{thr_b / thr_v:8.1f}")
    print(f"`vereda diagnose` process, median of {args.repeats}: {statistics.median(process):.2f} s "
          f"(min {min(process):.2f}, max {max(process):.2f})")
    print(f"budgets: per case p95 <= 50 ms -> {'OK' if pct(per_case, 95) * ms <= 50 else 'OVER'}; "
          f"process <= 1.5 s -> {'OK' if statistics.median(process) <= 1.5 else 'OVER'}")


if __name__ == "__main__":
    main()
