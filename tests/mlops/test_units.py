"""Unit tests of the MLOps helpers: the deterministic held-out split, PSI, rare evidence, optional MLflow, the
gate's rule and the drift statistics (server/mlops/, shared with model_export)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_export import mlops, tracking
from server.mlops import drift, feedback, gate

ROOT = Path(__file__).resolve().parents[2]


def test_held_out_split_is_deterministic_and_near_the_fraction() -> None:
    uuids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(4000)]
    first = [feedback.is_held_out(u) for u in uuids]
    assert first == [feedback.is_held_out(u.upper()) for u in uuids]  # case does not move a record
    assert abs(np.mean(first) - feedback.HOLDOUT_FRACTION) < 0.03


def test_psi_is_zero_for_equal_distributions_and_large_for_a_shift() -> None:
    assert drift.psi(np.array([10, 20, 30]), np.array([1, 2, 3])) < 1e-9
    assert drift.psi(np.array([80, 15, 5]), np.array([5, 15, 80])) > drift.PSI_THRESHOLD


def test_age_bands_are_read_as_years() -> None:
    record = {"request": {"age": "30-44", "sex": "F", "symptoms": {"fiebre": 3}, "hpo_terms": ["HP:0001945"]}}
    assert feedback.feedback_request(record)["age"] == 37.0
    assert "hpo_terms" not in feedback.feedback_request(record)
    assert feedback.feedback_request({"request": {**record["request"], "age": "80+"}})["age"] == 85.0


def test_tracking_without_mlflow_is_a_no_op() -> None:
    try:
        import mlflow  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        assert tracking.log_run("unit", {"a": 1}, {"m": 0.5}) is False


def _result(f1: float, recall: float, failures: list[str] | None = None) -> dict[str, object]:
    return {"combined": {"n": 100, "condition_macro_f1": f1, "critical_recall": recall, "critical_n": 20},
            "check_case_failures": failures or []}


def test_gate_rule_needs_better_f1_same_recall_and_passing_check_cases() -> None:
    assert gate.decide(_result(0.90, 0.98), _result(0.89, 0.98)).accepted
    equal = gate.decide(_result(0.89, 0.98), _result(0.89, 0.98))
    assert not equal.accepted and "does not beat production" in equal.reasons[0]
    worse_recall = gate.decide(_result(0.95, 0.97), _result(0.89, 0.98))
    assert not worse_recall.accepted and "critical-patient recall" in worse_recall.reasons[0]
    failing = gate.decide(_result(0.95, 0.99, ["origin-4: no attention flag"]), _result(0.89, 0.98))
    assert not failing.accepted and "origin-4" in failing.reasons[0]
    assert gate.decide(_result(0.5, 0.5), None).accepted  # first production model: check cases only


def test_model_export_applies_the_servers_gate_rule_not_a_copy() -> None:
    assert mlops.decide is gate.decide and mlops.is_held_out is feedback.is_held_out
    assert mlops.feedback_request is feedback.feedback_request


def _reference(n: int, rng: np.random.Generator, fever_mean: float) -> dict[str, Any]:
    requests = [{"age": float(rng.integers(1, 90)), "sex": "F", "duration_days": 3,
                 "symptoms": {"fiebre": int(np.clip(rng.normal(fever_mean, 1.5), 0, 10)), "tos": 2},
                 "vitals": {"spo2": float(rng.normal(97, 1))}} for _ in range(n)]
    return {"model_version": "2026.11.1", "seed": 2, "knowledge_matches_bundle": True,
            "symptom_keys": ["fiebre", "tos"], "vital_keys": ["spo2"], "requests": requests,
            "top": ["A90"] * n, "condition": ["A90"] * n}


def test_drift_summary_flags_a_shifted_symptom_and_not_the_same_population() -> None:
    rng = np.random.default_rng(1)
    reference = _reference(800, rng, fever_mean=2.0)
    same = [{"request": r, "response_summary": {"top_condition": "A90"}, "confirmed_diagnosis": "A90"}
            for r in _reference(300, rng, fever_mean=2.0)["requests"]]
    shifted = [{"request": r, "response_summary": {"top_condition": "A90"}, "confirmed_diagnosis": "A90"}
               for r in _reference(300, rng, fever_mean=8.0)["requests"]]
    assert not drift.summarise(same, reference)["flag"]
    summary = drift.summarise(shifted, reference)
    assert summary["flag"] and "fiebre" in summary["reasons"][0]
    assert summary["features"]["fiebre"]["p_value"] < 1e-6
    assert drift.render_html(summary).count("<svg") >= 3


def test_drift_without_scipy_names_the_extra_to_install() -> None:
    code = ("import sys; sys.modules['scipy'] = None; import numpy as np; from server.mlops import drift\n"
            "try:\n    drift._chi2(np.array([5., 5.]), np.array([4., 6.]))\n"
            "except drift.MissingExtra as exc:\n    print(exc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "vereda[server,mlops]" in done.stdout


def test_gate_evaluation_fails_with_a_message_when_the_build_tools_fail() -> None:
    from server.mlops import build_tools

    with pytest.raises(build_tools.BuildToolsError, match="gate-evaluate failed"):
        build_tools.gate_evaluation(ROOT / "no-such-bundle", None, [], 10)
