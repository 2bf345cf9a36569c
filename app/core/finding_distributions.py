"""How each finding is distributed within each condition and age band: the knowledge base's conditional
distributions, as the value-of-information ranking (`next_findings.py`) reads them.

The bundle carries them in `findings.npz` (written at build time by `model_export/findings.py` from patients
simulated on the knowledge base, so every profile, age band, acute-state shift and sign rule of the simulator is in
them): per condition, state (acute or not) and age band, the share of patients with each symptom, its mean
intensity when present and how those intensities spread over 1-10 (`symptom_levels`: a danger sign such as
"dificultad_respirar >= 8" lives in the tail, not at the mean; a file written before it existed reads as every
patient at the mean), the share with each examination sign, twenty quantiles of each vital among the patients it
was measured in, and the pregnancy status of women of 10-60 years. Loaded, the (condition, state) pairs are rows:
first every condition not acute, then every condition acute (`states` = 2), so the ranking mixes them with weights
P(c | case) (1 - P(acute | case)) and P(c | case) P(acute | case).

A bundle built before the file existed still loads: `FindingDistributions.generic` then stands in, with the same
small probability for every symptom (10%, intensity 5) and sign (2%), fixed clinically spread grids for the vitals
(`GENERIC_VITAL_GRID`: normal, borderline and danger values for an adult) and a 5% chance of pregnancy. The ranking
still works (a vital whose danger value would make it an emergency still comes first); only its probabilities are
cruder. docs/api.md ("next_findings") says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FINDINGS_FILE = "findings.npz"
# 2: the vitals with a healthy value by age (heart and breathing rates, pressures, weight, height, MUAC) are stored
# as z-scores against it, and read back at the patient's own age. An age band spans years over which these change
# (5 to 17 years: 18 to 60 kg), so absolute quantiles offered a 14-year-old "weight 13.5 kg" and a 5-year-old's
# breathing rate. Format 1 files (absolute quantiles only) still load.
FINDINGS_FORMAT = 2
READABLE_FORMATS = (1, 2)
# Age bands of the knowledge base (model_export/knowledge.py AGE_BANDS), their names and upper ages in years.
BAND_NAMES = ("infant", "child_1_4", "child_5_17", "adult", "older")
BAND_UPPER = (1.0, 5.0, 18.0, 65.0, float("inf"))
_BAND_UPPER = np.asarray(BAND_UPPER)
# Pregnancy values asked about, in the order of `pregnancy_p`.
PREGNANCY_VALUES = ("pregnant", "postpartum", "not_pregnant")
# Symptom intensities the contract allows (1-10), the columns of `symptom_levels`.
INTENSITY_LEVELS = tuple(range(1, 11))
# Quantile levels of the vitals stored per condition, state and band (each stands for a twentieth of the patients).
VITAL_LEVELS = tuple((i + 0.5) / 20 for i in range(20))
# No-file fallback: for each vital a few values, normal to dangerous, equally likely (adult references; NEWS2, ETAT).
GENERIC_VITAL_GRID: dict[str, tuple[float, ...]] = {
    "temperature_c": (35.5, 36.8, 37.8, 38.8, 40.0),
    "heart_rate": (50.0, 75.0, 95.0, 115.0, 135.0),
    "respiratory_rate": (10.0, 16.0, 20.0, 26.0, 32.0),
    "spo2": (86.0, 91.0, 94.0, 96.0, 98.0),
    "systolic_bp": (85.0, 105.0, 125.0, 150.0, 185.0),
    "diastolic_bp": (55.0, 70.0, 80.0, 95.0, 115.0),
    "glucose_mg_dl": (50.0, 90.0, 130.0, 220.0, 400.0),
    "weight_kg": (50.0, 60.0, 70.0, 80.0, 90.0),
    "height_cm": (150.0, 158.0, 165.0, 172.0, 180.0),
    "muac_mm": (200.0, 240.0, 270.0, 300.0, 330.0),
    "capillary_refill_s": (1.0, 1.5, 2.0, 2.5, 3.5),
}
GENERIC_SYMPTOM_P = 0.10
GENERIC_SYMPTOM_INTENSITY = 5.0
GENERIC_SIGN_P = 0.02
GENERIC_PREGNANCY = (0.05, 0.02, 0.93)  # pregnant, postpartum, not pregnant
GENERIC_WEEKS = 28.0
GENERIC_DAYS = 7.0


def age_band(age: float) -> int:
    """Index of the knowledge base's age band for `age` (years)."""
    for b, upper in enumerate(BAND_UPPER):
        if age < upper:
            return b
    return len(BAND_UPPER) - 1


def age_bands(ages: np.ndarray) -> np.ndarray:
    """`age_band` of each age (years): the first band whose upper age is above it."""
    bands: np.ndarray = np.searchsorted(_BAND_UPPER, ages, side="right")
    return bands


@dataclass(frozen=True)
class FindingDistributions:
    """Per row and age band: how each finding is distributed. Rows are the condition model's classes in order, once
    per state (`states` = 2: not acute, then acute; 1: any state)."""

    symptoms: tuple[str, ...]
    symptom_p: np.ndarray  # (conditions, bands, symptoms): share with the symptom (intensity >= 1)
    symptom_intensity: np.ndarray  # (conditions, bands, symptoms): mean intensity when present
    symptom_levels: np.ndarray  # (conditions, bands, symptoms, INTENSITY_LEVELS): P(intensity | present)
    signs: tuple[str, ...]
    sign_p: np.ndarray  # (conditions, bands, signs)
    vitals: tuple[str, ...]
    vital_q: np.ndarray  # (conditions, bands, vitals, quantiles); NaN where never measured
    pregnancy_p: np.ndarray  # (conditions, bands, PREGNANCY_VALUES) among women 10-60 years
    weeks: np.ndarray  # (conditions, bands): mean weeks of the pregnant
    days: np.ndarray  # (conditions, bands): mean days since delivery of the postpartum
    from_bundle: bool  # False: the generic fallback of a bundle without the file
    states: int = 1
    # Per vital, its healthy value by age as (ages, medians, sds) when `vital_q` holds z-scores against it (format
    # 2), else None: absolute quantiles.
    vital_reference: tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, ...] = ()

    def symptom_commonness(self) -> dict[str, float]:
        """Per symptom, its share of patients averaged over every condition, state and age band: a rough "how often
        a clinic sees it", to order equally good search matches (dyspnoea 0.18 before difficulty speaking 0.01)."""
        share = self.symptom_p.mean(axis=(0, 1)).tolist()
        return dict(zip(self.symptoms, share, strict=True))

    def reference_of(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        return self.vital_reference[j] if j < len(self.vital_reference) else None

    @classmethod
    def load(cls, folder: Path, classes: tuple[str, ...] | list[str]) -> FindingDistributions | None:
        """The bundle's file, rows put in the order of `classes`; None when the bundle has none."""
        path = folder / FINDINGS_FILE
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) not in READABLE_FORMATS:
                raise ValueError(f"{FINDINGS_FILE}: format {int(data['format'])}, this app reads "
                                 f"{', '.join(map(str, READABLE_FORMATS))}")
            codes = [str(c) for c in data["conditions"]]
            position = {c: i for i, c in enumerate(codes)}
            missing = [c for c in classes if c not in position]
            if missing:
                raise ValueError(f"{FINDINGS_FILE}: no distributions for {', '.join(missing)}")
            rows = np.array([position[c] for c in classes], dtype=np.int64)

            def by_row(name: str) -> np.ndarray:
                # (conditions, states, bands, ...) -> (states x conditions, bands, ...), not-acute rows first
                a = np.asarray(data[name], np.float64)[rows]
                return np.ascontiguousarray(np.swapaxes(a, 0, 1).reshape(-1, *a.shape[2:]))

            intensity = by_row("symptom_intensity")
            levels = by_row("symptom_levels") if "symptom_levels" in data.files else _at_mean(intensity)
            return cls(
                symptoms=tuple(str(s) for s in data["symptoms"]),
                symptom_p=by_row("symptom_p"),
                symptom_intensity=intensity,
                symptom_levels=levels,
                signs=tuple(str(s) for s in data["signs"]),
                sign_p=by_row("sign_p"),
                vitals=tuple(str(v) for v in data["vitals"]),
                vital_q=by_row("vital_q"),
                pregnancy_p=by_row("pregnancy_p"),
                weeks=by_row("weeks"),
                days=by_row("days"),
                from_bundle=True,
                states=int(np.asarray(data["symptom_p"]).shape[1]),
                vital_reference=_references(data),
            )

    @classmethod
    def generic(cls, n_conditions: int, symptoms: tuple[str, ...], signs: tuple[str, ...],
                vitals: tuple[str, ...]) -> FindingDistributions:
        """The documented stand-in for a bundle without `findings.npz` (see the module's docstring)."""
        shape = (n_conditions, len(BAND_UPPER))
        grid_vitals = tuple(v for v in vitals if v in GENERIC_VITAL_GRID)
        grid = np.array([np.interp(np.linspace(0, 1, len(VITAL_LEVELS)),
                                   np.linspace(0, 1, len(GENERIC_VITAL_GRID[v])), GENERIC_VITAL_GRID[v])
                         for v in grid_vitals]).reshape(len(grid_vitals), len(VITAL_LEVELS))
        return cls(
            symptoms=symptoms,
            symptom_p=np.full((*shape, len(symptoms)), GENERIC_SYMPTOM_P),
            symptom_intensity=np.full((*shape, len(symptoms)), GENERIC_SYMPTOM_INTENSITY),
            symptom_levels=_at_mean(np.full((*shape, len(symptoms)), GENERIC_SYMPTOM_INTENSITY)),
            signs=signs,
            sign_p=np.full((*shape, len(signs)), GENERIC_SIGN_P),
            vitals=grid_vitals,
            vital_q=np.broadcast_to(grid, (*shape, *grid.shape)).copy(),
            pregnancy_p=np.broadcast_to(np.array(GENERIC_PREGNANCY), (*shape, 3)).copy(),
            weeks=np.full(shape, GENERIC_WEEKS),
            days=np.full(shape, GENERIC_DAYS),
            from_bundle=False,
        )


def _references(data: Any) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, ...]:
    """Format 2's `vital_reference` (vitals, anchors, 3; NaN rows pad, an all-NaN vital is absolute)."""
    if "vital_reference" not in data.files:
        return ()
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []
    for table in np.asarray(data["vital_reference"], np.float64):
        rows = table[~np.isnan(table).any(axis=1)]
        out.append(None if not len(rows) else (rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy()))
    return tuple(out)


def z_to_values(z: np.ndarray, age: float, reference: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Quantiles stored as z-scores (format 2) as values at `age`: the healthy median plus z healthy SDs there, the
    same interpolation as the models' own z-scores (`FeatureSpec.z_score`)."""
    median, sd = healthy_at(age, reference)
    values: np.ndarray = median + z * sd
    return values


def healthy_at(age: float, reference: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[float, float]:
    """The healthy median and SD at `age` of a z-score reference (ages, medians, SDs), interpolated."""
    ages, medians, sds = reference
    return float(np.interp(age, ages, medians)), float(np.interp(age, ages, sds))


def _at_mean(intensity: np.ndarray) -> np.ndarray:
    """`symptom_levels` of a file without them: every patient with the symptom at its mean intensity (rounded)."""
    level = np.clip(np.rint(intensity), INTENSITY_LEVELS[0], INTENSITY_LEVELS[-1]).astype(np.int64) - 1
    out = np.zeros((*intensity.shape, len(INTENSITY_LEVELS)))
    np.put_along_axis(out, level[..., None], 1.0, axis=-1)
    return out
