"""Findings the doctor looked for and found absent (`excluded_hpo_terms`): the contract, the ranking and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from app.core import rare
from app.core.contract import MAX_HPO_TERMS, ContractError, DiagnoseRequest, validate_request
from app.core.rare import RareDiseaseRanker

MARFAN = "ORPHA:558"
TALL, AORTIC_ROOT, MITRAL_PROLAPSE = "HP:0000098", "HP:0002616", "HP:0001634"
ARACHNODACTYLY = "HP:0001166"  # nearly every Marfan patient has it (Orphanet "very frequent")
PRESENT = (TALL, AORTIC_ROOT, MITRAL_PROLAPSE)


def request(terms: tuple[str, ...], excluded: tuple[str, ...] = ()) -> DiagnoseRequest:
    return DiagnoseRequest(30.0, "F", None, {}, {}, terms, excluded_hpo_terms=excluded)


def position(ranker: RareDiseaseRanker, orpha: str) -> int:
    return ranker.disease_position[int(orpha.split(":")[1])]


def shown(ranker: RareDiseaseRanker, term: str, orpha: str) -> float:
    """The index's frequency of `term` (at or below) for the disease: p_D(h) of the absent-finding ratio."""
    t = ranker._term_index[int(term[3:])]
    s, e = ranker._freq_indptr[t], ranker._freq_indptr[t + 1]
    hit = np.flatnonzero(ranker._freq_disease[s:e] == position(ranker, orpha))
    return float(ranker._freq[s + hit[0]]) if len(hit) else 0.0


# The contract ----------------------------------------------------------------------------------------------------

def test_contract_accepts_excluded_terms_and_keeps_them_out_of_the_finding_count(kb, ranker):
    raw = {"age": 19, "sex": "M", "hpo_terms": list(PRESENT), "excluded_hpo_terms": [" hp:0001166 ", ARACHNODACTYLY]}
    req = validate_request(raw, kb.vocabulary(), ranker.known_terms())
    assert req.excluded_hpo_terms == (ARACHNODACTYLY,)
    assert req.to_json()["excluded_hpo_terms"] == [ARACHNODACTYLY]
    assert validate_request(req.to_json(), kb.vocabulary(), ranker.known_terms()) == req  # a stored request
    # Without the field nothing changes in the stored form (older records and clients).
    plain = validate_request({"age": 19, "sex": "M", "hpo_terms": list(PRESENT)}, kb.vocabulary())
    assert plain.excluded_hpo_terms == () and "excluded_hpo_terms" not in plain.to_json()
    # Two present findings and three absent ones are still too few findings.
    with pytest.raises(ContractError) as err:
        validate_request({"age": 19, "sex": "M", "hpo_terms": list(PRESENT[:2]),
                          "excluded_hpo_terms": [ARACHNODACTYLY, "HP:0001083", "HP:0001519"]}, kb.vocabulary())
    assert err.value.code == "too_few_findings" and err.value.params["count"] == 2


@pytest.mark.parametrize(
    ("excluded", "code", "field"),
    [
        (["HP:12"], "invalid_hpo_term", "excluded_hpo_terms[0]"),
        ([ARACHNODACTYLY, 7], "invalid_hpo_term", "excluded_hpo_terms[1]"),
        (["HP:9999999"], "unknown_hpo_term", "excluded_hpo_terms[0]"),
        ("HP:0001166", "wrong_type", "excluded_hpo_terms"),
        ([f"HP:{i:07d}" for i in range(MAX_HPO_TERMS + 1)], "too_many_excluded_hpo_terms", "excluded_hpo_terms"),
        ([TALL], "present_and_excluded", "excluded_hpo_terms[0]"),
    ],
)
def test_contract_refuses_bad_excluded_terms(kb, ranker, excluded, code, field):
    raw = {"age": 19, "sex": "M", "hpo_terms": list(PRESENT), "excluded_hpo_terms": excluded}
    with pytest.raises(ContractError) as err:
        validate_request(raw, kb.vocabulary(), ranker.known_terms())
    assert err.value.code == code and err.value.field == field
    assert err.value.message("es") and err.value.message("en")


def test_a_symptom_entered_and_its_term_marked_absent_is_refused(kb):
    fever = kb.vocabulary().symptom("fiebre").hpo
    raw = {"age": 19, "sex": "M", "symptoms": {"fiebre": 5, "tos": 5, "nausea": 5}, "excluded_hpo_terms": [fever]}
    with pytest.raises(ContractError) as err:
        validate_request(raw, kb.vocabulary())
    assert err.value.code == "present_and_excluded"
    assert "presente y como ausente" in err.value.message("es") and "present and as absent" in err.value.message("en")


# The ranking -----------------------------------------------------------------------------------------------------

def test_without_excluded_terms_the_ranking_is_the_same_path(ranker):
    plain = DiagnoseRequest(30.0, "F", None, {"fatiga": 6}, {}, PRESENT)  # as every caller built it before
    empty = DiagnoseRequest(30.0, "F", None, {"fatiga": 6}, {}, PRESENT, excluded_hpo_terms=())
    assert ranker.findings(empty) == ranker.findings(plain)
    assert not any(f.absent for f in ranker.findings(plain))
    assert ranker.rank(empty) == ranker.rank(plain)
    assert ranker.rank(empty).rare_probability == ranker.rank(plain).rare_probability
    assert np.array_equal(ranker.evidence(empty).log_likelihood, ranker.evidence(plain).log_likelihood)


def test_an_absent_obligate_manifestation_sinks_marfan(ranker):
    assert shown(ranker, ARACHNODACTYLY, MARFAN) > 0.9
    before = ranker.rank(request(PRESENT), top=50)
    after = ranker.rank(request(PRESENT, (ARACHNODACTYLY,)), top=50)
    codes_before = [e["orpha_code"] for e in before]
    codes_after = [e["orpha_code"] for e in after]
    assert codes_before[0] == MARFAN
    assert codes_after[0] != MARFAN and codes_after.index(MARFAN) > codes_before.index(MARFAN)
    score = {e["orpha_code"]: e["score"] for e in after}
    assert score[MARFAN] < {e["orpha_code"]: e["score"] for e in before}[MARFAN] / 1.5
    for ranked in (before, after):
        assert 0.0 <= ranked.rare_probability <= 1.0
        assert all(0.0 <= e["score"] <= 1.0 for e in ranked)
        assert sum(e["score"] for e in ranked) <= ranked.rare_probability + 1e-6
    for entry in after:  # the absent finding is neither matched nor unexplained
        assert ARACHNODACTYLY not in entry["matched_terms"] + entry["unexplained_terms"]
        assert set(entry["matched_terms"]) | set(entry["unexplained_terms"]) == set(PRESENT)


def test_the_absent_ratio_follows_the_formula(ranker):
    with_absent = ranker.evidence(request(PRESENT, (ARACHNODACTYLY,)))
    without = ranker.evidence(request(PRESENT))
    t = ranker._term_index[int(ARACHNODACTYLY[3:])]
    p0 = float(ranker.background[t])
    d = position(ranker, MARFAN)
    p = shown(ranker, ARACHNODACTYLY, MARFAN)
    expected = np.log((1 - (1 - rare.NOISE) * p) / (1 - (1 - rare.NOISE) * p0)) + np.log(1 - p0)
    assert with_absent.log_likelihood[d] - without.log_likelihood[d] == pytest.approx(expected, abs=1e-9)
    assert with_absent.findings[-1].absent and with_absent.findings[-1].hpo == ARACHNODACTYLY
    assert not with_absent.explained[-1].any()
    # A disease that does not reach the term gains a little (its absence was to be expected).
    unrelated = int(np.flatnonzero(with_absent.log_ratio[-1] == with_absent.log_ratio[-1].max())[0])
    assert shown(ranker, ARACHNODACTYLY, f"ORPHA:{ranker.disease_codes[unrelated]}") == 0.0
    assert with_absent.log_ratio[-1, unrelated] == pytest.approx(-np.log(1 - (1 - rare.NOISE) * p0))


def test_a_disease_for_which_orphanet_excludes_the_finding_gets_ratio_one(ranker):
    excluded_terms = np.flatnonzero(np.diff(ranker.ex_indptr) > 0)
    t = int(excluded_terms[0])
    diseases = ranker.ex_disease[ranker.ex_indptr[t]:ranker.ex_indptr[t + 1]]
    hpo = rare.hpo_id(ranker.term_ids[t])
    ev = ranker.evidence(request(PRESENT, (hpo,)))
    assert np.all(ev.log_ratio[-1, diseases] == 0.0)
    others = np.setdiff1d(np.arange(ranker.n_diseases), diseases)
    assert np.any(ev.log_ratio[-1, others] != 0.0)


def test_present_and_absent_rows_of_one_term_are_cached_apart(ranker):
    absent = ranker.rank(request(PRESENT, (ARACHNODACTYLY,)))
    present = ranker.rank(request((*PRESENT, ARACHNODACTYLY)))
    assert present[0]["orpha_code"] == MARFAN and ARACHNODACTYLY in present[0]["matched_terms"]
    assert ranker.rank(request(PRESENT, (ARACHNODACTYLY,))) == absent  # after the present rows were cached
    assert absent[0]["orpha_code"] != MARFAN


def test_rank_batch_with_absent_findings_equals_rank(ranker):
    requests = [request(PRESENT, (ARACHNODACTYLY,)), request(PRESENT), request((ARACHNODACTYLY, TALL, "HP:0001083")),
                request((TALL, AORTIC_ROOT, "HP:0001083"), (ARACHNODACTYLY, MITRAL_PROLAPSE)),
                DiagnoseRequest(30.0, "M", None, {"fiebre": 8, "tos": 6}, {}, (TALL,), excluded_hpo_terms=(
                    AORTIC_ROOT,))]
    batch = ranker.rank_batch(requests)
    for req, ranked in zip(requests, batch, strict=True):
        one = ranker.rank(req)
        assert one == ranked and one.rare_probability == ranked.rare_probability


def test_the_cli_reads_excluded_terms_from_the_json():
    def diagnose(payload: dict) -> dict:
        p = subprocess.run([sys.executable, "-m", "app.cli", "diagnose", "--input", "-"], input=json.dumps(payload),
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    case = {"age": 19, "sex": "M", "hpo_terms": list(PRESENT)}
    before = diagnose(case)
    after = diagnose({**case, "excluded_hpo_terms": [ARACHNODACTYLY]})
    assert before["rare_diseases"][0]["orpha_code"] == MARFAN
    assert after["rare_diseases"][0]["orpha_code"] != MARFAN
    assert all(ARACHNODACTYLY not in e["matched_terms"] + e["unexplained_terms"] for e in after["rare_diseases"])
    p = subprocess.run([sys.executable, "-m", "app.cli", "--lang", "en", "diagnose", "--input", "-"],
                       input=json.dumps({**case, "excluded_hpo_terms": [TALL]}), capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and "present and as absent" in p.stderr


def test_the_service_reads_excluded_terms(tmp_path):
    """/v1/predict on a real `vereda-server serve`: the field is accepted, ranks, and its errors are the contract's."""
    import requests

    from tests.server.helpers import Server

    server = Server(f"sqlite:///{tmp_path / 'vereda-server.db'}", tmp_path)
    try:
        case = {"age": 19, "sex": "M", "hpo_terms": list(PRESENT)}
        before = requests.post(f"{server.url}/v1/predict", json=case, timeout=60)
        after = requests.post(f"{server.url}/v1/predict", json={**case, "excluded_hpo_terms": [ARACHNODACTYLY]},
                              timeout=60)
        refused = requests.post(f"{server.url}/v1/predict?lang=en", json={**case, "excluded_hpo_terms": [TALL]},
                                timeout=60)
        spec = requests.get(f"{server.url}/openapi.json", timeout=60).json()
    finally:
        server.stop()
    assert before.status_code == 200 and after.status_code == 200, (before.text, after.text)
    assert before.json()["rare_diseases"][0]["orpha_code"] == MARFAN
    rare_after = after.json()["rare_diseases"]
    assert rare_after[0]["orpha_code"] != MARFAN
    assert all(ARACHNODACTYLY not in e["matched_terms"] + e["unexplained_terms"] for e in rare_after)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("present_and_excluded", "excluded_hpo_terms[0]")
    assert "present and as absent" in error["message"]
    assert "excluded_hpo_terms" in spec["paths"]["/v1/predict"]["post"]["requestBody"]["description"]
