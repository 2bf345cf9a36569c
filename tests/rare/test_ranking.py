"""Rare-disease ranking on the real index: textbook presentations, common ones, ontology matches, exclusions."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import rare
from app.core.contract import ContractError, DiagnoseRequest, validate_request
from app.core.rare import RareDiseaseRanker, hpo_id, intensity_weight
from model_export.simulator import Simulator

MARFAN = "ORPHA:558"
# A textbook Marfan syndrome: arachnodactyly, ectopia lentis, tall stature, aortic root aneurysm, mitral valve
# prolapse (Ghent nosology's cardinal features), as a doctor would enter them.
MARFAN_TERMS = ["HP:0001166", "HP:0001083", "HP:0000098", "HP:0002616", "HP:0001634"]
COLD = {"age": 30, "sex": "F", "duration_days": 2,
        "symptoms": {"congestion_nasal": 7, "dolor_garganta": 6, "tos": 5, "fiebre": 4, "dolor_cabeza": 3}}
DENGUE = {"age": 24, "sex": "M", "duration_days": 3,
          "symptoms": {"fiebre": 9, "dolor_cabeza": 8, "dolor_retroocular": 7, "dolor_muscular": 8,
                       "dolor_articular": 7, "erupcion_cutanea": 5, "nausea": 4, "vomito": 3},
          "vitals": {"temperature_c": 39.4}}


def request(terms: list[str] | tuple[str, ...] = (), symptoms: dict[str, int] | None = None) -> DiagnoseRequest:
    return DiagnoseRequest(30.0, "F", None, symptoms or {}, {}, tuple(terms))


def position(ranker: RareDiseaseRanker, orpha: str) -> int:
    return int(np.flatnonzero(ranker.disease_codes == int(orpha.split(":")[1]))[0])


def test_textbook_marfan_ranks_marfan_first_and_alerts(ranker: RareDiseaseRanker, kb):
    raw = {"age": 19, "sex": "M", "symptoms": {}, "hpo_terms": MARFAN_TERMS}
    req = validate_request(raw, kb.vocabulary(), ranker.known_terms())
    ranked = ranker.rank(req)
    codes = [e["orpha_code"] for e in ranked]
    assert MARFAN in codes[:10]
    assert codes[0] == MARFAN
    top = ranked[0]
    assert top["name"] == "Marfan syndrome"
    assert set(top["matched_terms"]) == set(MARFAN_TERMS) and top["unexplained_terms"] == []
    assert ranker.alert(ranked)


def test_entries_follow_the_contract(ranker: RareDiseaseRanker):
    ranked = ranker.rank(request(MARFAN_TERMS[:3], {"fatiga": 6}))
    assert 1 <= len(ranked) <= 10
    findings = {f.hpo for f in ranker.findings(request(MARFAN_TERMS[:3], {"fatiga": 6}))}
    for entry in ranked:
        assert set(entry) == {"orpha_code", "name", "score", "matched_terms", "unexplained_terms"}
        assert entry["orpha_code"].startswith("ORPHA:") and entry["name"]
        assert 0.0 <= entry["score"] <= 1.0
        assert set(entry["matched_terms"]) | set(entry["unexplained_terms"]) == findings
        assert not set(entry["matched_terms"]) & set(entry["unexplained_terms"])
    scores = [e["score"] for e in ranked]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) <= ranked.rare_probability + 1e-6
    assert ranker.rank(request(MARFAN_TERMS[:3], {"fatiga": 6})) == ranked  # deterministic


@pytest.mark.parametrize("case", [COLD, DENGUE], ids=["cold", "dengue"])
def test_common_presentations_do_not_alert(ranker: RareDiseaseRanker, kb, case):
    req = validate_request(case, kb.vocabulary(), ranker.known_terms())
    ranked = ranker.rank(req)
    assert not ranker.alert(ranked)
    assert ranked.rare_probability < 0.05


def test_simulated_clinic_patients_rarely_alert(ranker: RareDiseaseRanker, kb):
    sim = Simulator(kb).sample(300, seed=7)
    vocabulary = kb.vocabulary()
    alerts = sum(ranker.alert(ranker.rank(validate_request(r, vocabulary, ranker.known_terms())))
                 for r in sim.requests)
    assert alerts <= 3  # the budget is 1%; bench/rare.py measures it on 2,000


def test_a_plain_list_alerts_on_the_sum_of_its_scores():
    assert RareDiseaseRanker.alert([{"score": 0.5}, {"score": 0.25}])
    assert not RareDiseaseRanker.alert([{"score": 0.5}, {"score": 0.1}])
    assert not RareDiseaseRanker.alert([])


def test_symptom_intensity_weighs_the_finding(ranker: RareDiseaseRanker):
    assert intensity_weight(0) == intensity_weight(1) == 0.0
    assert 0.0 < intensity_weight(3) < intensity_weight(4) < intensity_weight(5) == intensity_weight(10) == 1.0
    findings = ranker.findings(request(["HP:0001166"], {"fiebre": 1, "convulsiones": 3, "tos": 8}))
    weights = {f.hpo: f.weight for f in findings}
    assert "HP:0001945" not in weights  # fever at 1: barely noticed, no evidence
    assert weights["HP:0001250"] == pytest.approx(0.5)
    assert weights["HP:0012735"] == weights["HP:0001166"] == 1.0


def test_a_symptom_and_its_own_hpo_term_are_one_finding(ranker: RareDiseaseRanker):
    findings = ranker.findings(request(["HP:0001250"], {"convulsiones": 3}))
    assert [f.hpo for f in findings] == ["HP:0001250"] and findings[0].weight == 1.0


def _lr(ranker: RareDiseaseRanker, term: str, disease: int) -> tuple[float, bool]:
    ev = ranker.evidence(request([term]))
    return float(np.exp(ev.log_ratio[0, disease])), bool(ev.explained[0, disease])


def test_a_general_finding_matches_a_specific_annotation_weighed_by_its_commonness(ranker: RareDiseaseRanker):
    marfan = position(ranker, MARFAN)
    exact_lr, exact_explained = _lr(ranker, "HP:0001083", marfan)  # ectopia lentis, annotated
    term = ranker._term_index[1083]
    parents = [int(t) for t in ranker._ancestors(term)]
    parent = max(parents, key=lambda t: -ranker.background[t])  # the most specific ancestor
    parent_lr, parent_explained = _lr(ranker, hpo_id(ranker.term_ids[parent]), marfan)
    organ_lr, _ = _lr(ranker, "HP:0000478", marfan)  # Abnormality of the eye
    assert exact_explained and parent_explained
    assert exact_lr > parent_lr > organ_lr > 1.0


def test_a_specific_finding_matches_a_general_annotation_nearly_fully(ranker: RareDiseaseRanker):
    marfan = position(ranker, MARFAN)
    s, e = ranker.dr_indptr, ranker.dr_disease
    annotated = {t for t in range(len(ranker.term_ids)) if marfan in set(e[s[t]:s[t + 1]].tolist())}
    closure = {t for t in range(len(ranker.term_ids))
               if marfan in set(ranker.cl_disease[ranker.cl_indptr[t]:ranker.cl_indptr[t + 1]].tolist())}
    # A term below one of Marfan's annotations that Marfan itself is not annotated with.
    child = next(t for t in range(len(ranker.term_ids))
                 if t not in closure and annotated & set(ranker._ancestors(t).tolist()))
    lr, explained = _lr(ranker, hpo_id(ranker.term_ids[child]), marfan)
    assert explained
    assert lr > rare.NOISE


def test_an_unrelated_finding_costs_a_constant_factor(ranker: RareDiseaseRanker):
    marfan = position(ranker, MARFAN)
    lr, explained = _lr(ranker, "HP:0002017", marfan)  # Nausea and vomiting: nothing of Marfan's
    assert not explained
    assert lr == pytest.approx(rare.NOISE, rel=0.05)  # a common complaint: the plain noise rate (test_noise.py)
    base = ranker.evidence(request(MARFAN_TERMS))
    noisy = ranker.evidence(request([*MARFAN_TERMS, "HP:0002017"]))
    assert int(np.argmax(noisy.log_likelihood)) == int(np.argmax(base.log_likelihood)) == marfan


def test_an_excluded_finding_is_penalised_below_noise(ranker: RareDiseaseRanker):
    # Orphanet: Tetragametic chimerism syndrome (ORPHA:199310) NOT Global developmental delay (HP:0001263).
    chimerism = position(ranker, "ORPHA:199310")
    lr, explained = _lr(ranker, "HP:0001263", chimerism)
    assert lr == pytest.approx(rare.EXCLUDED) and not explained
    assert lr < rare.NOISE
    # The exclusion covers more specific terms too (severe global developmental delay).
    term = ranker._term_index[1263]
    child = next(t for t in range(len(ranker.term_ids)) if term in set(ranker._ancestors(t).tolist()))
    child_lr, _ = _lr(ranker, hpo_id(ranker.term_ids[child]), chimerism)
    assert child_lr == pytest.approx(rare.EXCLUDED)
    # And it is the exclusion, not a missing annotation: a similar disease without it scores the finding higher.
    ev = ranker.evidence(request(["HP:0001263"]))
    assert np.median(np.exp(ev.log_ratio[0])) > lr


def test_known_terms(ranker: RareDiseaseRanker, kb):
    known = ranker.known_terms()
    assert "HP:0001166" in known and "HP:0000118" in known
    assert "HP:0001505" in known  # an alternative id of Arachnodactyly
    assert all(s["hpo"] in known for s in kb.symptoms)
    assert "HP:0000006" not in known  # Autosomal dominant inheritance: not a phenotypic abnormality
    assert "HP:0000001" not in known and "HP:9999999" not in known
    raw = {"age": 5, "sex": "F", "hpo_terms": ["HP:0001166", "HP:0001083", "HP:0000006"]}
    with pytest.raises(ContractError) as err:
        validate_request(raw, kb.vocabulary(), known)
    assert err.value.code == "unknown_hpo_term" and err.value.field == "hpo_terms[2]"
    # An alternative id scores like its current term.
    alt = ranker.rank(request(["HP:0001505", "HP:0001083", "HP:0000098"]))
    cur = ranker.rank(request(["HP:0001166", "HP:0001083", "HP:0000098"]))
    assert [e["orpha_code"] for e in alt] == [e["orpha_code"] for e in cur]


def test_no_findings_no_list(ranker: RareDiseaseRanker):
    ranked = ranker.rank(request([], {"fiebre": 1, "tos": 1, "fatiga": 1}))
    assert ranked == [] and not ranker.alert(ranked)


def test_metadata_for_the_about_box(ranker: RareDiseaseRanker):
    assert ranker.version == "2025-01-16"
    assert "Orphanet" in ranker.attribution["orphanet"]
    assert "Human Phenotype Ontology" in ranker.attribution["hpo"]
