"""The outside check of issue 12: 146 vignettes written from WHO IMCI/ETAT, dengue, pre-eclampsia, NEWS2 and sepsis
guidelines by an author who never read the knowledge base (tests/core/vignettes_etat.toml, committed before the
knowledge base changed and never edited to fit the model). Targets: top-3 >= 90%, every case the guideline calls an
emergency at EMERGENCIA, at most 5% of benign cases at EMERGENCIA. The figures are in docs/model_card.md."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

VIGNETTES = Path(__file__).with_name("vignettes_etat.toml")


def evaluate(engine: Any) -> dict[str, Any]:
    vignettes = tomllib.loads(VIGNETTES.read_text(encoding="utf-8"))["vignette"]
    out: dict[str, Any] = {"n": len(vignettes), "top3": 0, "must": 0, "must_missed": [], "benign": 0,
                           "benign_at_e": [], "by_group": Counter(), "top3_by_group": Counter(), "missed_top3": []}
    for v in vignettes:
        r = engine.diagnose(v["request"])
        codes = {c["code"] for c in r["top_conditions"][:3]}
        hit = bool(codes & {v["expected_condition"], *v.get("acceptable", [])})
        out["top3"] += hit
        out["by_group"][v["group"]] += 1
        out["top3_by_group"][v["group"]] += hit
        if not hit:
            out["missed_top3"].append((v["id"], v["expected_condition"], sorted(codes)))
        level = r["triage"]["level"]
        if v["expected_triage"] == "EMERGENCIA":
            out["must"] += 1
            if level != "EMERGENCIA":
                out["must_missed"].append((v["id"], v["title"], level))
        if v["group"] == "benign":
            out["benign"] += 1
            if level == "EMERGENCIA":
                out["benign_at_e"].append((v["id"], v["title"]))
    return out


@pytest.fixture(scope="module")
def figures(engine) -> dict[str, Any]:
    return evaluate(engine)


def test_the_set_is_what_issue_12_asked_for() -> None:
    vignettes = tomllib.loads(VIGNETTES.read_text(encoding="utf-8"))["vignette"]
    groups = Counter(v["group"] for v in vignettes)
    assert len(vignettes) >= 120
    assert groups["young_infant"] >= 10 and groups["young_infant"] + groups["child_under_5"] >= 30
    assert groups["pregnant_postpartum"] >= 15 and groups["older_atypical"] >= 20 and groups["benign"] >= 30
    assert all(v["source"].strip() for v in vignettes)


def test_top_3_is_at_least_90_percent(figures: dict[str, Any]) -> None:
    assert figures["top3"] / figures["n"] >= 0.90, figures["missed_top3"]


def test_every_emergency_of_the_guidelines_is_at_emergencia(figures: dict[str, Any]) -> None:
    assert not figures["must_missed"], figures["must_missed"]


def test_at_most_5_percent_of_benign_cases_are_called_emergencies(figures: dict[str, Any]) -> None:
    assert len(figures["benign_at_e"]) <= 0.05 * figures["benign"], figures["benign_at_e"]
