"""The fast `next_findings` (issue 19's speed-up) gives exactly the lists of the algorithm it replaced.

`tests/core/reference_next_findings.py` is a frozen copy of the ranking as it was before (one Python pass per
request: candidates, its variants' columns and model scores, every danger-sign rule on every variant). The
ranking the engine runs must give the same findings, in the same order, with the same values of information and the
same texts, on a few hundred simulated requests of every age band, both as the service sees them (whole cases) and
as a doctor starts (three complaints, nothing measured: the most candidates), alone and in batches, with the
list's default floor and limit and with the benchmark's (no floor, no limit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.core import red_flags, red_flags_batch
from app.core.engine import DiagnosisEngine
from app.core.finding_distributions import BAND_UPPER, age_band
from app.core.next_findings_rules import RuleSubsets, rule_inputs
from app.core.next_findings_variants import outcomes, variant_cases
from app.core.probability import softmax
from model_export import knowledge
from model_export.simulator import Simulator
from tests.core.reference_next_findings import ReferenceNextFindings

PER_BAND = 120  # whole cases per age band; as many again started from three complaints


def _three_complaints(request: dict[str, Any]) -> dict[str, Any]:
    """bench/next_findings.py's starting point: the three strongest complaints, nothing measured or examined."""
    strongest = sorted(request.get("symptoms", {}).items(), key=lambda kv: -kv[1])[:3]
    out = {k: request[k] for k in ("age", "sex", "duration_days") if k in request}
    return {**out, "symptoms": dict(strongest)}


@pytest.fixture(scope="module")
def requests_by_band(engine: DiagnosisEngine) -> dict[int, list[Any]]:
    raw = Simulator(knowledge.load()).sample(4000, seed=1977).requests
    by_band: dict[int, list[Any]] = {b: [] for b in range(len(BAND_UPPER))}
    for r in raw:
        band = by_band[age_band(float(r["age"]))]
        if len(band) < 2 * PER_BAND:
            band.append(engine.validate(r))
            started = _three_complaints(r)
            if len(started["symptoms"]) == 3:
                band.append(engine.validate(started))
    return by_band


@pytest.fixture(scope="module")
def reference(engine: DiagnosisEngine) -> ReferenceNextFindings:
    return ReferenceNextFindings(engine)


def _assert_same(got: list[dict[str, Any]], expected: list[dict[str, Any]], where: Any) -> None:
    assert [(f["finding"], f["kind"]) for f in got] == [(f["finding"], f["kind"]) for f in expected], where
    for g, e in zip(got, expected, strict=True):
        assert g["value_of_information"] == pytest.approx(e["value_of_information"], abs=1e-9), (where, g, e)
        assert {k: v for k, v in g.items() if k != "value_of_information"} == \
            {k: v for k, v in e.items() if k != "value_of_information"}, where


def test_every_age_band_is_covered(requests_by_band: dict[int, list[Any]]) -> None:
    for band, requests in requests_by_band.items():
        assert len(requests) >= 150, (band, len(requests))


def test_a_batch_gives_the_reference_lists(engine: DiagnosisEngine, reference: ReferenceNextFindings,
                                           requests_by_band: dict[int, list[Any]]) -> None:
    """`rank_many` as `diagnose_many` and the service call it: many requests, several chunks, mixed alerts."""
    for band, requests in requests_by_band.items():
        alerts = [i % 7 == 3 for i in range(len(requests))]  # some with the rare alert held, as the engine may
        got = engine.next_findings.rank_many(requests, alerts)
        expected = reference.rank_many(requests, alerts)
        assert any(got), band
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _assert_same(g, e, (band, i, requests[i]))


def test_one_case_gives_the_reference_list(engine: DiagnosisEngine, reference: ReferenceNextFindings,
                                           requests_by_band: dict[int, list[Any]]) -> None:
    """`diagnose` of one request (the app's and the CLI's path: the engine hands its own numbers to the ranking)."""
    emergencies = 0
    for band, requests in requests_by_band.items():
        for i, request in enumerate(requests[::3]):
            answer = engine.diagnose(request)
            emergencies += answer["triage"]["level"] == "EMERGENCIA"
            _assert_same(answer["next_findings"], reference.rank(request, answer["rare_disease_alert"]),
                         (band, i, request))
    assert emergencies > 20  # the emergency branch (only what changes management) is compared too


def test_the_full_ranking_gives_the_reference_order(engine: DiagnosisEngine, reference: ReferenceNextFindings,
                                                    requests_by_band: dict[int, list[Any]]) -> None:
    """No floor and no length limit, as bench/next_findings.py orders the findings to add."""
    for band, requests in requests_by_band.items():
        sample = requests[1::4]
        alerts = [False] * len(sample)
        got = engine.next_findings.rank_many(sample, alerts, floor=0.0, limit=10_000)
        expected = reference.rank_many(sample, alerts, floor=0.0, limit=10_000)
        assert max(len(g) for g in got) > 5
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _assert_same(g, e, (band, i, sample[i]))


def test_a_rule_not_reading_any_changed_finding_answers_every_variant_as_the_request(
        engine: DiagnosisEngine, requests_by_band: dict[int, list[Any]]) -> None:
    """The traced map of what each danger-sign rule reads (next_findings_rules.py), checked against the rules
    themselves: over every variant of a request, a rule left out of the evaluation fires exactly as for the request,
    and the restricted evaluation's outcomes are the full one's."""
    nf = engine.next_findings
    skipped = 0
    for band, requests in requests_by_band.items():
        for request in requests[::4]:
            candidates = nf.candidates(request, _cond_p(engine, request), 0.5, floor=0.0)
            rules = nf._rules_for(request, candidates)
            if rules is None:
                continue
            request_fired, needed, _ = rules
            cases = variant_cases(request, candidates)
            full = red_flags.evaluate_batch(cases)
            assert np.array_equal(full[0, ~needed], request_fired[~needed]), (band, request)
            assert (full[:, ~needed] == request_fired[~needed]).all(), (band, request)
            alert = np.zeros(cases.n, dtype=bool)
            expanded = engine.features.expand(engine.features.raw_matrix([request] * cases.n, cases))
            scores = (engine.state_model.scores(expanded), engine.condition_model.scores(expanded))
            a = outcomes(engine, [], alert, cases, model_scores=scores)
            b = outcomes(engine, [], alert, cases, model_scores=scores, rules=rules)
            for x, y in zip((a.level, a.state, a.top, a.danger), (b.level, b.state, b.top, b.danger), strict=True):
                assert np.array_equal(x, y), (band, request)
            skipped += int((~needed).sum())
    assert skipped > 1000  # the restriction is taken, not a path never run


def test_a_rule_that_reads_the_columns_directly_is_always_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule reaching the findings other than through the accessors cannot be traced: it reads 'anything'."""
    code = red_flags.CODES[0]
    monkeypatch.setitem(red_flags_batch.BATCH_RULES, code, lambda b: b.c._symptoms[:, 0] >= 5)
    inputs, uses_scores = rule_inputs()
    assert inputs[0] is None and uses_scores[0]
    assert all(i is not None for i in inputs[1:])
    assert RuleSubsets().needed(set())[0]


def _cond_p(engine: DiagnosisEngine, request: Any) -> np.ndarray:
    return softmax(engine.condition_model.scores(engine.features.expand(engine.features.raw_matrix([request]))))[0]
