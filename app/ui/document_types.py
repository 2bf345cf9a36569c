"""Which identity documents a patient can hold, by age and country, as data the patient form reads.

Colombia's Registraduría issues the civil registry (RC) from birth, the identity card (TI) from 7 and the
citizenship card (CC) at 18; the "without identification" codes split the same way (MS under 18, AS from 18).
Passports and migration documents have no age. Only the codes the clinic's store accepts are listed: the store's
list (`app.store.models.DOCUMENT_TYPES`) is fixed by a CHECK constraint in its first schema, so documents of
neighbouring countries (Peru's DNI, Bolivia's and Ecuador's cédula de identidad) wait for a store migration.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.store.models import DOCUMENT_TYPES


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str
    min_age: float = 0.0  # years, inclusive
    max_age: float | None = None  # years, exclusive


# Per country, in the order a clerk asks for them.
BY_COUNTRY: dict[str, tuple[DocumentType, ...]] = {
    "CO": (
        DocumentType("CC", min_age=18), DocumentType("TI", min_age=7, max_age=18),
        DocumentType("RC", max_age=7), DocumentType("CE"), DocumentType("PA"), DocumentType("PPT"),
        DocumentType("PEP"), DocumentType("MS", max_age=18), DocumentType("AS", min_age=18),
        DocumentType("OTRO"),
    ),
}
DEFAULT_COUNTRY = "CO"


def document_types(age_years: float | None, country: str = DEFAULT_COUNTRY) -> list[str]:
    """The codes a patient of `age_years` (None: unknown, every code) can hold in `country`."""
    types = BY_COUNTRY.get(country, BY_COUNTRY[DEFAULT_COUNTRY])
    return [t.code for t in types if t.code in DOCUMENT_TYPES and (
        age_years is None or (t.min_age <= age_years and (t.max_age is None or age_years < t.max_age)))]
