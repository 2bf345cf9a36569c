"""The shipped bundle meets the issue's targets on fresh held-out patients and on the clinical vignettes.

Fresh: a seed the build never used (the build uses 1, 2 and 3), so this is not the build's own report read back.
Issue 12 targets, overall, for each age band (infant < 1, 1-4, 5-17, adult, older >= 65) and for pregnant or
postpartum women, with the engine's WHO ETAT triage (danger-sign rules included): recall of critical patients at
EMERGENCIA >= 95% and at EMERGENCIA or PRIORITARIO >= 99%, share at EMERGENCIA <= 1.25 x the critical prevalence,
condition macro-F1 >= 0.85, ECE <= 0.05.
"""

from __future__ import annotations

import pytest

from model_export import evaluate, knowledge
from model_export.simulator import Simulator
from model_export.train import default_schema, make_dataset

FRESH_SEED = 424242
FRESH_N = 16_000
GROUPS = ["all", "infant", "child_1_4", "child_5_17", "adult", "older", "pregnant_or_postpartum"]


@pytest.fixture(scope="module")
def metrics(engine):
    kb = knowledge.load()
    vocabulary = kb.vocabulary()
    data = make_dataset(Simulator(kb).sample(FRESH_N, seed=FRESH_SEED), vocabulary, default_schema(vocabulary))
    return evaluate.held_out(engine, data)


@pytest.mark.parametrize("group", GROUPS)
def test_triage_targets_by_group(metrics, group):
    m = metrics[group]
    assert m["n"] > 400 and m["critical_n"] > 100, m
    assert m["critical_recall"] >= 0.95, m  # at EMERGENCIA
    assert m["critical_recall_emergency_or_priority"] >= 0.99, m
    assert m["flagged_share"] <= 1.25 * m["critical_prevalence"], m  # no alarm fatigue


@pytest.mark.parametrize("group", GROUPS)
def test_condition_and_calibration_targets_by_group(metrics, group):
    m = metrics[group]
    assert m["condition_macro_f1"] >= 0.85, m
    assert m["condition_ece"] <= 0.05, m
    assert m["state_ece"] <= 0.05, m


@pytest.mark.parametrize("group", ["female", "male"])
def test_targets_by_sex(metrics, group):
    m = metrics[group]
    assert m["condition_macro_f1"] >= 0.85 and m["critical_recall"] >= 0.95, m
    assert m["flagged_share"] <= 1.25 * m["critical_prevalence"], m


def test_clinical_vignettes(engine):
    v = evaluate.vignettes(engine)
    assert v["n"] >= 40
    assert v["top3"] >= 0.85, [r for r in v["rows"] if not r["rank"] or r["rank"] > 3]
    missed = [r["id"] for r in v["rows"] if r["critical"] and not r["flagged"]]
    assert not missed, missed


def test_vignettes_cite_their_sources():
    for v in evaluate.load_vignettes():
        assert v["source"].strip() and v["presentation"].strip(), v["id"]
        if v["critical"]:
            assert v.get("critical_reason"), v["id"]
