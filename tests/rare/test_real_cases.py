"""The real-case check of issue 18: bench/data/rare_real_cases.jsonl fits the shipped index (every disease ranked,
every term known, every case sourced, no patient twice), and the loader refuses a malformed file naming the line."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from app.core.bundle import shipped_bundle_dir
from app.core.rare import RareDiseaseRanker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_rare", ROOT / "bench" / "rare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_rare"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped() -> RareDiseaseRanker:
    return RareDiseaseRanker.load(shipped_bundle_dir())


def good_line(**changes: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": "case-1", "orpha_code": "ORPHA:558", "disease_name": "Marfan syndrome",
        "hpo_terms": ["HP:0001166", "HP:0000545"], "excluded_terms": [], "age_years": 20, "sex": "M",
        "source": {"kind": "article", "ref": "PMID:1"}}
    line.update(changes)
    return line


def write(tmp_path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_shipped_real_cases_fit_the_shipped_index(bench: ModuleType, shipped: RareDiseaseRanker) -> None:
    cases = bench.load_real_cases()
    assert len(cases) >= 40
    assert bench.real_case_problems(cases, shipped) == []
    raw_lines = {json.loads(line)["id"]: json.loads(line)
                 for line in bench.REAL_CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()}
    for case in cases:
        # Every case traceable to the file it was read from: repository, path and commit.
        source = case.source
        assert source["kind"] == "repository"
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", source["repo"]) and re.fullmatch(r"[0-9a-f]{40}", source["commit"])
        assert source["ref"] == f"{source['repo']}/{source['path']}@{source['commit']}", case.id
        assert source.get("case"), case.id
        assert raw_lines[case.id]["mapping"], case.id  # how the disease was mapped to Orphanet
        assert len(case.terms) >= 2, case.id
    # The mapping to Orphanet kept the disease names of the index.
    names = {int(c): str(n) for c, n in zip(shipped.disease_codes, shipped.disease_names, strict=True)}
    assert all(names[c.orpha] == c.disease_name for c in cases)
    # Never the independent collection kept for the lead's own check.
    text = (ROOT / "bench" / "data" / "rare_real_cases.jsonl").read_text(encoding="utf-8")
    assert "phenopacket-store" not in text


@pytest.mark.parametrize(("bad", "message"), [
    ("{not json", "not JSON"),
    (good_line(orpha_code="558"), "orpha_code"),
    (good_line(hpo_terms=["HP:123"]), "hpo_terms"),
    (good_line(hpo_terms=[]), "empty"),
    (good_line(excluded_terms=["HP:0001166"]), "both present and excluded"),
    (good_line(source={"kind": "blog", "ref": "x"}), "source"),
    (good_line(source=None), "source"),
    (good_line(sex="female"), "sex"),
    (good_line(age_years=-1), "age_years"),
    (good_line(id="case-0"), "duplicate id"),
])
def test_a_malformed_line_is_refused_naming_its_line(bench: ModuleType, tmp_path: Path, bad: Any,
                                                     message: str) -> None:
    path = write(tmp_path, [good_line(id="case-0"), bad])
    with pytest.raises(bench.RealCasesError, match=rf"line 2: .*{message}"):
        bench.load_real_cases(path)


def test_a_well_formed_file_loads(bench: ModuleType, tmp_path: Path) -> None:
    cases = bench.load_real_cases(write(tmp_path, [good_line(), "", good_line(id="case-2", sex=None)]))
    assert [c.id for c in cases] == ["case-1", "case-2"]
    assert cases[0].orpha == 558 and cases[0].terms == ("HP:0001166", "HP:0000545") and cases[0].age_years == 20.0


def test_cases_the_index_cannot_take_are_named(bench: ModuleType, tmp_path: Path, shipped: RareDiseaseRanker) -> None:
    missing = int(max(shipped.disease_codes)) + 1
    cases = bench.load_real_cases(write(tmp_path, [
        good_line(),
        good_line(id="same-patient"),
        good_line(id="no-disease", orpha_code=f"ORPHA:{missing}"),
        good_line(id="unknown-term", hpo_terms=["HP:0001166", "HP:0000006"]),  # an inheritance mode, not a finding
    ]))
    problems = bench.real_case_problems(cases, shipped)
    assert any(p.startswith("same-patient: same disease and terms as case-1") for p in problems)
    assert any(p.startswith(f"no-disease: ORPHA:{missing} is not a disease") for p in problems)
    assert any(p.startswith("unknown-term:") and "HP:0000006" in p for p in problems)
    with pytest.raises(bench.RealCasesError, match="do not fit the index"):
        bench.real_cases(shipped, None, cases, np.random.default_rng(0))


def test_real_case_ranks_are_those_of_the_ranker(bench: ModuleType, shipped: RareDiseaseRanker) -> None:
    cases = bench.load_real_cases()[:8]
    out = bench.real_cases(shipped, None, cases, np.random.default_rng(0))
    assert out["cases"] == 8 and "peer" not in out
    for case in cases:
        listed = [d["orpha_code"] for d in shipped.rank(bench.real_case_request(case), top=10)]
        rank = out["ranks"][case.id]["vereda"]
        # The bench's rank agrees with the list the app shows (it counts ties pessimistically, so it may only be
        # worse than the list's position).
        if rank == 1:
            assert listed[0] == f"ORPHA:{case.orpha}"
        if rank <= 10:
            assert listed.index(f"ORPHA:{case.orpha}") + 1 <= rank
        assert 1 <= out["ranks"][case.id]["vereda_lenient"] <= rank  # any of the source's codes, so never worse
