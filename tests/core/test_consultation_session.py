"""The consultation's state without widgets (app/core/consultation_session.py), answered by the real engine."""

from __future__ import annotations

from app.core.consultation_session import (
    DIAGNOSE_FIRST,
    NEED_FINAL,
    NEED_PATIENT,
    STALE,
    ConsultationSession,
    Findings,
    final_code,
)

PATIENT = {"id": "p-1", "given_names": "María", "family_names": "Gómez Ríos", "sex": "F"}
OTHER = {"id": "p-2", "given_names": "José", "family_names": "Mora", "sex": "M"}


def diagnosed(engine, session: ConsultationSession) -> dict:
    """What the screen does on "Diagnosticar": the engine answers the session's request, the session keeps it."""
    request = session.request()
    response = engine.diagnose(engine.validate(request))
    session.answered(request, response)
    return response


def a_fever_with_cough(session: ConsultationSession) -> None:
    session.set_symptom("fiebre", 8)
    session.set_symptom("tos", 7)
    session.set_symptom("dificultad_respirar", 6)
    session.set_vital("temperature_c", 38.5)


def test_findings_added_after_diagnosing_make_the_answer_stale_and_block_closing(engine):
    session = ConsultationSession()
    session.start(PATIENT, age=30.0, sex="F")
    a_fever_with_cough(session)
    diagnosed(engine, session)
    assert not session.stale and session.can_close
    assert session.closing_problem("J18") is None

    session.set_sign("chest_indrawing")  # examined after the answer
    assert session.stale and not session.can_close
    assert session.closing_problem("J18") == STALE

    session.set_sign("chest_indrawing", present=False)  # back to exactly what the answer saw
    assert not session.stale
    for change in (lambda: session.set_symptom("nausea", 3), lambda: session.set_vital("spo2", 91.0),
                   lambda: session.add_term("HP:0001250"), lambda: session.update(consciousness="V"),
                   lambda: session.update(age=31.0), lambda: session.set_symptom("fiebre", 9)):
        change()
        assert session.stale, "every finding counts"
        diagnosed(engine, session)  # a new answer for the new findings lifts the block
        assert not session.stale and session.closing_problem("J18") is None


def test_a_new_patient_clears_everything(engine):
    session = ConsultationSession()
    session.start(PATIENT, age=30.0, sex="F")
    a_fever_with_cough(session)
    session.add_term("HP:0001250")
    diagnosed(engine, session)
    session.encounter_saved("e-1")

    session.start(OTHER, age=None, sex="M")
    assert session.patient is OTHER
    assert session.findings == Findings(age=None, sex="M")
    assert session.answer is None and session.encounter_id is None and not session.closed
    assert session.request() == {"sex": "M", "symptoms": {}, "vitals": {}}  # no age: the doctor must enter it

    session.clear()  # another user logs in
    assert session.patient is None and session.answer is None and session.findings == Findings()


def test_closing_needs_a_diagnosis_a_patient_and_a_stored_encounter(engine):
    session = ConsultationSession()
    session.start(None, age=40.0)
    a_fever_with_cough(session)
    diagnosed(engine, session)
    assert session.closing_problem("  ") == NEED_FINAL
    assert session.record_problem() == NEED_PATIENT  # a quick consultation is not stored
    session.start(PATIENT, age=40.0)
    assert session.record_problem() == DIAGNOSE_FIRST
    session.encounter_saved("e-1")
    assert session.record_problem() is None


def test_a_new_diagnosis_after_closing_starts_a_new_encounter(engine):
    session = ConsultationSession()
    session.start(PATIENT, age=30.0)
    a_fever_with_cough(session)
    diagnosed(engine, session)
    session.encounter_saved("e-1")
    session.encounter_closed()
    assert session.draft() is None and not session.can_close  # a closed visit is not a draft
    diagnosed(engine, session)
    assert session.encounter_id is None and not session.closed


def test_pregnancy_is_sent_only_for_a_woman_of_10_to_60():
    session = ConsultationSession()
    session.start(PATIENT, age=25.0, sex="F")
    session.update(pregnancy={"status": "pregnant", "weeks": 20})
    assert session.request()["pregnancy"] == {"status": "pregnant", "weeks": 20}
    for change in ({"sex": "M"}, {"age": 9.0}, {"age": 61.0}, {"age": None}):
        session.update(sex="F", age=25.0)
        session.update(**change)
        assert "pregnancy" not in session.request(), change


def test_a_saved_request_comes_back_exactly(engine):
    request = {"age": 0.25, "sex": "M", "duration_days": 2.0, "symptoms": {"fiebre": 8, "tos": 3},
               "vitals": {"temperature_c": 38.5, "respiratory_rate": 62.0}, "hpo_terms": ["HP:0001250"],
               "consciousness": "V", "signs": ["chest_indrawing"]}
    engine.validate(request)  # a request the contract takes
    assert Findings.from_request(request).request() == request
    session = ConsultationSession()
    session.start(PATIENT)
    session.open_record({"id": "e-9", "status": "closed", "request": request, "response": {"severity": "x"}})
    assert session.request() == request and session.closed and session.encounter_id == "e-9"
    assert not session.stale  # the stored answer was given for exactly these findings


def test_a_draft_keeps_clinical_findings_of_a_registered_patient_only():
    session = ConsultationSession()
    session.start(None, age=40.0)
    session.set_symptom("fiebre", 5)
    assert session.draft() is None  # no patient: nowhere to keep it
    session.start(PATIENT, age=40.0)
    assert session.draft() is None  # age and sex alone are not worth a draft
    session.set_symptom("fiebre", 5)
    session.set_symptom("fiebre", 0)
    assert session.draft() is None
    session.add_term("HP:0001250")
    assert session.draft() == {"age": 40.0, "sex": "F", "symptoms": {}, "vitals": {}, "hpo_terms": ["HP:0001250"]}
    assert not session.add_term("HP:0001250")  # once only


def test_final_code_reads_a_chosen_label_or_a_typed_code():
    assert final_code("Neumonía (J18)") == "J18"
    assert final_code(" ORPHA:558 ") == "ORPHA:558"
    assert final_code("") == ""
