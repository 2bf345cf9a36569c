"""From a validated request to the numbers the models read.

Two steps. `raw_vector` turns a request into one number per clinical input (age, sex, duration, each symptom's
intensity, each vital, NaN when not measured; from contract v2 also each examination sign, pregnancy and AVPU).
`FeatureSchema.expand` turns each raw input into a few columns: a one-hot of clinically chosen bands (fever bands,
SpO2 bands, intensity bands), an optional linear term and a "not measured" column. Each expanded column depends on
exactly one raw input, so the models are additive in the raw inputs and their SHAP values per input are exact and
cheap (see `explain.py`). The schema, including the bands, travels in the bundle's manifest: the bundle that trained
on it is the one that decides it.

Vitals whose normal value depends on age (heart rate, respiratory rate, blood pressure, weight) are read RELATIVE TO
AGE (kind "vital_z"): the raw input is the z-score against the age reference carried in the spec (Fleming 2011
centiles for heart and breathing rates), so a 6-month-old's heart rate of 140 reads as normal and 55 as far below,
on the same bands as an adult's 75 and 30. The raw input keeps the vital's name, so explanations still say
"heart_rate"; it depends on one measured vital (age only sets its scale), which keeps SHAP per input exact.
Kinds added by contract v2 never change the old ones, so a bundle built before them loads and runs unchanged.
One input reads findings together where medicine defines them together: blood pressure in a pregnancy from 20 weeks
or after delivery (kind "pregnancy_pressure", pre-eclampsia's setting); it is still one raw input, with its own exact
share of the explanation, and next_findings changes it with the pressure or the pregnancy answer that moves it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import Any

import numpy as np

from app.core.cases import Cases
from app.core.contract import DiagnoseRequest, Pregnancy


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One raw clinical input and how it is expanded."""

    name: str  # "age", "sex", "duration_days", a symptom key, a vital key, a sign code, "pregnancy_status", ...
    kind: str  # "age" | "sex" | "duration" | "symptom" | "vital" | "vital_z" | "sign" | "pregnancy_status" |
    #            "pregnancy_weeks" | "postpartum_days" | "consciousness" | "pregnancy_pressure"
    cuts: tuple[float, ...]  # band edges; a value equal to an edge falls in the upper band
    linear_scale: float | None = None  # add a column x / scale
    missing: bool = False  # add a "not measured" column
    # "vital_z" only: the healthy value by age as (age in years, median, sd) anchors, linearly interpolated.
    reference: tuple[tuple[float, float, float], ...] = ()

    @property
    def width(self) -> int:
        return len(self.cuts) + 1 + (self.linear_scale is not None) + self.missing

    def column_names(self) -> list[str]:
        edges = [-np.inf, *self.cuts, np.inf]
        names = [f"{self.name}[{_fmt(lo)},{_fmt(hi)})" for lo, hi in pairwise(edges)]
        if self.linear_scale is not None:
            names.append(f"{self.name}/{_fmt(self.linear_scale)}")
        if self.missing:
            names.append(f"{self.name}=missing")
        return names

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "cuts": list(self.cuts),
                               "linear_scale": self.linear_scale, "missing": self.missing}
        if self.reference:  # only new kinds carry it, so an old kind's JSON is exactly as before
            out["reference"] = [list(row) for row in self.reference]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(data["name"], data["kind"], tuple(float(c) for c in data["cuts"]),
                   None if data["linear_scale"] is None else float(data["linear_scale"]), bool(data["missing"]),
                   tuple((float(a), float(m), float(sd)) for a, m, sd in data.get("reference", ())))

    def z_score(self, value: float, age: float) -> float:
        """`value` as a z-score against the healthy value at `age` (kind "vital_z").

        The one-patient path: `np.interp`'s own arithmetic on Python floats (~8 us a vital less than calling it for
        one value); `raw_matrix` calls `np.interp` on a batch's ages: the same bits (tests/core/test_feature_rows.py).
        """
        median, sd = self.healthy(age)
        return (value - median) / sd

    def healthy(self, age: float) -> tuple[float, float]:
        """The healthy value's median and SD at `age` (kind "vital_z"): what `z_score` measures against."""
        ages, medians, sds = _REFERENCE_LISTS.get(self.reference) or _reference_lists(self.reference)
        return _interp(age, ages, medians), _interp(age, ages, sds)

    def _reference_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arrays = _REFERENCE_CACHE.get(self.reference)
        if arrays is None:
            table = np.asarray(self.reference, dtype=np.float64)
            arrays = (table[:, 0], table[:, 1], table[:, 2])
            _REFERENCE_CACHE[self.reference] = arrays
        return arrays


# Up to this many requests, reading each request's own fields costs less than ~110 column assignments.
ROWS_UP_TO = 64
# Up to this many rows, `expand` bands every input in one (rows x inputs x cuts) comparison instead of a loop.
SMALL_BATCH = 8
# Parsed reference tables, shared by equal specs (the diagnose path reads them for every request).
_REFERENCE_CACHE: dict[tuple[tuple[float, float, float], ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_REFERENCE_LISTS: dict[tuple[tuple[float, float, float], ...], tuple[list[float], ...]] = {}
# Raw codes of the categorical contract v2 inputs. Pregnancy 0 = not recorded or not asked (men, children).
PREGNANCY_CODES: dict[str, float] = {"not_pregnant": 1.0, "unknown": 2.0, "pregnant": 3.0, "postpartum": 4.0}
AVPU_CODES: dict[str, float] = {"A": 0.0, "V": 1.0, "P": 2.0, "U": 3.0}


# Blood pressure where it means pre-eclampsia (kind "pregnancy_pressure"): pregnant from 20 weeks, or after delivery
# (ACOG Practice Bulletin 222, 2020; WHO 2011), the limits of the danger-sign rules (red_flags: 140/90, 160/110).
PRE_ECLAMPSIA_WEEKS = 20.0
RAISED_PRESSURE = (140.0, 90.0)
SEVERE_PRESSURE = (160.0, 110.0)


def late_pregnancy(pregnancy: Pregnancy | None) -> bool:
    """Pregnant from 20 weeks, or after delivery: pre-eclampsia's setting (weeks not given: not in it, as the
    danger-sign rules read it)."""
    return pregnancy is not None and (pregnancy.status == "postpartum" or (
        pregnancy.status == "pregnant" and pregnancy.weeks is not None and pregnancy.weeks >= PRE_ECLAMPSIA_WEEKS))


def pregnancy_pressure(pregnancy: Pregnancy | None, systolic: float | None, diastolic: float | None) -> float:
    """The blood pressure of a pregnancy from 20 weeks or after delivery, as one input the additive models can weigh
    on its own: 0 outside that setting, else 1 below 140/90, 2 from 140/90, 3 from 160/110, and NaN when neither
    pressure was measured. A hypertension of late pregnancy is pre-eclampsia until proven otherwise: an additive
    model reading pregnancy and pressure only apart took the higher pressure for a hypertensive urgency."""
    if not late_pregnancy(pregnancy):
        return 0.0
    if systolic is None and diastolic is None:
        return np.nan
    sbp = -np.inf if systolic is None else systolic
    dbp = -np.inf if diastolic is None else diastolic
    if sbp >= SEVERE_PRESSURE[0] or dbp >= SEVERE_PRESSURE[1]:
        return 3.0
    return 2.0 if sbp >= RAISED_PRESSURE[0] or dbp >= RAISED_PRESSURE[1] else 1.0


def pregnancy_pressure_batch(cases: Cases) -> np.ndarray:
    """`pregnancy_pressure` of each case of a batch (the same numbers)."""
    setting = cases.postpartum | (cases.pregnant & (np.nan_to_num(cases.weeks, nan=-1.0) >= PRE_ECLAMPSIA_WEEKS))
    sbp, dbp = cases.vital("systolic_bp"), cases.vital("diastolic_bp")
    severe = (sbp >= SEVERE_PRESSURE[0]) | (dbp >= SEVERE_PRESSURE[1])
    raised = (sbp >= RAISED_PRESSURE[0]) | (dbp >= RAISED_PRESSURE[1])
    value = np.where(severe, 3.0, np.where(raised, 2.0, 1.0))
    value = np.where(np.isnan(sbp) & np.isnan(dbp), np.nan, value)
    out: np.ndarray = np.where(setting, value, 0.0)
    return out


def _reference_lists(reference: tuple[tuple[float, float, float], ...]) -> tuple[list[float], ...]:
    lists = ([float(a) for a, _, _ in reference], [float(m) for _, m, _ in reference],
             [float(sd) for _, _, sd in reference])
    _REFERENCE_LISTS[reference] = lists
    return lists


def _interp(x: float, xp: list[float], fp: list[float]) -> float:
    """`float(np.interp(x, xp, fp))` for one finite `x` and finite increasing `xp`: the same branches and the same
    float operations as numpy's compiled loop (the end values outside the table, the table's value on an anchor,
    else slope * (x - xp[j]) + fp[j]), so the same bits."""
    j = bisect_right(xp, x) - 1
    if j < 0:
        return fp[0]
    if j >= len(xp) - 1 or xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return slope * (x - xp[j]) + fp[j]


def _row_column(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.nonzero` of a 2-D mask (same pairs, same row-major order): a flat search and a division cost less than
    nonzero's per-dimension bookkeeping, which dominates on the one-patient path."""
    flat = np.flatnonzero(mask)
    row, column = np.divmod(flat, mask.shape[1])
    return row, column


def _fmt(x: float) -> str:
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class _RowPlan:
    """Where each of a request's symptoms, vitals and signs goes in a raw row, for `FeatureSchema._row`."""

    template: np.ndarray  # the row of a request that gives nothing optional
    symptoms: dict[str, int]
    vitals: dict[str, int]
    vital_z: dict[str, tuple[int, FeatureSpec]]
    signs: dict[str, int]
    other: tuple[int, ...]  # age, sex, duration, pregnancy, AVPU: read for every request


@dataclass(frozen=True)
class _Layout:
    """Where each raw input's columns are, as arrays, for `FeatureSchema.expand`."""

    cuts: np.ndarray  # (inputs, most cuts), padded with +inf (never at or below a value)
    first: np.ndarray  # first band column of each input
    linear_inputs: np.ndarray
    linear_columns: np.ndarray
    linear_scales: np.ndarray
    missing_inputs: np.ndarray
    missing_columns: np.ndarray
    has_missing: np.ndarray

    @classmethod
    def of(cls, specs: Sequence[FeatureSpec]) -> _Layout:
        width = max((len(s.cuts) for s in specs), default=0)
        cuts = np.full((len(specs), max(width, 1)), np.inf)
        first, lin_in, lin_col, lin_scale, miss_in, miss_col = [], [], [], [], [], []
        col = 0
        for j, spec in enumerate(specs):
            cuts[j, :len(spec.cuts)] = spec.cuts
            first.append(col)
            col += len(spec.cuts) + 1
            if spec.linear_scale is not None:
                lin_in.append(j)
                lin_col.append(col)
                lin_scale.append(spec.linear_scale)
                col += 1
            if spec.missing:
                miss_in.append(j)
                miss_col.append(col)
                col += 1
        ints = np.int64
        return cls(cuts, np.array(first, ints), np.array(lin_in, ints), np.array(lin_col, ints),
                   np.array(lin_scale, np.float64), np.array(miss_in, ints), np.array(miss_col, ints),
                   np.array([s.missing for s in specs], bool))


@dataclass(frozen=True)
class FeatureSchema:
    specs: tuple[FeatureSpec, ...]
    groups: np.ndarray = field(init=False, repr=False, compare=False)  # expanded column -> raw input index

    def __post_init__(self) -> None:
        groups = np.concatenate([np.full(s.width, j, dtype=np.int64) for j, s in enumerate(self.specs)])
        object.__setattr__(self, "groups", groups)

    @property
    def raw_names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def expanded_names(self) -> list[str]:
        return [name for s in self.specs for name in s.column_names()]

    @property
    def n_raw(self) -> int:
        return len(self.specs)

    @property
    def n_expanded(self) -> int:
        return int(self.groups.shape[0])

    def raw_vector(self, request: DiagnoseRequest) -> np.ndarray:
        """One row of raw inputs for `request`; NaN where a vital or the duration was not given."""
        return np.array([self._one(spec, request) for spec in self.specs], dtype=np.float64)

    @staticmethod
    def _one(spec: FeatureSpec, request: DiagnoseRequest) -> float:
        kind = spec.kind
        if kind == "symptom":
            return float(request.symptoms.get(spec.name, 0))
        if kind == "vital":
            return float(request.vitals.get(spec.name, np.nan))
        if kind == "age":
            return float(request.age)
        if kind == "sex":
            return 1.0 if request.sex == "F" else 0.0
        if kind == "duration":
            return np.nan if request.duration_days is None else float(request.duration_days)
        if kind == "vital_z":
            value = request.vitals.get(spec.name)
            return np.nan if value is None else spec.z_score(value, request.age)
        if kind == "sign":
            return 1.0 if spec.name in request.signs else 0.0
        if kind == "pregnancy_status":
            return 0.0 if request.pregnancy is None else PREGNANCY_CODES[request.pregnancy.status]
        if kind == "pregnancy_weeks":
            weeks = None if request.pregnancy is None else request.pregnancy.weeks
            return np.nan if weeks is None else float(weeks)
        if kind == "postpartum_days":
            days = None if request.pregnancy is None else request.pregnancy.days_since_delivery
            return np.nan if days is None else float(days)
        if kind == "consciousness":
            return np.nan if request.consciousness is None else AVPU_CODES[request.consciousness]
        if kind == "pregnancy_pressure":
            vitals = request.vitals
            return pregnancy_pressure(request.pregnancy, vitals.get("systolic_bp"), vitals.get("diastolic_bp"))
        raise ValueError(f"unknown feature kind {kind!r}")  # pragma: no cover - a bundle from a newer format

    def raw_matrix(self, requests: Sequence[DiagnoseRequest], cases: Cases | None = None) -> np.ndarray:
        """Rows of `raw_vector` for many requests, built a column at a time (batches, training: same numbers).

        `cases`, the batch already read into columns (`app.core.cases`), saves reading the requests again."""
        if not requests:
            return np.empty((0, self.n_raw))
        if len(requests) == 1 and cases is None:
            return self._row(requests[0])[None, :]
        if len(requests) < ROWS_UP_TO and cases is None:
            return np.vstack([self._row(r) for r in requests])
        c = cases if cases is not None else Cases(requests)
        out = np.empty((len(requests), self.n_raw), dtype=np.float64)
        for j, spec in enumerate(self.specs):
            kind, name = spec.kind, spec.name
            if kind == "symptom":
                out[:, j] = c.symptom(name)
            elif kind == "vital":
                out[:, j] = c.vital(name)
            elif kind == "vital_z":
                table_ages, medians, sds = spec._reference_arrays()
                out[:, j] = (c.vital(name) - np.interp(c.age, table_ages, medians)) / np.interp(c.age, table_ages, sds)
            elif kind == "sign":
                out[:, j] = c.sign(name)
            elif kind == "age":
                out[:, j] = c.age
            elif kind == "sex":
                out[:, j] = c.female
            elif kind == "duration":
                out[:, j] = c.duration
            elif kind == "pregnancy_status":
                out[:, j] = [0.0 if s is None else PREGNANCY_CODES[s] for s in c.pregnancy_status]
            elif kind == "pregnancy_weeks":
                out[:, j] = c.weeks
            elif kind == "postpartum_days":
                out[:, j] = c.days_since_delivery
            elif kind == "consciousness":
                out[:, j] = np.where(c.avpu < 0, np.nan, c.avpu)
            elif kind == "pregnancy_pressure":
                out[:, j] = pregnancy_pressure_batch(c)
            else:
                out[:, j] = [self._one(spec, r) for r in requests]
        return out

    def _row(self, request: DiagnoseRequest) -> np.ndarray:
        """`raw_vector`, touching only what the request gives (a few symptoms and vitals of the ~110 inputs): the
        one-patient path. Same numbers: the inputs it does not set are those `_one` gives an absent value."""
        plan = self._row_plan
        row = plan.template.copy()
        index = plan.symptoms
        for key, intensity in request.symptoms.items():
            j = index.get(key)
            if j is not None:
                row[j] = intensity
        for key, value in request.vitals.items():
            j = plan.vitals.get(key)
            if j is not None:
                row[j] = value
            z = plan.vital_z.get(key)
            if z is not None:
                row[z[0]] = z[1].z_score(value, request.age)
        for code in request.signs:
            j = plan.signs.get(code)
            if j is not None:
                row[j] = 1.0
        for j in plan.other:
            row[j] = self._one(self.specs[j], request)
        return row

    @cached_property
    def _row_plan(self) -> _RowPlan:
        template = np.array([0.0 if s.kind in ("symptom", "sign") else np.nan for s in self.specs])
        by_kind: dict[str, dict[str, int]] = {"symptom": {}, "vital": {}, "sign": {}}
        vital_z: dict[str, tuple[int, FeatureSpec]] = {}
        other = []
        for j, spec in enumerate(self.specs):
            if spec.kind in by_kind:
                by_kind[spec.kind][spec.name] = j
            elif spec.kind == "vital_z":
                vital_z[spec.name] = (j, spec)
            else:
                other.append(j)
        return _RowPlan(template, by_kind["symptom"], by_kind["vital"], vital_z, by_kind["sign"], tuple(other))

    def expand(self, raw: np.ndarray) -> np.ndarray:
        """Expanded float32 matrix (n, n_expanded) for raw rows (n, n_raw), as the ONNX models take it.

        All inputs at once: a value's band is the number of its cuts at or below it (a value equal to an edge falls
        in the upper band), so one comparison against a padded table of cuts bands the whole batch."""
        raw = np.atleast_2d(raw)
        n = raw.shape[0]
        if n == 1:
            return self._expand_one(raw[0])[None, :]
        layout = self._layout
        out = np.zeros((n, self.n_expanded), dtype=np.float32)
        missing = np.isnan(raw)
        present = ~missing
        if n <= SMALL_BATCH:  # one patient: one comparison against the whole table costs less than a loop of them
            band = (layout.cuts <= raw[:, :, None]).sum(axis=2)  # (a bool sum: count_nonzero by axis is slower)
        else:
            band = np.zeros(raw.shape, dtype=np.int64)
            for cut in range(layout.cuts.shape[1]):  # a few cuts per input: a loop of whole-batch comparisons
                band += layout.cuts[:, cut] <= raw
        flat = out.reshape(-1)  # a view: flat indices are cheaper than (row, column) pairs
        column = np.arange(n)[:, None] * self.n_expanded + layout.first[None, :] + band
        flat[column[present]] = 1.0
        if layout.linear_inputs.size:
            x = raw[:, layout.linear_inputs]
            ok = present[:, layout.linear_inputs]
            r, k = _row_column(ok)
            flat[r * self.n_expanded + layout.linear_columns[k]] = x[r, k] / layout.linear_scales[k]
        if layout.missing_inputs.size:
            r, k = _row_column(missing[:, layout.missing_inputs])
            flat[r * self.n_expanded + layout.missing_columns[k]] = 1.0
        required = missing & ~layout.has_missing[None, :]
        if required.any():
            raise ValueError(f"{self.specs[int(np.nonzero(required.any(axis=0))[0][0])].name} is required by the "
                             "model but missing")
        return out

    def _expand_one(self, x: np.ndarray) -> np.ndarray:
        """`expand` of one raw row, on vectors: the same columns and values with half the array operations (the
        one-patient path, where each operation's fixed cost is most of its cost)."""
        layout = self._layout
        out = np.zeros(self.n_expanded, dtype=np.float32)
        missing = np.isnan(x)
        present = ~missing
        band = (layout.cuts <= x[:, None]).sum(axis=1)
        out[(layout.first + band)[present]] = 1.0
        if layout.linear_inputs.size:
            ok = present[layout.linear_inputs]
            out[layout.linear_columns[ok]] = x[layout.linear_inputs[ok]] / layout.linear_scales[ok]
        if layout.missing_inputs.size:
            out[layout.missing_columns[missing[layout.missing_inputs]]] = 1.0
        if (missing > layout.has_missing).any():  # missing where the schema has no "not measured" column
            j = int(np.flatnonzero(missing > layout.has_missing)[0])
            raise ValueError(f"{self.specs[j].name} is required by the model but missing")
        return out

    @cached_property
    def _layout(self) -> _Layout:
        return _Layout.of(self.specs)

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.specs]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> FeatureSchema:
        return cls(tuple(FeatureSpec.from_json(d) for d in data))
