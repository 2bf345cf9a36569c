"""The referral letter of one stored encounter, put together from that record alone (GUI thread, no store calls).

Everything in it (findings, answer, the doctor's diagnosis, notes, visit time) comes from the encounter read back
from the store, never from what an earlier consultation left on screen: a letter once carried another patient's
notes that way. app/ui/referral.py lays it out, prints it and writes the PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.core.age import age_in_years
from app.core.vocabulary import Vocabulary
from app.ui.document_types import document_text
from app.ui.i18n import tr, translator
from app.ui.referral import ReferralLetter
from app.ui.vital_fields import vital_fields


def diagnosis_label(vocabulary: Vocabulary, code: str, response: dict[str, Any]) -> str:
    """The doctor's diagnosis as "name (code)": a condition of the vocabulary, an Orphanet disease of the answer, or
    the code as typed."""
    if code in {c.code for c in vocabulary.conditions}:
        return f"{vocabulary.condition(code).name[translator().lang]} ({code})"
    for d in response.get("rare_diseases", []):
        if d["orpha_code"] == code:  # Orphanet's names come in English only: a Spanish letter says so
            name = d["name"] if translator().lang == "en" else tr("consult.name_in_english", name=d["name"])
            return f"{name} ({code})"
    return code


def referral_letter(vocabulary: Vocabulary, patient: dict[str, Any], encounter: dict[str, Any],
                    clinic: tuple[str, str], *, doctor: str, facility: str, registration: str,
                    term_label: Callable[[str], str]) -> ReferralLetter | None:
    """The letter for `encounter` of `patient`, or None for an encounter never diagnosed."""
    request, response = encounter["request"], encounter["response"]
    if not request or not response:
        return None
    age = request.get("age")
    return ReferralLetter(
        clinic=clinic[0], clinic_place=clinic[1],
        patient_name=f"{patient['given_names']} {patient['family_names']}",
        patient_document=document_text(patient["document_type"], patient["document_number"]),  # "" reads "not given"
        patient_age=age if age is not None else age_in_years(patient["birth_date"]),
        patient_sex=patient["sex"], doctor=doctor, when=encounter["started_at"].astimezone(),
        request=request, response=response,
        final_diagnosis=diagnosis_label(vocabulary, encounter["final_code"] or "", response), notes=encounter["notes"],
        symptom_labels={s.key: s.label for s in vocabulary.symptoms},
        vitals=vital_fields(vocabulary),
        patient_birth=patient["birth_date"], patient_village=patient.get("village") or "",
        receiving_facility=facility, registration=registration,
        term_labels={h: term_label(h) for h in [*(request.get("hpo_terms") or []),
                                                *(request.get("excluded_hpo_terms") or [])]},
    )
