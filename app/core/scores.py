"""Published clinical scores the contract reports in `scores`, computed exactly as published.

- NEWS2: Royal College of Physicians. National Early Warning Score (NEWS) 2: standardising the assessment of
  acute-illness severity in the NHS. London: RCP, 2017. For adults (16 and over), not in pregnancy or the
  puerperium (the RCP excludes them; obstetric early-warning charts apply). SpO2 on scale 1; the contract does not
  say whether the patient breathes supplemental oxygen, so "air" is assumed (scores 0), which can only under-score.
- qSOFA: Singer M, et al. The Third International Consensus Definitions for Sepsis and Septic Shock (Sepsis-3).
  JAMA 2016;315:801-10. For adults (18 and over): respiratory rate >= 22, systolic pressure <= 100, altered
  mentation, one point each.

`news2()` and `qsofa()` give the score only when every input it needs is known, else None (the contract's null).
The danger-sign rules use `news2_floor()` and `qsofa_floor()`: the points of the inputs that are known, a lower
bound of the full score, so that 7 points from four measured vitals call for an emergency response even when the
other two were not measured.

Consciousness: AVPU V, P or U, or new confusion (the symptom `confusion` with any intensity: NEWS2's "C"),
scores 3; A scores 0. With neither AVPU nor confusion given, consciousness is unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from app.core.cases import Cases
from app.core.contract import DiagnoseRequest

NEWS2_MIN_AGE = 16.0
QSOFA_MIN_AGE = 18.0


def _band(value: float, bands: tuple[tuple[float, int], ...], top: int) -> int:
    """Points for `value`: the first band whose upper limit (inclusive) holds it, else `top`."""
    for upper, points in bands:
        if value <= upper:
            return points
    return top


def _news2_parts(r: DiagnoseRequest) -> dict[str, int | None]:
    v = r.vitals
    rr, spo2, sbp, hr, t = (v.get(k) for k in ("respiratory_rate", "spo2", "systolic_bp", "heart_rate",
                                                "temperature_c"))
    return {
        "respiratory_rate": None if rr is None else _band(rr, ((8, 3), (11, 1), (20, 0), (24, 2)), 3),
        "spo2": None if spo2 is None else _band(spo2, ((91, 3), (93, 2), (95, 1)), 0),
        "systolic_bp": None if sbp is None else _band(sbp, ((90, 3), (100, 2), (110, 1), (219, 0)), 3),
        "heart_rate": None if hr is None else _band(hr, ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2)), 3),
        "consciousness": _news2_consciousness(r),
        # NEWS2 bands are 35.0 or less, 35.1-36.0, 36.1-38.0, 38.1-39.0, 39.1 or more (one decimal).
        "temperature_c": None if t is None else _band(round(t, 1), ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1)), 2),
    }


def _news2_consciousness(r: DiagnoseRequest) -> int | None:
    if r.consciousness in ("V", "P", "U") or r.symptoms.get("confusion", 0) >= 1:
        return 3
    if r.consciousness == "A":
        return 0
    return None


def news2_applies(r: DiagnoseRequest) -> bool:
    return r.age >= NEWS2_MIN_AGE and not r.pregnant and not r.postpartum


def news2(r: DiagnoseRequest) -> int | None:
    """The NEWS2 aggregate, or None when the patient is outside its population or an input is missing."""
    if not news2_applies(r):
        return None
    parts = _news2_parts(r).values()
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def news2_floor(r: DiagnoseRequest) -> tuple[int, int]:
    """(points from the known inputs, the highest single-parameter score); (0, 0) outside NEWS2's population."""
    if not news2_applies(r):
        return 0, 0
    known = [p for p in _news2_parts(r).values() if p is not None]
    return sum(known), max(known, default=0)


def _qsofa_parts(r: DiagnoseRequest) -> tuple[int | None, int | None, int | None]:
    rr, sbp = r.vitals.get("respiratory_rate"), r.vitals.get("systolic_bp")
    mentation = _news2_consciousness(r)
    return (None if rr is None else int(rr >= 22), None if sbp is None else int(sbp <= 100),
            None if mentation is None else int(mentation > 0))


def qsofa(r: DiagnoseRequest) -> int | None:
    """qSOFA (0-3) for adults, or None when under 18 or an input is missing."""
    if r.age < QSOFA_MIN_AGE:
        return None
    parts = _qsofa_parts(r)
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def qsofa_floor(r: DiagnoseRequest) -> int:
    if r.age < QSOFA_MIN_AGE:
        return 0
    return sum(p for p in _qsofa_parts(r) if p is not None)


def scores(r: DiagnoseRequest) -> dict[str, int | None]:
    """The contract's `scores` object."""
    return {"news2": news2(r), "qsofa": qsofa(r)}


# The same bands as arrays for a batch: upper limits (inclusive) and the points of each band, then the top points.
_BATCH_BANDS: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "respiratory_rate": (np.array([8, 11, 20, 24.0]), np.array([3, 1, 0, 2, 3])),
    "spo2": (np.array([91, 93, 95.0]), np.array([3, 2, 1, 0])),
    "systolic_bp": (np.array([90, 100, 110, 219.0]), np.array([3, 2, 1, 0, 3])),
    "heart_rate": (np.array([40, 50, 90, 110, 130.0]), np.array([3, 1, 0, 1, 2, 3])),
    "temperature_c": (np.array([35.0, 36.0, 38.0, 39.0]), np.array([3, 1, 0, 1, 2])),
}


def rounded_limit(upper: float) -> float:
    """The largest float t with round(t, 1) <= upper, for an upper limit of one decimal.

    Python's round(t, 1) is exact on t's binary value (ties, which a float never is at x.x5, would go to even):
    round(t, 1) <= upper exactly when t < upper + 0.05 as a decimal. That decimal is never a float (its denominator
    has a factor 5), so the limit is the float just below it, and comparing with it gives round()'s band without
    rounding each value (np.round scales by 10 and differs from round() on some decimals)."""
    midpoint = Decimal(repr(upper)) + Decimal("0.05")
    limit = float(midpoint)
    while Decimal(limit) >= midpoint:
        limit = float(np.nextafter(limit, -math.inf))
    return limit


# All five vitals in one matrix: each row's limits (padded with +inf, which no value exceeds) and points (padded
# with the top points, never reached through the padding). A value's band is the number of limits below it, as
# np.searchsorted(side="left") counts; temperature's limits are those of its value rounded to one decimal.
_VITAL_KEYS = tuple(_BATCH_BANDS)
_WIDTH = max(len(points) for _, points in _BATCH_BANDS.values())
_LIMITS = np.full((len(_VITAL_KEYS), _WIDTH - 1), np.inf)
_POINTS = np.zeros((len(_VITAL_KEYS), _WIDTH), dtype=np.int64)
for _row, (_key, (_uppers, _points)) in enumerate(_BATCH_BANDS.items()):
    _LIMITS[_row, :len(_uppers)] = [rounded_limit(u) for u in _uppers.tolist()] if _key == "temperature_c" else _uppers
    _POINTS[_row, :len(_points)] = _points
    _POINTS[_row, len(_points):] = _points[-1]
_VITAL_ROWS = np.arange(len(_VITAL_KEYS))
_RR, _SBP = _VITAL_KEYS.index("respiratory_rate"), _VITAL_KEYS.index("systolic_bp")


@dataclass(frozen=True, slots=True)
class BatchScores:
    """NEWS2 and qSOFA for a batch: totals (-1 where the score is None) and the floors the danger signs read."""

    news2: np.ndarray
    qsofa: np.ndarray
    news2_floor: np.ndarray
    qsofa_floor: np.ndarray

    def to_json(self) -> list[dict[str, int | None]]:
        """The contract's `scores` object of each case, as `scores()` gives it."""
        return [{"news2": None if n < 0 else n, "qsofa": None if q < 0 else q}
                for n, q in zip(self.news2.tolist(), self.qsofa.tolist(), strict=True)]


def batch_scores(cases: Cases, floors_only: bool = False) -> BatchScores:
    """`news2`, `qsofa`, `news2_floor()[0]` and `qsofa_floor` of every case at once (same numbers as one by one).

    A fixed number of numpy calls whatever the batch (next_findings scores ~80 variants a request on every answer):
    the five vitals banded together as one (cases, vitals, limits) comparison. `floors_only`: only the floors the
    danger-sign rules read (next_findings' variants), the totals left at -1 (not computed)."""
    n = cases.n
    if n and not (cases.age >= min(NEWS2_MIN_AGE, QSOFA_MIN_AGE)).any():  # children only: neither score applies
        return BatchScores(np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros(n, np.int64),
                           np.zeros(n, np.int64))
    values = np.column_stack([cases.vital(key) for key in _VITAL_KEYS]).reshape(n, len(_VITAL_KEYS))
    known = ~np.isnan(values)  # NaN exceeds no limit: its band is 0, then masked
    band = (values[:, :, None] > _LIMITS[None, :, :]).sum(axis=2)
    vital_points = np.where(known, _POINTS[_VITAL_ROWS, band], 0).sum(axis=1)
    confusion = cases.symptom("confusion") >= 1
    altered = cases.avpu_vpu | confusion
    conscious_known = altered | (cases.avpu == 0)
    points = vital_points + np.where(altered, 3, 0)
    applies = (cases.age >= NEWS2_MIN_AGE) & ~cases.pregnant & ~cases.postpartum
    news2_floor = np.where(applies, points, 0)
    rr, sbp = values[:, _RR], values[:, _SBP]
    q_points = ((rr >= 22).astype(np.int64) + (sbp <= 100) + (altered & conscious_known))
    adult = cases.age >= QSOFA_MIN_AGE
    qsofa_floor = np.where(adult, q_points, 0)
    if floors_only:
        unknown = np.full(n, -1, np.int64)
        return BatchScores(unknown, unknown, news2_floor.reshape(n), qsofa_floor.reshape(n))

    all_known = known.all(axis=1) & conscious_known
    news2_total = np.where(applies & all_known, points, -1)
    q_known = known[:, _RR] & known[:, _SBP] & conscious_known
    qsofa_total = np.where(adult & q_known, q_points, -1)
    return BatchScores(news2_total.reshape(n), qsofa_total.reshape(n), news2_floor.reshape(n),
                       qsofa_floor.reshape(n))
