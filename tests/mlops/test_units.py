"""Unit tests of the MLOps helpers: the deterministic held-out split, PSI, rare evidence, optional MLflow."""

from __future__ import annotations

import numpy as np

from model_export import mlops, tracking
from server import drift


def test_held_out_split_is_deterministic_and_near_the_fraction() -> None:
    uuids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(4000)]
    first = [mlops.is_held_out(u) for u in uuids]
    assert first == [mlops.is_held_out(u.upper()) for u in uuids]  # case does not move a record
    assert abs(np.mean(first) - mlops.HOLDOUT_FRACTION) < 0.03


def test_psi_is_zero_for_equal_distributions_and_large_for_a_shift() -> None:
    assert drift.psi(np.array([10, 20, 30]), np.array([1, 2, 3])) < 1e-9
    assert drift.psi(np.array([80, 15, 5]), np.array([5, 15, 80])) > drift.PSI_THRESHOLD


def test_age_bands_are_read_as_years() -> None:
    record = {"request": {"age": "30-44", "sex": "F", "symptoms": {"fiebre": 3}, "hpo_terms": ["HP:0001945"]}}
    assert mlops.feedback_request(record)["age"] == 37.0
    assert "hpo_terms" not in mlops.feedback_request(record)
    assert mlops.feedback_request({"request": {**record["request"], "age": "80+"}})["age"] == 85.0


def test_rare_evidence_groups_orpha_cases() -> None:
    records = [
        {"confirmed_diagnosis": "ORPHA:558", "request": {"symptoms": {"fatiga": 3, "tos": 0},
                                                         "hpo_terms": ["HP:0001166", "HP:0001519"]}},
        {"confirmed_diagnosis": "ORPHA:558", "request": {"symptoms": {}, "hpo_terms": ["HP:0001166"]}},
        {"confirmed_diagnosis": "A97", "request": {"symptoms": {"fiebre": 9}}},
    ]
    evidence = mlops.rare_evidence(records)
    assert list(evidence["diseases"]) == ["ORPHA:558"]
    assert evidence["diseases"]["ORPHA:558"] == {"cases": 2, "hpo_terms": {"HP:0001166": 2, "HP:0001519": 1},
                                                 "symptoms": {"fatiga": 1}}


def test_tracking_without_mlflow_is_a_no_op() -> None:
    try:
        import mlflow  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        assert tracking.log_run("unit", {"a": 1}, {"m": 0.5}) is False


def _result(f1: float, recall: float, failures: list[str] | None = None) -> dict[str, object]:
    return {"combined": {"n": 100, "condition_macro_f1": f1, "critical_recall": recall, "critical_n": 20},
            "check_case_failures": failures or []}


def test_gate_rule_needs_better_f1_same_recall_and_passing_check_cases() -> None:
    assert mlops.decide(_result(0.90, 0.98), _result(0.89, 0.98)).accepted
    equal = mlops.decide(_result(0.89, 0.98), _result(0.89, 0.98))
    assert not equal.accepted and "does not beat production" in equal.reasons[0]
    worse_recall = mlops.decide(_result(0.95, 0.97), _result(0.89, 0.98))
    assert not worse_recall.accepted and "critical-patient recall" in worse_recall.reasons[0]
    failing = mlops.decide(_result(0.95, 0.99, ["origin-4: no attention flag"]), _result(0.89, 0.98))
    assert not failing.accepted and "origin-4" in failing.reasons[0]
    assert mlops.decide(_result(0.5, 0.5), None).accepted  # first production model: check cases only
