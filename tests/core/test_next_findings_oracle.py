"""bench/next_findings.py's oracle row (issue 19): the best any order could do, knowing the patient's true values.

It is an upper bound only if it really is one: for every critical patient and every step, when some order
(Vereda's, the checklist's, the random one) has the patient at EMERGENCIA, the oracle must have found an order that
does too (it would not if it skipped a kind of finding that can change the answer). Run on a few simulated patients
of a seed the benchmark does not report.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_next_findings", ROOT / "bench" / "next_findings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    bench = load_bench()
    return bench.run(argparse.Namespace(patients=80, seed=31, oracle=True))


def test_the_oracle_bounds_every_order_patient_by_patient(result: dict[str, Any]) -> None:
    critical = [r for r in result["rows"] if r["critical"]]
    assert len(critical) >= 10  # enough critical patients for the check to mean something
    for row in critical:
        best = [step["emergency"] for step in row["oracle"]]
        for strategy in ("vereda", "checklist", "random"):
            for k, step in enumerate(row[strategy]):
                assert best[k] or not step["emergency"], (strategy, k, row)


def test_the_oracle_row_is_in_the_table_with_the_reachability_verdict(result: dict[str, Any]) -> None:
    oracle = result["table"]["oracle"]["all"]["critical_at_emergencia"]
    checklist = result["table"]["checklist"]["all"]["critical_at_emergencia"]
    assert oracle[0] == checklist[0]  # the same start: nothing asked yet
    points = result["target"]["oracle_points_after_2_vs_checklist"]
    assert points == round(oracle[2] - checklist[2], 1)
    assert result["target"]["reachable"] == (points >= 10)


def test_one_finding_the_oracle_agrees_with_trying_every_open_finding() -> None:
    """The oracle tries only the findings that change the request; after one finding that must give the same answer
    as trying every open finding (every vital, symptom, sign and the pregnancy question)."""
    bench = load_bench()
    kb = bench.knowledge.load()
    engine = bench.DiagnosisEngine.load()
    patients = bench.Simulator(kb).sample(400, seed=37).requests
    starts = []
    for patient in patients:
        first = bench.start_request(patient)
        if first is None or engine.diagnose(patient, next_findings=False)["triage"]["level"] != "EMERGENCIA":
            continue
        if engine.diagnose(first, next_findings=False)["triage"]["level"] != "EMERGENCIA":
            starts.append((first, patient))
    assert len(starts) >= 10
    reached = bench.oracle(engine, kb, starts)
    for (first, patient), best in zip(starts, reached, strict=True):
        brute = any(engine.diagnose(bench.add_truth(first, f, patient, kb), next_findings=False)["triage"]["level"]
                    == "EMERGENCIA" for f in bench.open_findings(engine, first, set()))
        assert best[1] == brute, (first, patient)


def test_a_vital_the_clinic_skipped_is_found_at_its_drawn_value_not_the_healthy_one() -> None:
    """The bench's patients are complete: a vital the simulation did not record is asked and found at the value the
    simulator drew for it; who is critical is decided on that complete case, and the table says which way it ran."""
    bench = load_bench()
    kb = bench.knowledge.load()
    patients = bench.Simulator(kb, unrecorded_seed=5).sample(300, seed=37)
    checked = 0
    for recorded, hidden in zip(patients.requests, patients.unrecorded, strict=True):
        first = bench.start_request(recorded)
        if first is None or "spo2" not in hidden:
            continue
        truth = bench.complete(recorded, hidden)
        assert truth["vitals"]["spo2"] == hidden["spo2"] and truth["symptoms"] == recorded["symptoms"]
        assert bench.add_truth(first, ("vital", "spo2"), truth, kb)["vitals"]["spo2"] == hidden["spo2"]
        healthy = round(kb.vital("spo2").norm(float(recorded["age"]))[0])
        assert bench.add_truth(first, ("vital", "spo2"), recorded, kb)["vitals"]["spo2"] == healthy
        checked += 1
    assert checked >= 50
    assert bench.run(argparse.Namespace(patients=20, seed=31, oracle=False))["unrecorded_vitals"] == "drawn"
    healthy_run = bench.run(argparse.Namespace(patients=20, seed=31, oracle=False, unrecorded="healthy"))
    assert healthy_run["unrecorded_vitals"] == "healthy"
