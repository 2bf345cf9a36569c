"""A child's weight far from anything possible at that age: most often a typing slip, so the screen asks to check it.

The contract accepts any weight from 0.3 to 300 kg at any age: a 14-month-old of 40 kg passes (10.4 typed as 40, or
an adult's weight in a child's record), and the models then read it as an extreme weight-for-age. WHO's growth
software flags a weight-for-age z-score below -6 or above +5 as a biologically implausible value (WHO Anthro
manual; WHO Child Growth Standards 2006); checked here under 5 years. The z-score here is the model
bundle's own (its healthy weight by age, `FeatureSpec.z_score`), the same number the models read.

It never refuses a request and never changes an answer: a check, not a rule. numpy and the bundle only; no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.features import FeatureSchema, FeatureSpec

# WHO Anthro's flags for weight-for-age: biologically implausible below -6 or above +5 z.
WEIGHT_Z_FLAGS = (-6.0, 5.0)
# Under 5 years (WHO Child Growth Standards), where the bundle's normal approximation of the healthy weight holds:
# from 5 years weight is skewed to the right, and a heavy 9-year-old of 60 kg would be +5.8 z by it (WHO's own LMS
# reference puts such a child near +4), a false "check this".
WEIGHT_FLAG_AGE = 5.0


@dataclass(frozen=True, slots=True)
class UnlikelyValue:
    key: str  # the vital, as the contract names it
    value: float
    z: float
    usual: tuple[float, float]  # the healthy range at this age, median -/+ 2 SD, for the message

    def message(self) -> dict[str, str]:
        low, high = self.usual

        def es(text: str) -> str:  # the Spanish decimal comma, as the form takes it
            return text.replace(".", ",")

        return {
            "es": (f"Revise el peso: {es(f'{self.value:g}')} kg está muy lejos de lo posible a esta edad (lo "
                   f"habitual, {es(f'{low:.1f}')}–{es(f'{high:.1f}')} kg). La respuesta lo toma tal como está "
                   "escrito."),
            "en": (f"Check the weight: {self.value:g} kg is far from anything possible at this age (usual "
                   f"{low:.1f}–{high:.1f} kg). The answer takes it as written."),
        }


def unlikely_values(features: FeatureSchema, age: float | None, vitals: dict[str, float]) -> list[UnlikelyValue]:
    """The measurements of `vitals` that WHO would flag as implausible at `age` (years): the weight of a child
    under 5 whose weight-for-age z-score is below -6 or above +5. Empty when the bundle's models do not read the
    weight for age (no reference to judge by) or the age is not given yet."""
    weight = vitals.get("weight_kg")
    if weight is None or age is None or not 0 <= age < WEIGHT_FLAG_AGE:
        return []
    spec = _weight_spec(features)
    if spec is None:
        return []
    median, sd = spec.healthy(age)
    z = (weight - median) / sd  # `spec.z_score`, the number the models read
    low, high = WEIGHT_Z_FLAGS
    if low <= z <= high:
        return []
    return [UnlikelyValue("weight_kg", weight, z, (max(0.0, median - 2 * sd), median + 2 * sd))]


def weight_check_table(features: FeatureSchema) -> dict[str, Any] | None:
    """What a browser needs to make the same check (`unlikely_values`) itself: the bundle's healthy weight by age
    and the limits; None when the bundle's models do not read the weight for age."""
    spec = _weight_spec(features)
    if spec is None:
        return None
    ages, medians, sds = spec._reference_arrays()
    return {"ages": ages.tolist(), "medians": medians.tolist(), "sds": sds.tolist(), "z_low": WEIGHT_Z_FLAGS[0],
            "z_high": WEIGHT_Z_FLAGS[1], "below_age": WEIGHT_FLAG_AGE}


def _weight_spec(features: FeatureSchema) -> FeatureSpec | None:
    return next((s for s in features.specs if s.kind == "vital_z" and s.name == "weight_kg" and s.reference), None)
