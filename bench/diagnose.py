"""Benchmark: the diagnosis engine against bare onnxruntime on the same ONNX files, and the CLI process.

    python bench/diagnose.py [--cases 2000] [--repeats 5] [--reference-cases 500]

Prints model load time, per-case latency p50/p95 in-process (validation + features + both models + red flags +
scores + explanations + rare ranking + response), the same with next_findings (issue 19) and its extra cost, batch
throughput (without next_findings, the throughput option; one batch with it), the same for bare onnxruntime (both
models on prepared rows), the ratios, and the wall time of a `vereda diagnose` process on one case. In the same run it
times the one-request-at-a-time path the vectorised engine replaced (tests/core/reference_engine.py, "before") and the
rare-disease ranking alone (`RareDiseaseRanker.rank_batch`, and `rank` for one patient), so before/after and where
the time goes come from one run on one machine state; a last table splits the time of one case and of the batch
(without next_findings) into validation, danger-sign rules and scores, features, models, rare ranking, explanation
and the rest (building the answers), and a line gives the time to make the answers' objects alone (a ceiling on any
engine's throughput in this interpreter). Targets (ARCHITECTURE.md): one case p95 <= 0.3 ms, a batch
>= 25,000 cases/s, both with explanation and rare ranking; rank() p95 <= 2 ms (issue 18); the process <= 1.5 s.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core import red_flags, scores  # noqa: E402
from app.core.bundle import ModelBundle  # noqa: E402
from app.core.cases import Cases  # noqa: E402
from app.core.contract import DiagnoseRequest  # noqa: E402
from app.core.engine import DiagnosisEngine  # noqa: E402
from app.core.probability import softmax  # noqa: E402
from model_export import knowledge  # noqa: E402
from model_export.simulator import Simulator  # noqa: E402
from tests.core.reference_engine import reference_diagnose_many  # noqa: E402

TARGET_BATCH = 25_000  # cases/s
TARGET_P95_MS = 0.3
TARGET_RANK_P95_MS = 2.0
TARGET_NEXT_FINDINGS_P95_MS = 2.0  # issue 19: the answer with what to ask next, one case, until the 0.3 ms above


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


STAGES = ("validation", "rules", "features", "models", "rare", "explanation", "response")


def stage_times(engine: DiagnosisEngine, raws: list[Any], requests: list[DiagnoseRequest]) -> dict[str, float]:
    """Seconds of each stage of `diagnose_many(requests, next_findings=False)`, each stage called on its own with the
    engine's functions (validation only when `raws` is given: `diagnose` of one case validates, a batch is validated
    already); "response" is what is left of one timed call: building the answers and the glue between stages.
    The garbage collector is paused throughout, as `diagnose_many` pauses it for its own call: otherwise the stages
    timed on their own would be charged with collections the engine does not run."""
    gc.disable()
    try:
        return _stage_times(engine, raws, requests)
    finally:
        gc.enable()


def _stage_times(engine: DiagnosisEngine, raws: list[Any], requests: list[DiagnoseRequest]) -> dict[str, float]:
    e = engine
    one = len(requests) == 1
    out = dict.fromkeys(STAGES, 0.0)
    t = time.perf_counter()
    for raw in raws:
        e.validate(raw)
    out["validation"] = time.perf_counter() - t
    t = time.perf_counter()
    cases = None if one else Cases(requests)
    if cases is None:
        [[rule.applies(r) for rule in red_flags.RULES] for r in requests]
        [scores.scores(r) for r in requests]
    else:
        batch_scores = scores.batch_scores(cases)
        red_flags.evaluate_batch(cases, batch_scores)
        batch_scores.to_json()
    out["rules"] = time.perf_counter() - t
    t = time.perf_counter()
    expanded = e.features.expand(e.features.raw_matrix(requests, cases))
    out["features"] = time.perf_counter() - t
    t = time.perf_counter()
    state_p, cond_p = softmax(e.state_model.scores(expanded)), softmax(e.condition_model.scores(expanded))
    e.model_emergency(state_p, cond_p), e.model_risk(state_p, cond_p)
    out["models"] = time.perf_counter() - t
    t = time.perf_counter()
    if e.rare is not None:
        [e.rare.alert(r) for r in e.rare.rank_batch(requests)]
    out["rare"] = time.perf_counter() - t
    t = time.perf_counter()
    phi = np.vstack((e.state_model.explainer.contributions_many(expanded, np.argmax(state_p, axis=1)),
                     e.condition_model.explainer.contributions_many(expanded, np.argmax(cond_p, axis=1))))
    e._contributions(phi)
    out["explanation"] = time.perf_counter() - t
    t = time.perf_counter()
    if one and raws:
        e.diagnose(raws[0], next_findings=False)
    else:
        e.diagnose_many(requests, next_findings=False)
    total = time.perf_counter() - t + out["validation"]
    out["response"] = max(total - sum(out.values()), 0.0)
    out["total"] = total
    return out


def materialising(answers: list[Any], repeats: int) -> float:
    """Seconds a case to make the answers' objects alone, in C: `pickle.loads` of the same answers, collector paused.

    No arithmetic, no Python code of ours: the dicts, lists, floats and strings of the contract's answers, made by
    the interpreter's fastest path. An engine that returns these objects cannot build them faster in this
    interpreter, so 1 / this is a ceiling on its batch throughput, whatever the engine computes."""
    blob = pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL)
    times = []
    gc.disable()
    try:
        for _ in range(repeats):
            t = time.perf_counter()
            made = pickle.loads(blob)
            times.append(time.perf_counter() - t)
            del made
    finally:
        gc.enable()
    return statistics.median(times) / len(answers)


def print_stages(rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"{'where the time goes (us per case)':34}" + "".join(f"{k:>12}" for k in (*STAGES, "total")))
    for label, times in rows:
        print(f"{label:34}" + "".join(f"{times[k] * 1e6:12.1f}" for k in (*STAGES, "total")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference-cases", type=int, default=500,
                        help="cases for the slow one-request path (before); it takes ~10x longer per case")
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

    # One case with what to ask next (issue 19, the default on every path) and without it (the throughput option):
    # the difference is next_findings' own cost per case.
    per_case, per_case_nf = [], []
    for c in cases:
        t = time.perf_counter()
        engine.diagnose(c, next_findings=False)
        per_case.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.diagnose(c)
        per_case_nf.append(time.perf_counter() - t)

    # Before: the one-request path, validation included as `diagnose` does it, on the first reference cases.
    ref_cases = cases[:args.reference_cases]
    ref_requests = requests[:args.reference_cases]
    ref_case = []
    for c in ref_cases:
        t = time.perf_counter()
        reference_diagnose_many(engine, [engine.validate(c)], next_findings=False)
        ref_case.append(time.perf_counter() - t)

    # The rare-disease ranking of one patient (issue 18: rank() p95 <= 2 ms), on the same cases.
    rank_case = []
    if engine.rare is not None:
        for r in requests:
            t = time.perf_counter()
            engine.rare.rank(r)
            rank_case.append(time.perf_counter() - t)

    batch_times, ref_batch, rare_batch = [], [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        engine.diagnose_many(requests, next_findings=False)
        batch_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        reference_diagnose_many(engine, ref_requests, next_findings=False)
        ref_batch.append(time.perf_counter() - t)
        if engine.rare is not None:
            t = time.perf_counter()
            engine.rare.rank_batch(requests)
            rare_batch.append(time.perf_counter() - t)

    # Where the time goes, stage by stage: one case (median over the cases of each stage) and the batch (median of
    # the repeats), in microseconds per case.
    one_stages = [stage_times(engine, [c], [r]) for c, r in zip(cases, requests, strict=True)]
    batch_stages = [stage_times(engine, [], requests) for _ in range(args.repeats)]
    stage_rows = [("one case, median over cases", {k: statistics.median(s[k] for s in one_stages)
                                                   for k in one_stages[0]}),
                  (f"batch of {len(requests)}, median of repeats",
                   {k: statistics.median(s[k] for s in batch_stages) / len(requests) for k in batch_stages[0]})]

    nf_requests = requests[:args.reference_cases]  # a batch with next_findings (each request: its variants' batch)
    t = time.perf_counter()
    engine.diagnose_many(nf_requests)
    nf_batch = time.perf_counter() - t

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
    print(f"cases: {n} simulated (seed 99), repeats: {args.repeats}, bundle {bundle.version}, "
          f"before: the one-request path on {len(ref_requests)} of them; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs; the engine's figures are without next_findings unless a line says so")
    print(f"{'':34}{'before':>12}{'vereda engine':>16}{'bare onnxruntime':>18}{'ratio':>8}")
    load_v, load_b = statistics.median(loads) * ms, sum(bare_loads) * ms
    print(f"{'model load, median (ms)':34}{'':>12}{load_v:16.1f}{load_b:18.1f}{load_v / load_b:8.1f}")
    for label, q in (("per case p50 (ms)", 50), ("per case p95 (ms)", 95), ("per case p99 (ms)", 99)):
        r, v, b = pct(ref_case, q) * ms, pct(per_case, q) * ms, pct(bare_case, q) * ms
        print(f"{label:34}{r:12.3f}{v:16.3f}{b:18.3f}{v / b:8.1f}")
    thr_r = len(ref_requests) / statistics.median(ref_batch)
    thr_v, thr_b = n / statistics.median(batch_times), n / statistics.median(bare_batch)
    print(f"{'batch throughput, median (cases/s)':34}{thr_r:12.0f}{thr_v:16.0f}{thr_b:18.0f}{thr_b / thr_v:8.1f}")
    print(f"ratio to bare onnxruntime: batch {thr_b / thr_v:.1f}x slower (before {thr_b / thr_r:.1f}x), one case p95 "
          f"{pct(per_case, 95) / pct(bare_case, 95):.1f}x (before {pct(ref_case, 95) / pct(bare_case, 95):.1f}x); "
          f"vectorised vs before: batch {thr_v / thr_r:.1f}x, "
          f"one case p50 {pct(ref_case, 50) / pct(per_case, 50):.1f}x")
    if rare_batch:
        rare_share = statistics.median(rare_batch) / statistics.median(batch_times)
        print(f"rare-disease ranking alone (rank_batch): {n / statistics.median(rare_batch):.0f} cases/s, "
              f"{rare_share:.0%} of the batch time; the rest of the engine "
              f"{n / max(statistics.median(batch_times) - statistics.median(rare_batch), 1e-9):.0f} cases/s")
    nf_p50 = (pct(per_case_nf, 50) - pct(per_case, 50)) * ms
    nf_p95 = (pct(per_case_nf, 95) - pct(per_case, 95)) * ms
    print(f"with next_findings (issue 19): one case p50 {pct(per_case_nf, 50) * ms:.3f} ms, p95 "
          f"{pct(per_case_nf, 95) * ms:.3f} ms (target: the whole answer p95 <= {TARGET_NEXT_FINDINGS_P95_MS} ms -> "
          f"{'OK' if pct(per_case_nf, 95) * ms <= TARGET_NEXT_FINDINGS_P95_MS else 'NOT MET'}); extra cost p50 "
          f"{nf_p50:.3f} ms, p95 {nf_p95:.3f} ms"
          f"; a batch with it: {len(nf_requests) / nf_batch:.0f} cases/s")
    if rank_case:
        print(f"rare-disease ranking of one patient (rank): p50 {pct(rank_case, 50) * ms:.3f} ms, "
              f"p95 {pct(rank_case, 95) * ms:.3f} ms (target p95 <= {TARGET_RANK_P95_MS} ms)")
    print(f"`vereda diagnose` process, median of {args.repeats}: {statistics.median(process):.2f} s "
          f"(min {min(process):.2f}, max {max(process):.2f})")
    print_stages(stage_rows)
    floor = materialising(engine.diagnose_many(requests, next_findings=False), args.repeats)
    print(f"making the answers' objects alone (pickle.loads of the same answers, in C, collector paused): "
          f"{floor * 1e6:.1f} us a case, a ceiling of {1 / floor:,.0f} cases/s for any engine returning them here; "
          f"{TARGET_BATCH:,} cases/s leaves {1e6 / TARGET_BATCH - floor * 1e6:.1f} us a case for all the rest")
    p95 = pct(per_case, 95) * ms
    print(f"targets: batch >= {TARGET_BATCH:,} cases/s -> {'OK' if thr_v >= TARGET_BATCH else 'NOT MET'} "
          f"({thr_v:,.0f}); one case p95 <= {TARGET_P95_MS} ms -> {'OK' if p95 <= TARGET_P95_MS else 'NOT MET'} "
          f"({p95:.3f}); process <= 1.5 s -> {'OK' if statistics.median(process) <= 1.5 else 'OVER'}")

if __name__ == "__main__":
    main()
