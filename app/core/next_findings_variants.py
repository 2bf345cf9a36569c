"""What next_findings tries for a request: the candidate findings, their plausible values, the variant cases
built from them and the triage, state and condition each variant gets (numpy only; app/core/next_findings.py
ranks them)."""


from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from app.core import cases as _cases
from app.core import red_flags, red_flags_batch, scores
from app.core.bundle import ModelBundle
from app.core.cases import Cases
from app.core.contract import DiagnoseRequest, Pregnancy
from app.core.features import FeatureSchema, FeatureSpec, pregnancy_pressure
from app.core.finding_distributions import healthy_at
from app.core.priority_conditions import PriorityConditions
from app.core.probability import softmax
from app.core.signs import signs
from app.core.triage import TRIAGE_LABELS
from app.core.vocabulary import STATE_LABELS, STATES, Vocabulary, urgency


class _ScoringModel(Protocol):
    @property
    def classes(self) -> Sequence[str]: ...

    def scores(self, expanded: np.ndarray) -> np.ndarray: ...


class DiagnosisEngine(Protocol):
    """What this module reads of app.core.engine.DiagnosisEngine (which builds a NextFindings: a Protocol here, not
    an import, keeps the two modules out of an import cycle)."""

    @property
    def bundle(self) -> ModelBundle: ...
    @property
    def vocabulary(self) -> Vocabulary: ...
    @property
    def features(self) -> FeatureSchema: ...
    @property
    def state_model(self) -> _ScoringModel: ...
    @property
    def condition_model(self) -> _ScoringModel: ...
    @property
    def priority(self) -> PriorityConditions: ...

    def model_risk(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray: ...

    def model_emergency(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray: ...

    def model_levels(self, state_p: np.ndarray, cond_p: np.ndarray, model_state: np.ndarray) -> np.ndarray: ...


MAX_FINDINGS = 5
MAX_IN_EMERGENCY = 3
MIN_VOI = 0.01
# The models' scores are float32: an additive model's scores for a row and the sum of its weights differ by ~1e-5.
ADDITIVE_TOLERANCE = 1e-3
RANK_CHUNK = 64  # requests whose variants share one batch (`NextFindings.rank_many`)
MIN_VALUE_P = 0.002  # a symptom's intensity slice less likely than this is not tried (it could add no more to VOI)
# The symptom intensities at which a danger-sign rule (red_flags_batch.py, scores.py) changes its answer: a symptom
# reported at 7 may fire "dolor_pecho >= 7" where its mean intensity 5 would not. A test reads the rules' source and
# fails when a rule uses a threshold missing here.
RULE_INTENSITY_CUTS: dict[str, tuple[int, ...]] = {
    "cambios_vision": (3,), "confusion": (3,), "debilidad_unilateral": (3,), "dificultad_hablar": (3,),
    "dificultad_respirar": (3, 5, 8), "dolor_abdominal": (5, 6, 8), "dolor_cabeza": (3,), "dolor_epigastrico": (5,),
    "dolor_pecho": (3, 5, 7),
    "hemoptisis": (5,), "nausea": (3,), "rechazo_alimento": (5,), "sangrado": (5,), "sangrado_vaginal": (5,),
    "sudoracion": (3,), "vomito": (3, 6),
}
# A vital's eight values: the midpoints of eight slices of its distribution given the case, narrow at the tails
# (where the danger values are: a 2% slice at each end, chosen on a tuning seed over 5% ends and a finer 1/2/4% grid)
# and wide in the middle; each value stands for its slice's share.
GRID_EDGES = (0.0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 1.0)
GRID_LEVELS = tuple((a + b) / 2 for a, b in itertools.pairwise(GRID_EDGES))
GRID_WEIGHTS = tuple(b - a for a, b in itertools.pairwise(GRID_EDGES))
# How much more likely an open request's patient is acute than the state model says, in odds: the model learned from
# full cases, where an unasked sign reads as absent and an unmeasured vital as normal, so on a request missing them
# (what next_findings is for) its P(acute) is too low: on tuning seeds 23 and 7 (917 open requests below EMERGENCIA,
# bench/next_findings.py's starts) 59 patients were acute where the model's P(acute) summed to 18; the odds factor of
# maximum likelihood is 3.9 (tests/core/test_next_findings_acute.py checks it on seed 11).
ACUTE_CALIBRATION = 4.0
# On top of the calibration, acute patients' findings weigh more than their chance: a danger value missed in an acute
# patient is a missed emergency, one found in a not-acute patient over-triage. Chosen on tuning seeds 23, 7 and 11
# (600 patients each; critical patients at EMERGENCIA after 2 findings, against the model's own P(acute)): x1 gave
# +0.0, -0.6, +0.7 points, x2.5 +2.5, +2.6, +2.9 (x5: +0.7 on seed 7), with over-triage no higher.
ACUTE_PRIORITY = 2.5
# The odds factor `mixture_acute` applies (1.0: the state model's own P(acute), the ranking before this tuning).
ACUTE_ODDS = ACUTE_CALIBRATION * ACUTE_PRIORITY
WEIGHTS = (1.0, 0.1, 0.01, 0.001)  # emergency, triage, state, top condition
SCALE = sum(WEIGHTS)
_ACUTE = STATES.index("ENFERMEDAD_AGUDA")
_CHRONIC = STATES.index("ENFERMEDAD_CRONICA")
_URGENCY = np.array([urgency(s) for s in STATES])
_EMERGENCY_RULES = red_flags.LEVEL_RANKS == 2
_LEVELS = red_flags.TRIAGE_LEVELS  # index = rank: NO_URGENTE, PRIORITARIO, EMERGENCIA
_ZERO = np.zeros(1)


def mixture_acute(acute_p: float) -> float:
    """P(acute) as the mixture of the findings' distributions weighs it: the state model's, its odds times
    `ACUTE_ODDS` (read at each call, so a benchmark can measure the model's own with 1.0)."""
    odds = ACUTE_ODDS * acute_p
    return odds / (1.0 - acute_p + odds) if acute_p < 1.0 else 1.0


class Candidate(NamedTuple):
    """One finding the request leaves open, with its plausible values and their probabilities given the case (a
    named tuple: ~35 are made for every answer, at half a frozen dataclass's cost)."""

    finding: str
    kind: str  # "vital" | "symptom" | "sign" | "pregnancy"
    values: tuple[tuple[Any, float], ...]  # (value, probability); for symptoms and signs only "present"


@dataclass(frozen=True, slots=True)
class Outcomes:
    """What the engine answers for rows of requests, without rare ranking and explanations."""

    level: np.ndarray  # 0 NO_URGENTE, 1 PRIORITARIO, 2 EMERGENCIA
    state: np.ndarray  # index into STATES
    top: np.ndarray  # index of the most likely condition
    danger: np.ndarray  # (rows, rules): the EMERGENCIA-level rules that fired


def outcomes(engine: DiagnosisEngine, requests: Sequence[DiagnoseRequest], rare_alert: np.ndarray,
             cases: Cases | None = None, raw: np.ndarray | None = None,
             expanded: np.ndarray | None = None,
             model_scores: tuple[np.ndarray, np.ndarray] | None = None,
             rules: tuple[np.ndarray, np.ndarray, bool] | None = None) -> Outcomes:
    """The engine's triage level, state and top condition for `requests` (diagnose_many's own formulas; a test
    holds the two together), with `rare_alert` standing in for the rare-disease ranking. `cases` and `raw`: the
    requests already as columns and as the models' raw inputs (`NextFindings.rank` builds its variants that way,
    without request objects; `expanded`, the models' columns, likewise; `model_scores`, the state and condition
    models' scores, likewise). `rules`: (the rules that fire for the request all rows vary, the rules to evaluate
    over the rows, whether those read NEWS2 / qSOFA): the others answer on every row as for the request
    (`next_findings_rules.py`)."""
    cases = cases if cases is not None else Cases(requests)
    if model_scores is None:
        if expanded is None:
            if raw is None:
                rows = requests if len(requests) == cases.n else [requests[0]] * cases.n  # raw_matrix reads `cases`
                raw = engine.features.raw_matrix(rows, cases)
            expanded = engine.features.expand(raw)
        model_scores = (engine.state_model.scores(expanded), engine.condition_model.scores(expanded))
    state_p = softmax(model_scores[0])
    cond_p = softmax(model_scores[1])
    if rules is None:
        fired = red_flags.evaluate_batch(cases)
    else:
        request_fired, needed, with_scores = rules
        fired = np.repeat(request_fired[None, :], cases.n, axis=0)
        codes, columns = _needed_codes(needed)
        if codes:
            zero = np.zeros(cases.n, dtype=np.int64)  # no rule evaluated reads the scores: not computed
            batch = (scores.batch_scores(cases, floors_only=True) if with_scores  # the rules read only the floors
                     else scores.BatchScores(zero, zero, zero, zero))
            red_flags_batch.fired_matrix(cases, batch, codes, fired, columns)
    rules_level = (fired * red_flags.LEVEL_RANKS).max(axis=1)  # (0/1 times a rank: np.where's numbers)
    model_state = np.argmax(state_p, axis=1)
    # 2 where `model_emergency`, else 1 where `model_risk`, else 0, the two sharing their sums (the engine's own).
    model_level = engine.model_levels(state_p, cond_p, model_state)
    priority, _ = engine.priority.of(cond_p, cases.age)  # a listed condition likely (priority_conditions.py)
    level = np.maximum(np.maximum(np.maximum(rules_level, model_level), rare_alert.astype(np.int64)),
                       priority.astype(np.int64))
    state = np.where(level == 2, _ACUTE,
                     np.where(rare_alert & (_URGENCY[model_state] < _URGENCY[_CHRONIC]), _CHRONIC, model_state))
    return Outcomes(level, state, np.argmax(cond_p, axis=1), fired & _EMERGENCY_RULES)


def _needed_codes(needed: np.ndarray) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The codes and positions of the `needed` rules (a request's subset recurs: kept, at most a few thousand)."""
    key = needed.tobytes()
    made = _CODES_OF.get(key)
    if made is None:
        columns = tuple(np.flatnonzero(needed).tolist())
        made = tuple(red_flags.CODES[j] for j in columns), columns
        if len(_CODES_OF) >= 4096:
            _CODES_OF.clear()
        _CODES_OF[key] = made
    return made


_CODES_OF: dict[bytes, tuple[tuple[str, ...], tuple[int, ...]]] = {}


def variant_cases(request: DiagnoseRequest, candidates: Sequence[Candidate]) -> Cases:
    """Row 0 the request, then one row per (candidate, value): the request with that finding set to that value,
    built by copying the request's columns and changing one cell (a request object per variant costs ~10 us each;
    this costs microseconds for all). Every key a candidate can set has its column already (`_register_columns`)."""
    return chunk_cases([request], [candidates])


def chunk_cases(requests: Sequence[DiagnoseRequest], candidates: Sequence[Sequence[Candidate]],
                sizes: Sequence[int] | None = None) -> Cases:
    """`variant_cases` of each request, one after another, as one batch: the requests' columns read once, each
    copied once per variant, and each variant's one changed cell written. `sizes`: each request's rows (1 + its
    candidates' values), when the caller has them."""
    if sizes is None:
        sizes = [1 + sum(len(c.values) for c in cs) for cs in candidates]
    if len(requests) == 1:  # the desktop's one patient: its rows filled directly, no one-row batch to tile
        v = Cases.repeated(requests[0], sizes[0])
    else:
        base = Cases(requests)
        v = object.__new__(Cases)  # the same attributes Cases.__init__ sets, tiled
        v.n = sum(sizes)
        for name in ("age", "female", "duration", "avpu", "pregnant", "postpartum", "weeks", "days_since_delivery",
                     "_symptoms", "_vitals", "_signs"):
            setattr(v, name, np.repeat(getattr(base, name), sizes, axis=0))
        v.requests = [r for r, size in zip(requests, sizes, strict=True) for _ in range(size)]
        v.pregnancy_status = [s for s, size in zip(base.pregnancy_status, sizes, strict=True) for _ in range(size)]
    # Cell by cell: for a hundred cells, numpy's scalar writes cost less than building index arrays.
    vitals, symptoms, signs = v._vitals, v._symptoms, v._signs
    vital_column, symptom_column, sign_column = _cases._VITALS, _cases._SYMPTOMS, _cases._SIGNS
    row = 0
    for cs in candidates:
        row += 1  # the request itself
        for c in cs:
            kind = c.kind
            if kind == "vital":
                j = vital_column[c.finding]
                for value, _ in c.values:
                    vitals[row, j] = value
                    row += 1
            elif kind == "symptom":
                j = symptom_column[c.finding]
                for value, _ in c.values:
                    symptoms[row, j] = value
                    row += 1
            elif kind == "sign":
                signs[row, sign_column[c.finding]] = True
                row += len(c.values)
            else:
                for value, _ in c.values:
                    p: Pregnancy = value
                    v.pregnancy_status[row] = p.status
                    v.pregnant[row], v.postpartum[row] = p.pregnant, p.postpartum
                    v.weeks[row] = np.nan if p.weeks is None else p.weeks
                    v.days_since_delivery[row] = np.nan if p.days_since_delivery is None else p.days_since_delivery
                    row += 1
    return v


def _register_columns(symptoms: Sequence[str], vitals: Sequence[str], sign_codes: Sequence[str]) -> None:
    """Give every key a variant can set its column in the process-wide index of app/core/cases.py, so the columns
    of a one-request batch already hold it."""
    for key in symptoms:
        _cases._SYMPTOMS[key]
    for key in vitals:
        _cases._VITALS[key]
    for code in sign_codes:
        _cases._SIGNS[code]


# A z-score is tabled to a fiftieth of an SD: the table's product `w @ counts` grows with the distinct values (z-scores
# to 1e-9 were ~2,500 a vital and cost 0.5 ms a case), and 0.02 SD is below what a vital is written to at any age
# (heart rate 0.2-0.4 bpm, weight 0.01-0.2 kg).
Z_STEP = 0.02


def z_vitals(references: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray] | None], low: np.ndarray,
             high: np.ndarray, scale: np.ndarray) -> tuple[list[tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]]],
                                                          tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Which vitals (rows of the (vitals, 1) limits) are stored as z-scores, and the limits `_VitalTable.of` writes
    the stored quantiles with: a z-score is tabled unbounded, to `Z_STEP`, and written at the patient's age
    (`AtAge`)."""
    as_z = np.array([ref is not None for ref in references], dtype=bool).reshape(-1, 1)
    limits = (np.where(as_z, -np.inf, low), np.where(as_z, np.inf, high), np.where(as_z, 1.0 / Z_STEP, scale))
    return [(k, ref) for k, ref in enumerate(references) if ref is not None], limits


class AtAge:
    """The z-score vitals' rows of a quantiles table as values at the patient's age (`z_to_values`), written as each
    vital is (its plausible range, its decimals, as `_VitalTable.of` writes absolute ones; both steps are monotone:
    still the mixture's quantiles), all rows in one pass, each age's healthy medians and SDs interpolated once (ages
    recur, in whole years or months: kept, at most a few thousand)."""

    def __init__(self, references: Sequence[tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]]], low: np.ndarray,
                 high: np.ndarray, scale: np.ndarray) -> None:
        self.references = [reference for _, reference in references]
        self.rows = np.array([k for k, _ in references], dtype=np.int64)
        self.low, self.high, self.scale = low[self.rows], high[self.rows], scale[self.rows]  # (vitals, 1) columns
        self._healthy: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def write(self, grids: np.ndarray, age: float) -> None:
        """The z-score rows of `grids` (vitals, levels) as values at `age`, written as each vital is, in place."""
        if not len(self.rows):
            return
        healthy = self._healthy.get(age)
        if healthy is None:
            at = [healthy_at(age, reference) for reference in self.references]
            healthy = np.array([[median] for median, _ in at]), np.array([[sd] for _, sd in at])
            if len(self._healthy) >= 4096:
                self._healthy.clear()
            self._healthy[age] = healthy
        median, sd = healthy
        rows = self.rows
        grids[rows] = np.rint(np.clip(median + grids[rows] * sd, self.low, self.high) * self.scale) / self.scale


@dataclass(frozen=True, slots=True)
class _VitalTable:
    """One age band's vitals as the ranking reads them, built once per bundle: every value a condition's stored
    quantiles take once written as the vital is written (its plausible range, its decimals), per vital ascending,
    and how many of each row's quantiles take it. A case's mixture is then one product (`w @ counts`), and its
    quantiles the values where the mixture's running share first reaches each level. Writing a value is monotone, so
    these are exactly the stored mixture's quantiles, written (what the variants are set to)."""

    n_values: int  # the table's columns: every vital's distinct values, one after another
    values: np.ndarray  # (values,): per vital ascending, the vitals one after another
    first: np.ndarray  # (vitals,): where each vital's values start
    vital: np.ndarray  # (values,): the vital each value belongs to
    end: np.ndarray  # (vitals,): where each vital's values end (the next one's first)
    last: np.ndarray  # (vitals,): each vital's last value (end - 1)
    targets: np.ndarray  # (vitals x GRID_LEVELS,): k + level, what `quantiles` searches for
    # The (rows, values) counts of how many of each row's quantiles take each value, as their non-zero cells, column
    # after column (each row's ~20 quantiles of a vital take a handful of its hundreds of values: 1 cell in 14 is
    # non-zero): each cell's row and count, where each column's cells start, and each vital's cells' span (first,
    # end) as Python ints.
    cell_row: np.ndarray
    cell_count: np.ndarray
    column_start: np.ndarray
    cell_spans: tuple[tuple[int, int], ...]
    spans: tuple[tuple[int, int], ...]  # (first, end) of each vital's columns, as Python ints
    shift: np.ndarray  # `vital` as floats (the same numbers, added without a cast)
    first_column: np.ndarray  # `first` as a column, and `last`
    last_column: np.ndarray

    @classmethod
    def of(cls, q: np.ndarray, low: np.ndarray, high: np.ndarray, scale: np.ndarray) -> _VitalTable:
        """From one band's quantiles `q` (rows, vitals, levels; NaN: never measured) and each vital's plausible
        range and 10 ** decimals (vitals, 1)."""
        n_rows, n_vitals, _ = q.shape
        written = np.rint(np.clip(q, low[None, :, :], high[None, :, :]) * scale[None, :, :]) / scale[None, :, :]
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        first: list[int] = []
        vital: list[np.ndarray] = []
        for k in range(n_vitals):
            distinct = np.unique(written[:, k, :][~np.isnan(written[:, k, :])])
            counts = np.zeros((n_rows, len(distinct)))
            for r in range(n_rows):
                measured = written[r, k][~np.isnan(written[r, k])]
                np.add.at(counts[r], np.searchsorted(distinct, measured), 1.0)
            first.append(sum(len(v) for v in values))
            columns.append(counts)
            values.append(distinct)
            vital.append(np.full(len(distinct), k))
        starts = np.asarray(first, dtype=np.int64)
        end = np.r_[starts[1:], sum(len(v) for v in values)].astype(np.int64)
        targets = (np.asarray(GRID_LEVELS)[None, :] + np.arange(n_vitals)[:, None]).ravel()
        counts = np.ascontiguousarray(np.hstack(columns))
        vital_of = np.concatenate(vital).astype(np.int64)
        cell_column, cell_row = np.nonzero(counts.T)  # column after column, rows ascending within each
        column_start = np.searchsorted(cell_column, np.arange(counts.shape[1]))  # every value is some row's: >= 1 cell
        cell_first = column_start[starts].tolist()
        cell_spans = tuple(zip(cell_first, [*cell_first[1:], len(cell_row)], strict=True))
        return cls(counts.shape[1], np.concatenate(values), starts, vital_of, end, end - 1, targets, cell_row,
                   counts[cell_row, cell_column], column_start, cell_spans,
                   tuple(zip(starts.tolist(), end.tolist(), strict=True)), vital_of.astype(np.float64),
                   starts[:, None].copy(), (end - 1)[:, None].copy())

    def quantiles(self, w: np.ndarray, wanted: Sequence[int] | None = None) -> np.ndarray:
        """(vitals, GRID_LEVELS): each vital's quantiles at GRID_LEVELS in the mixture of rows weighted by `w`, as
        written; NaN where no row with weight measured it. `wanted`: the vitals asked for (the others' rows are
        then meaningless): the product `w @ counts`, most of this step's cost, is made for their columns only. It is
        made from the non-zero cells alone, a column's cells summed in row
        order: a third of a dense product's time, memory-bound on a matrix of ~2,700 mostly empty columns."""
        mass = np.zeros(self.n_values)
        cells, columns = self.cell_spans, self.spans
        for k, last in _runs(range(len(self.first)) if wanted is None else wanted):  # each run of adjacent vitals
            a, b = cells[k][0], cells[last][1]
            first, end = columns[k][0], columns[last][1]
            mass[first:end] = np.add.reduceat(w[self.cell_row[a:b]] * self.cell_count[a:b],
                                              self.column_start[first:end] - a)
        padded = np.concatenate((_ZERO, np.cumsum(mass)))  # running mass, 0 first
        running = padded[1:]
        before = padded[self.first]  # running mass before each vital's first value
        total = padded[self.end] - before
        # One search for all vitals: each vital's running share, in [0, 1], shifted by its number (k + share).
        share = (running - before[self.vital]) / np.where(total > 0, total, 1.0)[self.vital] + self.shift
        index = np.searchsorted(share, self.targets).reshape(len(self.first), -1)
        # Within the vital's own values (np.clip's Python wrapper costs more than the two ufuncs).
        out: np.ndarray = self.values[np.minimum(np.maximum(index, self.first_column), self.last_column)]
        out[total <= 0] = np.nan
        return out


def _runs(ascending: Sequence[int]) -> list[tuple[int, int]]:
    """[(first, last)] of each run of consecutive numbers in `ascending`: [0, 1, 2, 5] -> [(0, 2), (5, 5)]."""
    runs: list[tuple[int, int]] = []
    for k in ascending:
        if runs and runs[-1][1] == k - 1:
            runs[-1] = (runs[-1][0], k)
        else:
            runs.append((k, k))
    return runs


def _additive_weights(engine: DiagnosisEngine, width: int) -> np.ndarray | None:
    """(columns, state classes + condition classes): each model column's weight in the two models' scores, read
    from the models themselves (their scores for each column alone, less their scores for none), or None when the
    models are not additive (their scores for random rows differ from the sum of the weights by more than
    `ADDITIVE_TOLERANCE`): the variants then go through the models."""
    models = (engine.state_model, engine.condition_model)
    probe = np.vstack([np.zeros((1, width), np.float32), np.eye(width, dtype=np.float32)])
    scores = np.hstack([m.scores(probe) for m in models])
    weights: np.ndarray = scores[1:] - scores[0]
    rng = np.random.default_rng(19)
    rows = ((rng.random((64, width)) < 0.15) * rng.random((64, width)) * 2).astype(np.float32)
    expected = np.hstack([m.scores(rows) for m in models])
    worst = float(np.abs(expected - (scores[0] + rows.astype(np.float64) @ weights)).max())
    return weights if worst <= ADDITIVE_TOLERANCE else None


def _merged(values: list[float]) -> tuple[tuple[float, float], ...]:
    """The grid's values with their slices' shares (GRID_WEIGHTS), equal values (adjacent: the grid ascends) merged."""
    merged: list[tuple[float, float]] = []
    last, share = values[0], 0.0
    for value, weight in zip(values, GRID_WEIGHTS, strict=True):
        if value != last:
            merged.append((last, share))
            last, share = value, 0.0
        share += weight  # 0.0 + the first share, then the next ones: as a running total per value
    merged.append((last, share))
    return tuple(merged)


def expanded_variants(specs: Sequence[FeatureSpec], first: Sequence[int], base_expanded: np.ndarray, raw: np.ndarray,
                      changed: Sequence[tuple[int, int]]) -> np.ndarray:
    """`features.expand(raw)` for rows that differ from the first in the `changed` cells only: the first row's
    columns copied, and only the changed inputs' columns written again (a band one-hot, the linear term, the
    "not measured" column), as `FeatureSchema.expand` writes them (a test holds the two equal)."""
    out = np.repeat(base_expanded, raw.shape[0], axis=0)
    for row, j in changed:
        spec = specs[j]
        at = first[j]
        x = float(raw[row, j])
        out[row, at:at + spec.width] = 0.0
        if x != x:  # NaN: not measured
            if not spec.missing:
                raise ValueError(f"{spec.name} is required by the model but missing")
            out[row, at + spec.width - 1] = 1.0  # the "not measured" column is the input's last
            continue
        out[row, at + bisect.bisect_right(spec.cuts, x)] = 1.0
        if spec.linear_scale is not None:
            out[row, at + len(spec.cuts) + 1] = x / spec.linear_scale
    return out


def condition_words(vocabulary: Vocabulary, c: Candidate, value: Any) -> tuple[str, str]:
    """"With SpO2 at 86 %" / "If neck stiffness is present" in the clinic's words, es and en."""
    if c.kind == "vital":
        vital = vocabulary.vital(c.finding)
        shown = f"{value:.{vital.decimals}f}"
        return (f"Con {_lower_first(vital.label['es'])} en {shown} {vital.unit['es']}",
                f"With {_lower_first(vital.label['en'])} at {shown} {vital.unit['en']}")
    if c.kind == "pregnancy":
        status = value.status
        if status == "pregnant":
            weeks = f"{value.weeks:.0f}"
            return f"Si está embarazada ({weeks} semanas)", f"If she is pregnant ({weeks} weeks)"
        if status == "postpartum":
            return "Si tuvo un parto reciente", "If she gave birth recently"
        return "Si no está embarazada", "If she is not pregnant"
    if c.kind == "sign":
        label = signs().sign(c.finding).label
        return f"Si encuentra «{_lower_first(label['es'])}»", f"If you find '{_lower_first(label['en'])}'"
    label = vocabulary.symptom(c.finding).label
    return f"Si hay {_lower_first(label['es'])}", f"If {_lower_first(label['en'])} is present"


def why(vocabulary: Vocabulary, classes: Sequence[str], c: Candidate, effects: np.ndarray, p: np.ndarray,
        lvl: np.ndarray, st: np.ndarray, top: np.ndarray, emergency: bool) -> dict[str, str]:
    """A list item's "why": the headline effect (the first kind of change any value has) with its most likely value
    (`effects`, `p`, `lvl`, `st`, `top`: the candidate's variants' rows, as `NextFindings._ranked` has them;
    `classes`: the condition model's)."""
    rows = effects.tolist()  # (4 effects, a few values): plain Python beats numpy calls on these
    e = next((i for i, row in enumerate(rows) if any(row)), 0)
    chance = p.tolist()
    k = max((i for i, hit in enumerate(rows[e]) if hit), key=chance.__getitem__)  # the first most likely
    value = c.values[k][0]
    es_if, en_if = condition_words(vocabulary, c, value)
    prefix_es, prefix_en = (("Ya es EMERGENCIA: no retrase la atención. ",
                             "Already an emergency: do not delay care. ") if emergency else ("", ""))
    if emergency and e == 0:
        return {"es": f"{prefix_es}{es_if}, habría otro signo de peligro (referir con más urgencia).",
                "en": f"{prefix_en}{en_if}, there would be another danger sign (refer more urgently)."}
    if e == 0:
        return {"es": f"{es_if}, sería EMERGENCIA.", "en": f"{en_if}, it would be an emergency."}
    if e == 1:
        label = TRIAGE_LABELS[_LEVELS[int(lvl[k])]]
        return {"es": f"{es_if}, el triaje pasaría a {label['es']}.",
                "en": f"{en_if}, triage would become {label['en']}."}
    if e == 2:
        state = STATE_LABELS[STATES[int(st[k])]]
        return {"es": f"{prefix_es}{es_if}, el estado pasaría a {state['es']}.",
                "en": f"{prefix_en}{en_if}, the state would become {state['en']}."}
    name = vocabulary.condition(classes[int(top[k])]).name
    return {"es": f"{prefix_es}{es_if}, lo más probable pasaría a ser {name['es']}.",
            "en": f"{prefix_en}{en_if}, the most likely condition would become {name['en']}."}


def places(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """For ascending `keys`: each key's place among the equal keys (0 for the first), and the most equal keys."""
    if not len(keys):
        return keys, 1
    place = np.arange(len(keys)) - np.searchsorted(keys, keys)
    return place, int(place.max()) + 1


def _lower_first(text: str) -> str:
    # "Rigidez de nuca" -> "rigidez de nuca", but an acronym ("IMCI", "MUAC") keeps its capitals.
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


PRESSURES = ("systolic_bp", "diastolic_bp")  # what also moves `pregnancy_pressure` in `late_pregnancy`


def pressure_of(request: DiagnoseRequest, pregnancy: Pregnancy | None, finding: str | None = None,
                value: float | None = None) -> float:
    """`pregnancy_pressure` of `request` with its pregnancy answer `pregnancy` and, given, `finding` (a pressure)
    at `value`."""
    vitals = request.vitals
    systolic = value if finding == "systolic_bp" else vitals.get("systolic_bp")
    diastolic = value if finding == "diastolic_bp" else vitals.get("diastolic_bp")
    return pregnancy_pressure(pregnancy, systolic, diastolic)


def with_finding(request: DiagnoseRequest, c: Candidate, value: Any) -> DiagnoseRequest:
    """`request` with the finding set to `value`."""
    if c.kind == "vital":
        return dataclasses.replace(request, vitals={**request.vitals, c.finding: value})
    if c.kind == "symptom":
        return dataclasses.replace(request, symptoms={**request.symptoms, c.finding: value})
    if c.kind == "sign":
        return dataclasses.replace(request, signs=(*request.signs, c.finding))
    return dataclasses.replace(request, pregnancy=value)
