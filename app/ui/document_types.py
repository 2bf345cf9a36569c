"""Which identity documents a patient can hold, by the clinic's country and the patient's age, as data the patient
form reads.

Colombia's Registraduría issues the civil registry (RC) from birth, the identity card (TI) from 7 and the
citizenship card (CC) at 18; the "without identification" codes of the RIPS split the same way (MS under 18, AS
from 18). Those two codes mean the same in every country, so every list ends with them.

The other countries, as their registries name their documents (sources in
app/store/migrations/versions/0002_document_types_of_neighbouring_countries.py):
- Peru: RENIEC issues the DNI from birth (the same document, with a different cover, for minors and adults: no age
  rule); Migraciones the carné de extranjería (CE) and the Carné de Permiso Temporal de Permanencia (CPP); a child
  not yet given a DNI is known by the acta (partida) de nacimiento (PN).
- Ecuador: the Registro Civil's cédula de identidad (CI), issued from birth to nationals and to resident foreigners.
- Bolivia: SEGIP's cédula de identidad (CI) and cédula de identidad de extranjero (CE); the certificado de
  nacimiento (PN).
- Venezuela: SAIME's cédula de identidad (CI), "V" for nationals and "E" for foreigners (kept as CE); the partida
  de nacimiento (PN). The age from which a cédula is issued has changed over the years, so no age rule is set.
Everywhere: passports (PA) and a foreign national document (DE) have no age. A birth record (PN) is offered under
18 only, a clinic's rule rather than a registry's: an adult without a national document is registered as AS, as in
Colombia, so the same person is not filed under two kinds of number.

A code the store does not accept (`app.store.models.DOCUMENT_TYPES`) is never offered.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.store.config_vars import COUNTRY
from app.store.models import DOCUMENT_TYPES

ADULT = 18.0


def document_text(document_type: str, number: str | None) -> str:
    """A patient's document as the list, a search and the referral letter write it ("CC 41234567"); empty without a
    number: a type alone says nothing (a letter read "Documento RC")."""
    return f"{document_type} {number}" if number else ""


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str
    min_age: float = 0.0  # years, inclusive
    max_age: float | None = None  # years, exclusive
    label: str = ""  # catalog key when the country names the code differently (Peru's CE is a "carné")

    def label_key(self) -> str:
        return self.label or f"patients.doc_{self.code}"

    def fits(self, age_years: float | None) -> bool:
        return age_years is None or (self.min_age <= age_years and (self.max_age is None or age_years < self.max_age))


_WITHOUT_ID = (DocumentType("MS", max_age=ADULT), DocumentType("AS", min_age=ADULT), DocumentType("OTRO"))

# Per country, in the order a clerk asks for them.
BY_COUNTRY: dict[str, tuple[DocumentType, ...]] = {
    "CO": (
        DocumentType("CC", min_age=ADULT), DocumentType("TI", min_age=7, max_age=ADULT),
        DocumentType("RC", max_age=7), DocumentType("CE"), DocumentType("PA"), DocumentType("PPT"),
        DocumentType("PEP"), DocumentType("DE"), *_WITHOUT_ID,
    ),
    "PE": (
        DocumentType("DNI"), DocumentType("CE", label="patients.doc_CE_carne"), DocumentType("CPP"),
        DocumentType("PA"), DocumentType("PN", max_age=ADULT), DocumentType("DE"), *_WITHOUT_ID,
    ),
    "EC": (
        DocumentType("CI"), DocumentType("PA"), DocumentType("PN", max_age=ADULT), DocumentType("DE"), *_WITHOUT_ID,
    ),
    "BO": (
        DocumentType("CI"), DocumentType("CE", label="patients.doc_CE_ci"), DocumentType("PA"),
        DocumentType("PN", max_age=ADULT), DocumentType("DE"), *_WITHOUT_ID,
    ),
    "VE": (
        DocumentType("CI"), DocumentType("CE", label="patients.doc_CE_ci"), DocumentType("PA"),
        DocumentType("PN", max_age=ADULT), DocumentType("DE"), *_WITHOUT_ID,
    ),
}
DEFAULT_COUNTRY: str = COUNTRY.default
# Shown as each country calls itself, like the language choice ("Español", "English").
COUNTRY_NAMES = {"CO": "Colombia", "PE": "Perú", "EC": "Ecuador", "BO": "Bolivia", "VE": "Venezuela"}


def country_types(country: str) -> tuple[DocumentType, ...]:
    """Every document of `country` (the default country's for one this module does not know)."""
    return BY_COUNTRY.get(country, BY_COUNTRY[DEFAULT_COUNTRY])


def document_types(age_years: float | None, country: str = DEFAULT_COUNTRY) -> list[str]:
    """The codes a patient of `age_years` (None: unknown, every code) can hold in `country`."""
    return [t.code for t in country_types(country) if t.code in DOCUMENT_TYPES and t.fits(age_years)]


def label_key(code: str, country: str = DEFAULT_COUNTRY) -> str:
    """The catalog key of `code`'s name in `country` (a code from elsewhere, kept on an old record: its own)."""
    for t in country_types(country):
        if t.code == code:
            return t.label_key()
    return f"patients.doc_{code}"

