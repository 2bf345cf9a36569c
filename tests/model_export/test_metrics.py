"""The shipped bundle meets the issue's targets on fresh held-out patients and on the clinical vignettes.

Fresh: a seed the build never used, so this is not the build's own report read back.
"""

from __future__ import annotations

import pytest

from model_export import evaluate, knowledge
from model_export.simulator import Simulator
from model_export.train import default_schema, make_dataset


@pytest.fixture(scope="module")
def metrics(engine):
    kb = knowledge.load()
    vocabulary = kb.vocabulary()
    data = make_dataset(Simulator(kb).sample(12_000, seed=424242), vocabulary, default_schema(vocabulary))
    return evaluate.held_out(engine, data)


def test_overall_targets(metrics):
    m = metrics["all"]
    assert m["condition_macro_f1"] >= 0.85, m
    assert m["critical_recall"] >= 0.95, m
    assert m["not_critical_npv"] >= 0.98, m
    assert m["condition_ece"] <= 0.05, m
    assert m["state_ece"] <= 0.05, m


@pytest.mark.parametrize("group", ["child", "adult", "older", "female", "male"])
def test_targets_by_age_band_and_sex(metrics, group):
    m = metrics[group]
    assert m["n"] > 500
    assert m["condition_macro_f1"] >= 0.85, m
    assert m["critical_recall"] >= 0.95, m
    assert m["not_critical_npv"] >= 0.98, m
    assert m["condition_ece"] <= 0.05, m


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
