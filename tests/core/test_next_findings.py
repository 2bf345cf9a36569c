"""What to measure or ask next (issue 19), on the real engine and the committed bundle (app/core/next_findings.py).

The ranking is only as good as its variants: each "the request with this finding set to this value" must be
answered exactly as the engine answers that request when a doctor types it in, so the first tests hold the variant
batch (request columns copied and one cell changed, no rare ranking, no explanations) to full `diagnose` calls.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.contract import PREGNANCY_AGE
from app.core.engine import DiagnosisEngine
from app.core.next_findings import NextFindings, with_finding
from app.core.next_findings_variants import MAX_FINDINGS, MAX_IN_EMERGENCY, mixture_acute, outcomes, variant_cases
from app.core.probability import softmax
from app.core.vocabulary import STATES
from model_export import knowledge
from model_export.simulator import Simulator

# An adult with cough, fever and breathlessness whose saturation nobody measured yet (the first case).
RESPIRATORY: dict[str, Any] = {
    "age": 45, "sex": "M", "duration_days": 3, "symptoms": {"tos": 7, "fiebre": 8, "dificultad_respirar": 6},
    "vitals": {"temperature_c": 38.9, "heart_rate": 100, "respiratory_rate": 24, "systolic_bp": 125,
               "diastolic_bp": 80}}
# Already an emergency by a danger sign (SpO2 86 %).
EMERGENCY: dict[str, Any] = {**RESPIRATORY, "vitals": {**RESPIRATORY["vitals"], "spo2": 86}}
LEVELS = ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")
# Where a pressure and a pregnancy answer also move the input reading them together (features.pregnancy_pressure): late
# pregnancy without pressures, with one, after delivery, and a woman not yet asked whose pressure is high.
SEVERE_FEATURES = {"dolor_cabeza": 8, "cambios_vision": 5, "nausea": 3}
LATE_PREGNANCY: list[dict[str, Any]] = [
    {"age": 29, "sex": "F", "duration_days": 1, "symptoms": SEVERE_FEATURES,
     "pregnancy": {"status": "pregnant", "weeks": 34}},
    {"age": 29, "sex": "F", "symptoms": SEVERE_FEATURES, "vitals": {"systolic_bp": 150},
     "pregnancy": {"status": "pregnant", "weeks": 26}},
    {"age": 24, "sex": "F", "symptoms": SEVERE_FEATURES,
     "pregnancy": {"status": "postpartum", "days_since_delivery": 5}},
    {"age": 27, "sex": "F", "symptoms": SEVERE_FEATURES, "vitals": {"systolic_bp": 150, "diastolic_bp": 100}},
]


@pytest.fixture(scope="module")
def patients(engine: DiagnosisEngine) -> list[Any]:
    raw = Simulator(knowledge.load()).sample(150, seed=1901).requests
    return [engine.validate(r) for r in raw]


def _cond_p(engine: DiagnosisEngine, request: Any) -> np.ndarray:
    return softmax(engine.condition_model.scores(engine.features.expand(engine.features.raw_matrix([request]))))[0]


def test_each_variant_is_answered_as_diagnose_answers_it(engine: DiagnosisEngine, patients: list[Any]) -> None:
    checked = 0
    for request in [engine.validate(RESPIRATORY), engine.validate(EMERGENCY),
                    *(engine.validate(r) for r in LATE_PREGNANCY), *patients[:40]]:
        nf = engine.next_findings
        candidates = nf.candidates(request, _cond_p(engine, request), 0.5, floor=0.0)
        alert = engine.diagnose(request, next_findings=False)["rare_disease_alert"]
        got = nf.variant_outcomes(request, candidates, alert)  # the path `rank` takes
        # Its model columns (the request's, one input's rewritten) are exactly those the engine would expand.
        raw, changed = nf.variant_raw(request, candidates)
        base = engine.features.expand(raw[:1])
        assert np.array_equal(nf.expand_variants(base, raw, changed), engine.features.expand(raw))
        # And the columns-by-copy cases read as the variants' own requests would.
        cases = variant_cases(request, candidates)
        by_requests = outcomes(engine, [request, *(with_finding(request, c, v) for c in candidates
                                                   for v, _ in c.values)], np.full(cases.n, alert))
        assert np.array_equal(by_requests.level, got.level) and np.array_equal(by_requests.danger, got.danger)
        row = 1
        for c in candidates:
            for value, _ in c.values:
                full = engine.diagnose(with_finding(request, c, value), next_findings=False)
                if full["rare_disease_alert"] == alert:  # the variants hold the request's own rare alert
                    assert LEVELS[int(got.level[row])] == full["triage"]["level"], (c.finding, value)
                    assert STATES[int(got.state[row])] == full["severity"], (c.finding, value)
                    assert engine.condition_model.classes[int(got.top[row])] == full["top_conditions"][0]["code"]
                    checked += 1
                row += 1
    assert checked > 2000  # vitals, symptoms, signs and pregnancy of 46 requests


def test_a_respiratory_case_without_spo2_asks_for_spo2_first_and_86_makes_it_an_emergency(
        engine: DiagnosisEngine) -> None:
    answer = engine.diagnose(RESPIRATORY)
    assert answer["triage"]["level"] != "EMERGENCIA"
    first = answer["next_findings"][0]
    assert (first["finding"], first["kind"]) == ("spo2", "vital")
    assert "triage" in first["could_change"] and 0 < first["value_of_information"] <= 1
    assert "EMERGENCIA" in first["why"]["es"] and "emergency" in first["why"]["en"]
    # The vital's name in the middle of a sentence, as a doctor writes it (an acronym keeps its capitals).
    assert first["why"]["es"].startswith("Con saturación de oxígeno (SpO2) en "), first["why"]
    assert first["why"]["en"].startswith("With oxygen saturation (SpO2) at "), first["why"]
    entered = engine.diagnose(EMERGENCY)
    assert entered["triage"]["level"] == "EMERGENCIA"
    assert "spo2" not in [f["finding"] for f in entered["next_findings"]]


def test_an_emergency_lists_only_what_changes_management_and_says_so(engine: DiagnosisEngine,
                                                                     patients: list[Any]) -> None:
    answers = [engine.diagnose(EMERGENCY), *(a for a in engine.diagnose_many(patients)
                                             if a["triage"]["level"] == "EMERGENCIA")]
    assert len(answers) > 10
    for answer in answers:
        assert len(answer["next_findings"]) <= MAX_IN_EMERGENCY
        for item in answer["next_findings"]:
            assert item["why"]["es"].startswith("Ya es EMERGENCIA: no retrase la atención.")
            assert item["why"]["en"].startswith("Already an emergency: do not delay care.")
            assert "state" not in item["could_change"]  # an emergency's state is acute whatever is found
    assert any(answer["next_findings"] for answer in answers)


def test_never_a_finding_already_given_and_the_shape_holds(engine: DiagnosisEngine, patients: list[Any]) -> None:
    answers = engine.diagnose_many(patients)
    low, high = PREGNANCY_AGE
    for request, answer in zip(patients, answers, strict=True):
        items = answer["next_findings"]
        assert len(items) <= MAX_FINDINGS
        vois = [f["value_of_information"] for f in items]
        assert vois == sorted(vois, reverse=True) and all(0 < v <= 1 for v in vois)
        for f in items:
            assert set(f) == {"finding", "kind", "why", "could_change", "value_of_information"}
            assert f["could_change"] and set(f["could_change"]) <= {"triage", "state", "top_condition"}
            assert f["why"]["es"] and f["why"]["en"]
            given = {"vital": request.vitals, "symptom": request.symptoms, "sign": request.signs}.get(f["kind"])
            if given is not None:
                assert f["finding"] not in given, (f, request)
            else:
                assert f == {**f, "kind": "pregnancy", "finding": "pregnant"}
                assert request.pregnancy is None and request.sex == "F" and low <= request.age <= high
    assert sum(bool(a["next_findings"]) for a in answers) > 75
    assert {f["kind"] for a in answers for f in a["next_findings"]} >= {"vital", "symptom", "sign"}


def test_a_bundle_without_the_distributions_still_ranks(tmp_path: Path, bundle_dir: Path) -> None:
    """An older bundle (no findings.npz) loads, and its generic grids still put the danger first."""
    from model_export.export import write_manifest

    older = tmp_path / "older"
    shutil.copytree(bundle_dir, older)
    (older / "findings.npz").unlink()
    manifest = json.loads((older / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("findings", None)
    manifest.pop("files", None)
    write_manifest(older, manifest)
    engine = DiagnosisEngine.load(older)
    assert not engine.next_findings.dist.from_bundle
    answer = engine.diagnose(RESPIRATORY)
    assert "spo2" in [f["finding"] for f in answer["next_findings"]]
    assert engine.diagnose(EMERGENCY)["triage"]["level"] == "EMERGENCIA"


def test_the_committed_bundle_carries_the_distributions(engine: DiagnosisEngine) -> None:
    nf: NextFindings = engine.next_findings
    assert nf.dist.from_bundle
    assert "findings" in engine.bundle.manifest and "findings.npz" in engine.bundle.manifest["files"]
    # A pregnancy question is asked of a woman of childbearing age, never of a man or a child.
    woman = engine.diagnose({"age": 28, "sex": "F", "symptoms": {"dolor_abdominal": 7, "nausea": 5, "fatiga": 4}})
    man = engine.diagnose({"age": 28, "sex": "M", "symptoms": {"dolor_abdominal": 7, "nausea": 5, "fatiga": 4}})
    woman_candidates = nf.candidates(engine.validate({"age": 28, "sex": "F", "symptoms": {
        "dolor_abdominal": 7, "nausea": 5, "fatiga": 4}}), np.full(len(engine.condition_model.classes), 1.0))
    assert "pregnant" in [c.finding for c in woman_candidates]
    assert "pregnant" not in [f["finding"] for f in man["next_findings"]]
    assert woman["next_findings"]


def test_next_findings_can_be_left_out_for_throughput(engine: DiagnosisEngine) -> None:
    request = engine.validate(RESPIRATORY)
    assert engine.diagnose_many([request], next_findings=False)[0]["next_findings"] == []
    with_list = engine.diagnose_many([request])[0]
    without = engine.diagnose_many([request], next_findings=False)[0]
    assert {k: v for k, v in with_list.items() if k != "next_findings"} == \
        {k: v for k, v in without.items() if k != "next_findings"}


def test_a_symptom_is_tried_at_the_intensities_where_a_danger_sign_starts(engine: DiagnosisEngine) -> None:
    """Breathlessness is a danger sign from intensity 8 (red_flags: SEVERE_DYSPNEA): tried only at its mean
    intensity (about 5), it could never make the case an emergency; tried per slice of its intensities, it can."""
    request = engine.validate({"age": 45, "sex": "M", "duration_days": 3,
                               "symptoms": {"tos": 8, "fiebre": 8, "fatiga": 6}})
    nf = engine.next_findings
    candidates = {c.finding: c for c in nf.candidates(request, _cond_p(engine, request), 0.5, floor=0.0)}
    breathless = candidates["dificultad_respirar"]
    intensities = [v for v, _ in breathless.values]
    assert intensities == sorted(intensities) and len(intensities) >= 3
    assert any(v >= 8 for v in intensities) and any(v < 8 for v in intensities)
    # The slices' shares add up to the chance of having the symptom at all.
    d = nf.dist
    band = 3  # adults, 18-65
    acute = mixture_acute(0.5)  # the state model's 0.5, as the mixture weighs it
    w = np.concatenate([_cond_p(engine, request) * (1 - acute), _cond_p(engine, request) * acute])
    j = d.symptoms.index("dificultad_respirar")
    assert sum(p for _, p in breathless.values) == pytest.approx(float(w @ d.symptom_p[:, band, j]), abs=0.01)
    out = nf.variant_outcomes(request, [breathless], False)
    high = [k for k, v in enumerate(intensities) if v >= 8]
    assert all(out.level[1 + k] == 2 for k in high)


def test_every_intensity_threshold_of_the_rules_is_a_cut() -> None:
    """RULE_INTENSITY_CUTS must hold every `symptom >= N` the danger-sign rules read, or a danger sign in a
    symptom's tail would again be invisible to the ranking."""
    import re

    from app.core import next_findings_variants

    root = Path(next_findings_variants.__file__).parent
    source = (root / "red_flags_batch.py").read_text(encoding="utf-8") + (root / "scores.py").read_text(
        encoding="utf-8")
    found = {(key, int(n)) for key, n in re.findall(r'(?:s|symptom)\("(\w+)"\)\s*>=\s*(\d+)', source)}
    for keys, n in re.findall(r"max_symptom\(([^)]*)\)\s*>=\s*(\d+)", source):
        found |= {(key, int(n)) for key in re.findall(r'"(\w+)"', keys)}
    assert len(found) > 20
    for key, n in found:
        if n > 1:
            assert n in next_findings_variants.RULE_INTENSITY_CUTS.get(key, ()), (key, n)


def test_the_variants_model_scores_are_the_models_own(engine: DiagnosisEngine, patients: list[Any]) -> None:
    """The variants' scores are the request's plus the changed columns' weights (the models are additive): the same
    as running the two models on the variants' columns, to float32 precision, for every kind of finding."""
    nf = engine.next_findings
    assert nf._weights is not None  # the committed models are additive: the cheap path is the one measured
    kinds = set()
    for request in [engine.validate(RESPIRATORY), *(engine.validate(r) for r in LATE_PREGNANCY), *patients[:30]]:
        candidates = nf.candidates(request, _cond_p(engine, request), 0.3, floor=0.0)
        kinds |= {c.kind for c in candidates}
        raw, changed = nf.variant_raw(request, candidates)
        # The variants' raw inputs are those of the variants' own requests (a pressure moves two inputs in late
        # pregnancy, a pregnancy answer four).
        own = engine.features.raw_matrix([request, *(with_finding(request, c, v) for c in candidates
                                                     for v, _ in c.values)])
        assert np.allclose(raw, own, rtol=0, atol=1e-9, equal_nan=True)
        base = engine.features.expand(raw[:1])
        state, condition = nf.variant_scores(base, raw, changed)
        expanded = engine.features.expand(raw)
        assert np.abs(state - engine.state_model.scores(expanded)).max() < 1e-4
        assert np.abs(condition - engine.condition_model.scores(expanded)).max() < 1e-4
    assert kinds >= {"vital", "symptom", "sign", "pregnancy"}


def test_a_findings_file_without_intensity_spreads_still_loads(tmp_path: Path, bundle_dir: Path) -> None:
    """A bundle whose findings.npz predates `symptom_levels` reads every symptom at its mean intensity."""
    from model_export.export import write_manifest

    older = tmp_path / "older"
    shutil.copytree(bundle_dir, older)
    with np.load(older / "findings.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "symptom_levels"}
    with (older / "findings.npz").open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    manifest = json.loads((older / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("files", None)
    write_manifest(older, manifest)
    engine = DiagnosisEngine.load(older)
    d = engine.next_findings.dist
    assert d.from_bundle
    assert np.allclose(d.symptom_levels.sum(axis=-1), 1.0)
    mean = np.clip(np.rint(d.symptom_intensity), 1, 10)
    assert np.array_equal(np.argmax(d.symptom_levels, axis=-1) + 1, mean)
    assert engine.diagnose(RESPIRATORY)["next_findings"][0]["finding"] == "spo2"


def test_a_vitals_values_are_its_mixtures_quantiles(engine: DiagnosisEngine) -> None:
    """The values tried for a vital are the quantiles, at the grid's levels, of the mixture of the conditions'
    stored quantiles weighted by P(condition, state | case): the per-bundle table gives exactly what sorting the
    mixture's values one by one gives."""
    from app.core.next_findings_variants import GRID_LEVELS

    nf = engine.next_findings
    d = nf.dist
    columns = [j for _, j in nf._vitals]
    rng = np.random.default_rng(5)
    checked = 0
    for band in range(d.vital_q.shape[1]):
        table = nf._band[band][3]
        for concentration in (0.05, 1.0):
            w = rng.dirichlet(np.full(d.vital_q.shape[0], concentration))
            got = table.quantiles(w)
            for k, j in enumerate(columns):
                q = d.vital_q[:, band, j, :]
                low, high, scale = (limit[k, 0] for limit in nf._table_limits)  # z-scores: unwritten (format 2)
                written = np.rint(np.clip(q, low, high) * scale) / scale
                weight = np.where(np.isnan(written), 0.0, w[:, None])
                order = np.argsort(np.where(np.isnan(written), np.inf, written).ravel(), kind="stable")
                values, running = written.ravel()[order], np.cumsum(weight.ravel()[order])
                if running[-1] <= 0:
                    assert np.isnan(got[k]).all()
                    continue
                for level, value in zip(GRID_LEVELS, got[k], strict=True):
                    expected = values[np.searchsorted(running, level * running[-1])]
                    assert value == expected, (band, k, level)
                    checked += 1
    assert checked > 500


def test_a_batch_shares_one_batch_of_variants_and_gets_each_requests_own_list(engine: DiagnosisEngine,
                                                                              patients: list[Any]) -> None:
    """diagnose_many ranks the whole batch's variants together (RANK_CHUNK requests per call of the rules): each
    request still gets exactly the list it gets alone, across a chunk's edge too."""
    from app.core.next_findings_variants import RANK_CHUNK

    batch = patients[:RANK_CHUNK + 6]
    together = [a["next_findings"] for a in engine.diagnose_many(batch)]
    assert together == [engine.diagnose(request)["next_findings"] for request in batch]
    alerts = [engine.diagnose(r, next_findings=False)["rare_disease_alert"] for r in batch[:5]]
    assert engine.next_findings.rank_many(batch[:5], alerts) == [engine.next_findings.rank(r, a)
                                                                 for r, a in zip(batch[:5], alerts, strict=True)]
    assert sum(bool(t) for t in together) > 30
