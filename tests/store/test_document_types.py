"""Identity documents of neighbouring countries in the store (revision 0002): each new code is stored and found by
its number as read off the card ("DNI 45678912"), the same number under two codes is two documents, an unknown code
is refused, and a code that is also a word of names ("DE", as in "de León") is read as a code only before a number."""

from __future__ import annotations

import pytest

from app.store import StoreError
from app.store.models import DOCUMENT_TYPES
from tests.store.conftest import Clinic

NEW_CODES = ("DNI", "CPP", "CI", "PN", "DE")


def test_every_new_code_is_stored_and_found_by_its_number(clinic: Clinic) -> None:
    assert set(NEW_CODES) <= set(DOCUMENT_TYPES)
    with clinic.doctor() as doctor:
        for i, code in enumerate(NEW_CODES):
            patient = doctor.patients.add(given_names="Persona", family_names=f"Prueba {code}", sex="F",
                                          document_type=code, document_number=f"7700{i}123")
            assert [p.id for p in doctor.patients.search(f"{code} 7700{i}123")] == [patient.id]
            assert [p.id for p in doctor.patients.search(f"7700{i}123")] == [patient.id]
        # A Colombian CC and a Peruvian DNI may carry the same digits: two documents, two patients.
        doctor.patients.add(given_names="Otra", family_names="Persona", sex="M", document_type="CC",
                            document_number="77000123")
        with pytest.raises(StoreError) as refused:
            doctor.patients.add(given_names="Repetida", family_names="Persona", sex="M", document_type="DNI",
                                document_number="7700 0123")
        assert refused.value.code == "patient_exists"
        with pytest.raises(StoreError) as unknown:
            doctor.patients.add(given_names="X", family_names="Y", sex="F", document_type="RUT")
        assert unknown.value.code == "invalid_document_type"


def test_a_name_starting_with_a_code_word_is_searched_as_a_name(clinic: Clinic) -> None:
    with clinic.doctor() as doctor:
        de_leon = doctor.patients.add(given_names="Ana", family_names="De León Ríos", sex="F")
        doctor.patients.add(given_names="Luis", family_names="León Pérez", sex="M")
        assert [p.id for p in doctor.patients.search("de leon")] == [de_leon.id]
