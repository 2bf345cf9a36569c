"""A frozen copy of app/core/next_findings_variants.py as it was before issue 19's speed-up (commit 72ceca7): the
variant cases and their outcomes, built the slow, obvious way. tests/core/test_next_findings_fast.py holds the fast
ranking's lists identical to this one's; only the tuning constants and the result types are shared with app/core."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from app.core import cases as _cases
from app.core import red_flags
from app.core.bundle import ModelBundle
from app.core.cases import Cases
from app.core.contract import DiagnoseRequest, Pregnancy
from app.core.features import FeatureSchema
from app.core.next_findings_variants import (  # the tuning constants and result types are shared
    _ACUTE,
    _CHRONIC,
    _EMERGENCY_RULES,
    _URGENCY,
    ADDITIVE_TOLERANCE,
    GRID_LEVELS,
    GRID_WEIGHTS,
    Candidate,
    Outcomes,
)
from app.core.probability import softmax
from app.core.vocabulary import Vocabulary


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

    def model_risk(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray: ...

    def model_emergency(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray: ...


def outcomes(engine: DiagnosisEngine, requests: Sequence[DiagnoseRequest], rare_alert: np.ndarray,
             cases: Cases | None = None, raw: np.ndarray | None = None,
             expanded: np.ndarray | None = None,
             model_scores: tuple[np.ndarray, np.ndarray] | None = None) -> Outcomes:
    """The engine's triage level, state and top condition for `requests` (diagnose_many's own formulas; a test
    holds the two together), with `rare_alert` standing in for the rare-disease ranking. `cases` and `raw`: the
    requests already as columns and as the models' raw inputs (`NextFindings.rank` builds its variants that way,
    without request objects; `expanded`, the models' columns, likewise; `model_scores`, the state and condition
    models' scores, likewise)."""
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
    fired = red_flags.evaluate_batch(cases)
    rules_level = np.max(np.where(fired, red_flags.LEVEL_RANKS, 0), axis=1)
    model_level = np.where(engine.model_emergency(state_p, cond_p), 2,
                           np.where(engine.model_risk(state_p, cond_p), 1, 0))
    priority, _ = engine.priority.of(cond_p, cases.age)  # a listed condition likely (priority_conditions.py)
    level = np.maximum(np.maximum(np.maximum(rules_level, model_level), rare_alert.astype(np.int64)),
                       priority.astype(np.int64))
    model_state = np.argmax(state_p, axis=1)
    state = np.where(level == 2, _ACUTE,
                     np.where(rare_alert & (_URGENCY[model_state] < _URGENCY[_CHRONIC]), _CHRONIC, model_state))
    return Outcomes(level, state, np.argmax(cond_p, axis=1), fired & _EMERGENCY_RULES)


def variant_cases(request: DiagnoseRequest, candidates: Sequence[Candidate]) -> Cases:
    """Row 0 the request, then one row per (candidate, value): the request with that finding set to that value,
    built by copying the request's columns and changing one cell (a request object per variant costs ~10 us each;
    this costs microseconds for all). Every key a candidate can set has its column already (`_register_columns`)."""
    base = Cases([request])
    counts = [len(c.values) for c in candidates]
    n = 1 + sum(counts)
    v = object.__new__(Cases)  # the same attributes Cases.__init__ sets, tiled
    v.n, v.requests = n, [request] * n
    for name in ("age", "female", "duration", "avpu", "pregnant", "postpartum", "weeks", "days_since_delivery",
                 "_symptoms", "_vitals", "_signs"):
        setattr(v, name, np.repeat(getattr(base, name), n, axis=0))
    v.pregnancy_status = base.pregnancy_status * n
    row = 1
    for c in candidates:
        for value, _ in c.values:
            if c.kind == "vital":
                v._vitals[row, _cases._VITALS[c.finding]] = value
            elif c.kind == "symptom":
                v._symptoms[row, _cases._SYMPTOMS[c.finding]] = value
            elif c.kind == "sign":
                v._signs[row, _cases._SIGNS[c.finding]] = True
            else:
                p: Pregnancy = value
                v.pregnancy_status[row] = p.status
                v.pregnant[row], v.postpartum[row] = p.pregnant, p.postpartum
                v.weeks[row] = np.nan if p.weeks is None else p.weeks
                v.days_since_delivery[row] = np.nan if p.days_since_delivery is None else p.days_since_delivery
            row += 1
    return v


def _concatenated(parts: Sequence[Cases]) -> Cases:
    """`parts` (`variant_cases`' batches) as one batch, rows in order; the findings' columns padded to the widest
    (a key registered between two parts has no column in the first: there it was not given)."""
    if len(parts) == 1:
        return parts[0]
    v = object.__new__(Cases)
    v.n = sum(p.n for p in parts)
    v.requests = [r for p in parts for r in p.requests]
    for name in ("age", "female", "duration", "avpu", "pregnant", "postpartum", "weeks", "days_since_delivery"):
        setattr(v, name, np.concatenate([getattr(p, name) for p in parts]))
    for name, empty in (("_symptoms", 0), ("_vitals", np.nan), ("_signs", False)):
        width = max(getattr(p, name).shape[1] for p in parts)
        setattr(v, name, np.vstack([np.pad(getattr(p, name), ((0, 0), (0, width - getattr(p, name).shape[1])),
                                           constant_values=empty) for p in parts]))
    v.pregnancy_status = [s for p in parts for s in p.pregnancy_status]
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


@dataclass(frozen=True, slots=True)
class _VitalTable:
    """One age band's vitals as the ranking reads them, built once per bundle: every value a condition's stored
    quantiles take once written as the vital is written (its plausible range, its decimals), per vital ascending,
    and how many of each row's quantiles take it. A case's mixture is then one product (`w @ counts`), and its
    quantiles the values where the mixture's running share first reaches each level. Writing a value is monotone, so
    these are exactly the stored mixture's quantiles, written (what the variants are set to)."""

    counts: np.ndarray  # (rows, values): how many of the row's quantiles take each value
    values: np.ndarray  # (values,): per vital ascending, the vitals one after another
    first: np.ndarray  # (vitals,): where each vital's values start
    vital: np.ndarray  # (values,): the vital each value belongs to

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
        return cls(np.ascontiguousarray(np.hstack(columns)), np.concatenate(values),
                   np.asarray(first, dtype=np.int64), np.concatenate(vital).astype(np.int64))

    def quantiles(self, w: np.ndarray) -> np.ndarray:
        """(vitals, GRID_LEVELS): each vital's quantiles at GRID_LEVELS in the mixture of rows weighted by `w`, as
        written; NaN where no row with weight measured it."""
        mass = w @ self.counts
        running = np.cumsum(mass)
        before = np.r_[0.0, running][self.first]  # running mass before each vital's first value
        end = np.r_[self.first[1:], len(mass)]
        total = np.r_[0.0, running][end] - before
        n_vitals = len(self.first)
        # One search for all vitals: each vital's running share, in [0, 1], shifted by its number (k + share).
        share = (running - before[self.vital]) / np.where(total > 0, total, 1.0)[self.vital] + self.vital
        targets = (np.asarray(GRID_LEVELS)[None, :] + np.arange(n_vitals)[:, None]).ravel()
        index = np.searchsorted(share, targets).reshape(n_vitals, -1)
        index = np.clip(index, self.first[:, None], end[:, None] - 1)
        out = self.values[np.minimum(index, len(self.values) - 1)]
        out[total <= 0] = np.nan
        return out


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
    merged: dict[float, float] = {}
    for value, weight in zip(values, GRID_WEIGHTS, strict=True):
        merged[value] = merged.get(value, 0.0) + weight
    return tuple(merged.items())
