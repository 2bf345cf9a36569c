"""The referral letter of a stored visit lists the HPO findings looked for and found absent (issue 18), labelled in
words like the present ones, in Spanish and in English."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

pytest.importorskip("pytestqt")

from app.interop.phenopacket import term_labels_from_bundle
from app.ui.referral import render_html
from app.ui.referral_export import referral_letter

REQUEST = {"age": 16.5, "sex": "M", "symptoms": {"dolor_pecho": 3, "cambios_vision": 8},
           "hpo_terms": ["HP:0001166", "HP:0001083"], "excluded_hpo_terms": ["HP:0001634"]}


def test_the_letter_says_what_was_looked_for_and_absent(engine: Any, bundle_dir: Any) -> None:
    labels = term_labels_from_bundle(bundle_dir)
    encounter = {"request": REQUEST, "response": engine.diagnose(REQUEST), "final_code": "ORPHA:558", "notes": "",
                 "started_at": dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)}
    patient = {"given_names": "Yeison", "family_names": "Cuéllar", "document_type": "TI", "document_number": "1",
               "sex": "M", "birth_date": dt.date(2010, 5, 1), "village": ""}
    letter = referral_letter(engine.vocabulary, patient, encounter, ("Puesto", "Inzá"), doctor="Dra. Luz",
                             facility="Hospital", registration="RM 1", term_label=lambda h: labels.get(h, h))
    assert letter is not None
    es, en = render_html(letter, "es"), render_html(letter, "en")
    assert "Hallazgos buscados y ausentes (HPO)</b>: Mitral valve prolapse (HP:0001634)" in es
    assert "Findings looked for and absent (HPO)</b>: Mitral valve prolapse (HP:0001634)" in en
    assert "Arachnodactyly (HP:0001166)" in es and "HP:0001634" not in es.split("Hallazgos buscados")[0]


def test_a_document_type_without_its_number_is_not_written(engine: Any) -> None:
    """The letter read "Documento RC" for a baby whose civil registry number the clinic did not have."""
    encounter = {"request": REQUEST, "response": engine.diagnose(REQUEST), "final_code": "", "notes": "",
                 "started_at": dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)}
    patient = {"given_names": "Luz", "family_names": "Mora", "document_type": "RC", "document_number": "",
               "sex": "F", "birth_date": dt.date(2026, 11, 25), "village": ""}
    letter = referral_letter(engine.vocabulary, patient, encounter, ("Puesto", "Inzá"), doctor="Dra. Luz",
                             facility="Hospital", registration="RM 1", term_label=lambda h: h)
    assert letter is not None and letter.patient_document == ""
    assert "Documento</b></td><td>RC<" not in render_html(letter, "es")
