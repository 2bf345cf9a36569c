"""The one-patient and small-batch paths (issue 16: features, rules and rare ranking without batch machinery) answer
as the one-request reference does, on patients pushed onto the danger-sign thresholds and without next_findings."""

from __future__ import annotations

from tests.core.reference_engine import reference_diagnose_many
from tests.core.test_engine_batch import TOLERANCE, _threshold_patients, _worst


def test_one_patient_at_a_time_answers_as_the_reference(engine) -> None:
    patients = _threshold_patients(engine, 400, seed=11)
    levels = set()
    for request in patients:
        answer = engine.diagnose(request, next_findings=False)
        assert _worst(answer, reference_diagnose_many(engine, [request], next_findings=False)[0]) <= TOLERANCE
        levels.add(answer["triage"]["level"])
    assert levels == {"EMERGENCIA", "PRIORITARIO", "NO_URGENTE"}  # every branch of the levels was taken


def test_small_batches_answer_as_the_reference(engine) -> None:
    patients = _threshold_patients(engine, 300, seed=12)
    flagged = 0
    for start in range(0, len(patients), 7):  # batches of 7: the per-request rules, several rows per array
        chunk = patients[start:start + 7]
        reference = reference_diagnose_many(engine, chunk, next_findings=False)  # the models see the same rows
        got = engine.diagnose_many(chunk, next_findings=False)
        assert max(_worst(a, b) for a, b in zip(got, reference, strict=True)) <= TOLERANCE
        flagged += sum(bool(a["red_flags"]) for a in reference)
    assert flagged > 50
