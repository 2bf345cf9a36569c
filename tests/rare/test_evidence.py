"""Few-shot evidence (issue 18): `python -m model_export rare-evidence` makes a signed bundle that `vereda diagnose`
uses; confirmed cases lift their disease, malformed evidence is refused, diseases without evidence are untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.bundle import shipped_bundle_dir
from app.core.contract import DiagnoseRequest
from app.core.rare import RARE_PRIOR, RareDiseaseRanker, RareIndexError
from app.core.rare_evidence import PREVALENCE_PSEUDO_CASES, DiseaseEvidence
from model_export.rare_evidence import evidence_from_feedback

ROOT = Path(__file__).resolve().parents[2]
VEREDA = Path(sys.executable).parent / "vereda"
MARFAN = 558
# Two confirmed Marfan cases: arachnodactyly and myopia (both annotated), and seizures (not annotated to Marfan).
CASES = [
    {"orpha_code": "ORPHA:558", "hpo_terms": ["HP:0001166", "HP:0000545", "HP:0001250"], "excluded_terms": []},
    {"orpha_code": "ORPHA:558", "hpo_terms": ["HP:0001166", "HP:0001250"], "excluded_terms": ["HP:0001083"]},
]
PATIENT = {"age": 20, "sex": "M", "symptoms": {}, "hpo_terms": ["HP:0001166", "HP:0000545", "HP:0001250"]}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def make_bundle(tmp: Path, lines: list[str], name: str = "with_evidence") -> subprocess.CompletedProcess[str]:
    confirmed = tmp / f"{name}.jsonl"
    confirmed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run(sys.executable, "-m", "model_export", "rare-evidence", "--confirmed", str(confirmed),
               "--bundle", str(shipped_bundle_dir()), "--out", str(tmp / name))


def diagnose(bundle: Path, tmp: Path) -> list[str]:
    request = tmp / "patient.json"
    request.write_text(json.dumps(PATIENT), encoding="utf-8")
    done = run(str(VEREDA), "diagnose", "--input", str(request), "--bundle", str(bundle))
    assert done.returncode == 0, done.stderr
    return [e["orpha_code"] for e in json.loads(done.stdout)["rare_diseases"]]


@pytest.fixture(scope="module")
def evidence_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("evidence")
    done = make_bundle(tmp, [json.dumps(c) for c in CASES])
    assert done.returncode == 0, done.stderr
    return tmp / "with_evidence"


def test_confirmed_cases_lift_their_disease_through_the_cli(evidence_bundle: Path, tmp_path: Path) -> None:
    from app.core.signing import load_public_key, verify_bundle

    verify_bundle(evidence_bundle, load_public_key(ROOT / "assets" / "keys" / "dev-public.pem"))
    manifest = json.loads((evidence_bundle / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rare_evidence"]["cases"] == 2 and "rare_evidence.json" in manifest["files"]
    without = diagnose(shipped_bundle_dir(), tmp_path)
    with_evidence = diagnose(evidence_bundle, tmp_path)
    assert with_evidence[0] == "ORPHA:558"
    assert "ORPHA:558" not in without[:1]  # the same bundle without the cases does not put Marfan first


@pytest.mark.parametrize(("lines", "message"), [
    ([json.dumps(CASES[0]), '{"orpha_code": "ORPHA:558", "hpo_terms": ['], ":2: not valid JSON"),
    (['{"orpha_code": "ORPHA:99999999", "hpo_terms": ["HP:0001166"]}'], ":1: ORPHA:99999999 is not one of"),
    (['{"orpha_code": "558", "hpo_terms": ["HP:0001166"]}'], ":1: orpha_code '558' is not an Orphanet code"),
    (['{"orpha_code": "ORPHA:558", "hpo_terms": ["HP:0001166", "HP:0000001"]}'], ":1: hpo_terms: HP:0000001 not"),
    (['{"orpha_code": "ORPHA:558", "hpo_terms": []}'], ":1: hpo_terms is empty"),
])
def test_malformed_confirmed_cases_are_refused_naming_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    done = make_bundle(tmp_path, lines, "bad")
    assert done.returncode == 1
    error = json.loads(done.stderr)["error"]
    assert error["code"] == "evidence_error" and message in error["message"], error
    assert not (tmp_path / "bad").exists()  # nothing half-made is left behind


def test_bundle_with_malformed_evidence_is_refused_at_load(evidence_bundle: Path, tmp_path: Path) -> None:
    import shutil

    from model_export.export import write_manifest

    broken = tmp_path / "broken"
    shutil.copytree(evidence_bundle, broken)
    data = json.loads((broken / "rare_evidence.json").read_text(encoding="utf-8"))
    data["diseases"]["ORPHA:558"]["hpo_terms"]["HP:0000001"] = 1  # "All": not a phenotypic abnormality
    (broken / "rare_evidence.json").write_text(json.dumps(data), encoding="utf-8")
    manifest = json.loads((broken / "manifest.json").read_text(encoding="utf-8"))
    write_manifest(broken, manifest)  # the files match the manifest: only the evidence is wrong
    request = tmp_path / "patient.json"
    request.write_text(json.dumps(PATIENT), encoding="utf-8")
    done = run(str(VEREDA), "diagnose", "--input", str(request), "--bundle", str(broken))
    assert done.returncode != 0
    error = json.loads(done.stderr)["error"]
    assert error["code"] == "bundle_error"
    assert "malformed few-shot evidence" in error["message"] and "HP:0000001" in error["message"]
    (broken / "rare_evidence.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RareIndexError, match=r"rare_evidence\.json is not readable JSON"):
        RareDiseaseRanker.load(broken)


def test_diseases_without_evidence_score_exactly_as_before(ranker: RareDiseaseRanker) -> None:
    evidence = [DiseaseEvidence(558, 2, {"HP:0001166": 2, "HP:0001250": 2}, {}),
                DiseaseEvidence(int(ranker.disease_codes[100]), 1, {"HP:0000252": 1}, {"HP:0001250": 1})]
    learnt = ranker.with_evidence(evidence)
    changed = {ranker.disease_position[e.orpha] for e in evidence}
    others = np.array([d not in changed for d in range(ranker.n_diseases)])
    rng = np.random.default_rng(18)
    annotated = ranker.term_ids[np.diff(ranker.cl_indptr) > 0]
    for _ in range(100):
        terms = tuple(f"HP:{int(t):07d}" for t in rng.choice(annotated, size=int(rng.integers(1, 8)), replace=False))
        request = DiagnoseRequest(30.0, "F", None, {}, {}, terms)
        before = ranker.evidence(request).log_likelihood
        after = learnt.evidence(request).log_likelihood
        assert np.array_equal(before[others], after[others])


def test_excluded_terms_of_confirmed_cases_lower_the_disease(ranker: RareDiseaseRanker) -> None:
    request = DiagnoseRequest(20.0, "M", None, {}, {}, ("HP:0001166", "HP:0001083", "HP:0000545"))
    d = ranker.disease_position[MARFAN]
    plain = ranker.with_evidence([DiseaseEvidence(MARFAN, 2, {"HP:0001166": 2}, {})])
    excluding = ranker.with_evidence([DiseaseEvidence(MARFAN, 2, {"HP:0001166": 2}, {"HP:0001083": 2})])
    assert excluding.evidence(request).log_likelihood[d] < plain.evidence(request).log_likelihood[d]


def test_retrain_feeds_orpha_feedback_as_evidence(ranker: RareDiseaseRanker) -> None:
    records = [
        {"uuid": "a", "confirmed_diagnosis": "ORPHA:558",
         "request": {"symptoms": {"fatiga": 6, "tos": 1}, "hpo_terms": ["HP:0001166"]}},
        {"uuid": "b", "confirmed_diagnosis": "ORPHA:558", "request": {"symptoms": {}, "hpo_terms": ["HP:0001166"]}},
        {"uuid": "c", "confirmed_diagnosis": "ORPHA:99999999", "request": {"hpo_terms": ["HP:0001166"]}},
        {"uuid": "d", "confirmed_diagnosis": "J11", "request": {"symptoms": {"fiebre": 9}}},
    ]
    diseases, skipped = evidence_from_feedback(records, ranker)
    assert len(diseases) == 1 and diseases[0].orpha == MARFAN and diseases[0].cases == 2
    fatigue = f"HP:{int(ranker.term_ids[ranker.vocab['fatiga']]):07d}"
    assert diseases[0].present == {"HP:0001166": 2, fatigue: 1}  # "tos" at intensity 1 is no evidence
    assert len(skipped) == 1 and "ORPHA:99999999" in skipped[0]


def test_confirmed_cases_raise_their_disease_prior_by_the_jeffreys_rule(ranker: RareDiseaseRanker) -> None:
    """One confirmed case triples a disease's prior, two multiply it by five (Dirichlet(1/2) over the diseases); the
    priors still add up to RARE_PRIOR, so P(some rare disease) is a proper posterior, and diseases without evidence
    keep their order among themselves."""
    other = int(ranker.disease_codes[100])
    learnt = ranker.with_evidence([DiseaseEvidence(MARFAN, 1, {"HP:0001166": 1}, {}),
                                   DiseaseEvidence(other, 2, {"HP:0000252": 2}, {})])
    assert learnt.log_disease_prior is not None
    m, o = ranker.disease_position[MARFAN], ranker.disease_position[other]
    assert learnt.log_disease_prior[m] == pytest.approx(np.log(3.0))
    assert learnt.log_disease_prior[o] == pytest.approx(np.log(5.0))
    assert np.count_nonzero(learnt.log_disease_prior) == 2
    k, a = ranker.n_diseases, PREVALENCE_PSEUDO_CASES
    prior = np.exp(learnt._log_prior_rare + learnt.log_disease_prior)
    assert prior.sum() == pytest.approx(RARE_PRIOR, rel=1e-9)
    assert prior[m] == pytest.approx(RARE_PRIOR * (a + 1) / (k * a + 3), rel=1e-9)

    request = DiagnoseRequest(20.0, "M", None, {}, {}, ("HP:0001250", "HP:0000252", "HP:0001263"))
    plain, with_prior = ranker.evidence(request), learnt.evidence(request)
    assert np.allclose(with_prior.ranking_score - with_prior.log_likelihood, learnt.log_disease_prior, atol=1e-9)
    assert np.array_equal(plain.ranking_score, plain.log_likelihood)  # no evidence: ranked by the likelihood
    others = np.ones(ranker.n_diseases, dtype=bool)
    others[[m, o]] = False
    assert np.array_equal(np.argsort(plain.ranking_score[others], kind="stable"),
                          np.argsort(with_prior.ranking_score[others], kind="stable"))
    # The listed diseases follow the ranking score, and their posteriors include the raised prior.
    ranked = learnt.rank(request, top=4281)
    position = [e["orpha_code"] for e in ranked].index(f"ORPHA:{other}")
    assert position < [e["orpha_code"] for e in ranker.rank(request, top=4281)].index(f"ORPHA:{other}")
