"""The vital signs and measurements a consultation takes: the bundle's vitals, then the contract's own (v2).

Contract v2 added weight, height, MUAC and capillary refill. Their ranges belong to the contract
(`app.core.contract.CONTRACT_VITALS`), not to a model bundle, so a bundle trained before them does not list them in
its vocabulary; their names and units are kept here, in Spanish and English, like the bundle's. A bundle that does
list one of them lends its own words, and the contract's range always decides what is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.contract import CONTRACT_VITALS
from app.core.vocabulary import Vocabulary

# Names and units of the contract v2 vitals, as the screens and the referral letter say them.
CONTRACT_VITAL_TEXT: dict[str, tuple[dict[str, str], dict[str, str], int]] = {
    # key: (label, unit, decimals)
    "weight_kg": ({"es": "Peso", "en": "Weight"}, {"es": "kg", "en": "kg"}, 1),  # WHO growth tables: 0.1 kg
    "height_cm": ({"es": "Talla", "en": "Height or length"}, {"es": "cm", "en": "cm"}, 1),
    "muac_mm": ({"es": "Perímetro braquial (PB)", "en": "Mid-upper arm circumference (MUAC)"},
                {"es": "mm", "en": "mm"}, 0),
    "capillary_refill_s": ({"es": "Llenado capilar", "en": "Capillary refill"}, {"es": "s", "en": "s"}, 1),
}


@dataclass(frozen=True, slots=True)
class VitalField:
    """One measured value on the screen: what it is called, its unit and the range the contract accepts."""

    key: str
    label: dict[str, str]
    unit: dict[str, str]
    low: float
    high: float
    decimals: int


def vital_fields(vocabulary: Vocabulary) -> list[VitalField]:
    """The bundle's vitals in its order, then the contract v2 vitals it does not list."""
    fields = []
    for vital in vocabulary.vitals:
        low, high = CONTRACT_VITALS.get(vital.key, vital.plausible)
        fields.append(VitalField(vital.key, dict(vital.label), dict(vital.unit), low, high, vital.decimals))
    known = set(vocabulary.vital_keys)
    for key, (low, high) in CONTRACT_VITALS.items():
        if key not in known:
            label, unit, decimals = CONTRACT_VITAL_TEXT[key]
            fields.append(VitalField(key, dict(label), dict(unit), low, high, decimals))
    return fields
