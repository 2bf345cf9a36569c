"""A frozen copy of app/core/next_findings.py as it was before issue 19's speed-up (commit 72ceca7): the ranking of
what to measure or ask next, one Python pass per request. tests/core/test_next_findings_fast.py holds the fast
ranking's lists identical to this one's (same findings, order, values of information, texts)."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.core.cases import Cases
from app.core.contract import CONTRACT_VITALS, PREGNANCY_AGE, DiagnoseRequest, Pregnancy
from app.core.features import PREGNANCY_CODES, pregnancy_pressure_batch
from app.core.finding_distributions import (
    INTENSITY_LEVELS,
    PREGNANCY_VALUES,
    FindingDistributions,
    age_band,
    z_to_values,
)
from app.core.next_findings_variants import (
    _ACUTE,
    MAX_FINDINGS,
    MAX_IN_EMERGENCY,
    MIN_VALUE_P,
    MIN_VOI,
    RANK_CHUNK,
    RULE_INTENSITY_CUTS,
    SCALE,
    WEIGHTS,
    Candidate,
    Outcomes,
    mixture_acute,
    why,
    z_vitals,
)
from app.core.probability import softmax
from app.core.signs import signs
from tests.core.reference_next_findings_variants import (
    DiagnosisEngine,
    _additive_weights,
    _concatenated,
    _merged,
    _register_columns,
    _VitalTable,
    outcomes,
    variant_cases,
)


def at_age(z: np.ndarray, age: float, reference: tuple[np.ndarray, np.ndarray, np.ndarray], low: float, high: float,
           scale: float) -> np.ndarray:
    """A vital's z-score quantiles as values at `age` (`z_to_values`), written as the vital is: its plausible range,
    its decimals (the app's `AtAge` does this for all rows at once, moved here when the app stopped calling it)."""
    written: np.ndarray = np.rint(np.clip(z_to_values(z, age, reference), low, high) * scale) / scale
    return written


class ReferenceNextFindings:
    """The ranking for one engine (its bundle's distributions, or the generic stand-in)."""

    def __init__(self, engine: DiagnosisEngine) -> None:
        self.engine = engine
        vocabulary = engine.vocabulary
        classes = tuple(engine.condition_model.classes)
        sign_codes = tuple(s.code for s in signs().signs)
        loaded = FindingDistributions.load(engine.bundle.path, classes)
        self.dist = loaded if loaded is not None else FindingDistributions.generic(
            len(classes), vocabulary.symptom_keys, sign_codes, vocabulary.vital_keys)
        # Only findings both the contract and the distributions know are asked about.
        self._symptoms = [(k, j) for j, k in enumerate(self.dist.symptoms) if k in set(vocabulary.symptom_keys)]
        self._signs = [(c, j) for j, c in enumerate(self.dist.signs) if c in set(sign_codes)]
        self._vitals = [(v, j) for j, v in enumerate(self.dist.vitals) if v in set(vocabulary.vital_keys)]
        by_key = {v.key: v for v in vocabulary.vitals}
        self._vital_low = np.array([[by_key[k].plausible[0]] for k, _ in self._vitals])
        self._vital_high = np.array([[by_key[k].plausible[1]] for k, _ in self._vitals])
        self._vital_scale = np.array([[10.0 ** by_key[k].decimals] for k, _ in self._vitals])
        # Vitals stored as z-scores (findings format 2), read at the patient's age: the fast path's own helpers,
        # since this copy checks the speed-ups, not that conversion (tests/core/test_next_findings_age.py does).
        self._z_vitals, self._table_limits = z_vitals([self.dist.reference_of(j) for _, j in self._vitals],
                                                      self._vital_low, self._vital_high, self._vital_scale)
        _register_columns(vocabulary.symptom_keys, (*vocabulary.vital_keys, *CONTRACT_VITALS), sign_codes)
        # Per age band, what every request of that band reads: contiguous, and the vitals' table.
        d = self.dist
        n_bands = d.symptom_p.shape[1]
        vital_columns = [j for _, j in self._vitals]
        n_levels = len(INTENSITY_LEVELS)
        self._band = [(np.ascontiguousarray(d.symptom_p[:, b, :]),
                       np.ascontiguousarray((d.symptom_p[:, b, :, None] * d.symptom_levels[:, b, :, :])
                                            .reshape(d.symptom_p.shape[0], -1)),
                       np.ascontiguousarray(d.sign_p[:, b, :]),
                       _VitalTable.of(d.vital_q[:, b, vital_columns, :], *self._table_limits))
                      for b in range(n_bands)]
        # Each symptom's intensities cut where a danger-sign rule changes its answer (within a slice the rules
        # answer alike): one variant per slice, at the slice's mean intensity. The model's own bands are not cuts:
        # they move the top condition (the last, 0.001 term of VOI), and a variant per band costs more than it tells.
        start: list[int] = []
        low: list[int] = []
        high: list[int] = []
        self._slices_of: list[list[int]] = []
        for j, key in enumerate(d.symptoms):
            edges = sorted(c for c in set(RULE_INTENSITY_CUTS.get(key, ()))
                           if INTENSITY_LEVELS[0] < c <= INTENSITY_LEVELS[-1])
            bounds = [INTENSITY_LEVELS[0], *edges, INTENSITY_LEVELS[-1] + 1]
            self._slices_of.append(list(range(len(start), len(start) + len(bounds) - 1)))
            for a, b in itertools.pairwise(bounds):
                start.append(j * n_levels + a - 1)
                low.append(a)
                high.append(b - 1)
        self._slice_start = np.array(start, dtype=np.int64)
        self._slice_low, self._slice_high = np.array(low), np.array(high)
        self._level_of = np.tile(np.asarray(INTENSITY_LEVELS, np.float64), len(d.symptoms))
        # Where each finding sits in the model's raw inputs (a finding no model input reads, such as height, changes
        # only what the danger-sign rules see).
        specs = engine.features.specs
        self._raw_column = {(spec.kind if spec.kind != "vital_z" else "vital", spec.name): (j, spec)
                            for j, spec in enumerate(specs)}
        widths = [spec.width for spec in specs]
        self._first_column = [sum(widths[:j]) for j in range(len(specs))]
        self._first_column_array = np.asarray(self._first_column, dtype=np.int64)
        self._n_states = len(engine.state_model.classes)
        self._weights = _additive_weights(engine, sum(widths))
        # Per model input, what `variant_scores` needs to place a value in its columns (FeatureSchema.expand's
        # layout): its cuts padded with +inf, its width, its linear term's column (-1: none) and scale, and whether
        # it has a "not measured" column; the weights with a row of zeros for "no linear term".
        most = max((len(spec.cuts) for spec in specs), default=0)
        self._cuts = np.array([[*spec.cuts, *[np.inf] * (most - len(spec.cuts))] for spec in specs]).reshape(
            len(specs), most)
        self._width = np.array(widths, dtype=np.int64)
        self._linear_column = np.array([self._first_column[j] + len(spec.cuts) + 1 if spec.linear_scale is not None
                                        else -1 for j, spec in enumerate(specs)], dtype=np.int64)
        self._linear_scale = np.array([spec.linear_scale or 1.0 for spec in specs])
        self._has_missing = np.array([bool(spec.missing) for spec in specs])
        self._input_of_column = np.repeat(np.arange(len(specs)), widths)
        self._padded_weights = (None if self._weights is None
                                else np.vstack([self._weights, np.zeros((1, self._weights.shape[1]))]))

    # --- candidates -------------------------------------------------------------------------------------------

    def candidates(self, request: DiagnoseRequest, cond_p: np.ndarray, acute_p: float = 0.0,
                   floor: float = MIN_VOI) -> list[Candidate]:
        """The open findings of `request` with their plausible values, given the condition probabilities `cond_p`
        and the probability `acute_p` of the acute state (the models' own, for this request). Symptoms and signs
        less likely than `floor` are left out: their VOI could not reach it."""
        d = self.dist
        band = age_band(request.age)
        symptom_p, symptom_levels, sign_p, vital_table = self._band[band]
        w = np.asarray(cond_p, np.float64)
        w = w / w.sum()
        if d.states == 2:  # rows: every condition not acute, then every condition acute
            acute_p = mixture_acute(acute_p)  # issue 19's recalibration, as the fast path
            w = np.concatenate([w * (1.0 - acute_p), w * acute_p])
        out: list[Candidate] = []
        if any(key not in request.vitals for key, _ in self._vitals):
            grids = vital_table.quantiles(w)  # as the vital is written: its plausible range, its decimals
            for k, reference in self._z_vitals:
                grids[k] = at_age(grids[k], request.age, reference, self._vital_low[k, 0],
                                  self._vital_high[k, 0], self._vital_scale[k, 0])
            never = np.isnan(grids).any(axis=1).tolist()  # never measured in any condition of this band
            for (key, _), picks, skip in zip(self._vitals, grids.tolist(), never, strict=True):
                if not skip and key not in request.vitals:
                    out.append(Candidate(key, "vital", _merged(picks)))
        # Each symptom's intensities in slices (`_symptom_slices`), each slice's probability and mean intensity.
        by_level = w @ symptom_levels  # (symptoms x INTENSITY_LEVELS,): P(symptom at that intensity | case)
        mass = np.add.reduceat(by_level, self._slice_start)
        mean = np.add.reduceat(by_level * self._level_of, self._slice_start) / np.maximum(mass, 1e-300)
        value = np.clip(np.rint(mean), self._slice_low, self._slice_high).astype(np.int64).tolist()
        mass_list = mass.tolist()
        p_list = (w @ symptom_p).tolist()
        for key, j in self._symptoms:
            if p_list[j] >= floor and key not in request.symptoms:
                values = tuple((value[k], mass_list[k]) for k in self._slices_of[j] if mass_list[k] >= MIN_VALUE_P)
                if values:
                    out.append(Candidate(key, "symptom", values))
        p_sign = (w @ sign_p).tolist()
        for code, j in self._signs:
            if p_sign[j] >= floor and code not in request.signs and signs().applies(code, request.age, request.sex):
                out.append(Candidate(code, "sign", ((True, p_sign[j]),)))
        low, high = PREGNANCY_AGE
        if request.sex == "F" and low <= request.age <= high and request.pregnancy is None:
            p = w @ d.pregnancy_p[:, band, :]
            p = p / max(float(p.sum()), 1e-12)
            weeks = float(np.clip(round(float(w @ d.weeks[:, band])), 1, 45))
            days = float(np.clip(round(float(w @ d.days[:, band])), 0, 42))
            made = {"pregnant": Pregnancy("pregnant", weeks=weeks),
                    "postpartum": Pregnancy("postpartum", days_since_delivery=days),
                    "not_pregnant": Pregnancy("not_pregnant")}
            asked: tuple[tuple[Any, float], ...] = tuple((made[s], float(p[i])) for i, s in
                                                          enumerate(PREGNANCY_VALUES) if p[i] > 0)
            out.append(Candidate("pregnant", "pregnancy", asked))
        return out

    def variant_raw(self, request: DiagnoseRequest, candidates: Sequence[Candidate],
                    base: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The models' raw inputs of `variant_cases`' rows (the request's row `base`, copied, with one finding
        changed), and which (row, input) cells changed."""
        if base is None:
            base = self.engine.features.raw_matrix([request])
        raw = np.repeat(base, 1 + sum(len(c.values) for c in candidates), axis=0)
        changed: list[tuple[int, int]] = []
        column = self._raw_column
        row = 1
        for c in candidates:
            if c.kind == "pregnancy":
                for value, _ in c.values:
                    for kind, number in (("pregnancy_status", PREGNANCY_CODES[value.status]),
                                         ("pregnancy_weeks", value.weeks), ("postpartum_days",
                                                                            value.days_since_delivery)):
                        at = column.get((kind, kind))
                        if at is not None:
                            raw[row, at[0]] = np.nan if number is None else number
                            changed.append((row, at[0]))
                    row += 1
                continue
            at = column.get((c.kind, c.finding))
            if at is None:
                row += len(c.values)
                continue
            j, spec = at
            median, sd = 0.0, 1.0
            if spec.kind == "vital_z":  # FeatureSpec.z_score's own formula, its two look-ups made once per vital
                ages, medians, sds = spec._reference_arrays()
                median = float(np.interp(request.age, ages, medians))
                sd = float(np.interp(request.age, ages, sds))
            for value, _ in c.values:
                raw[row, j] = (value - median) / sd if spec.kind == "vital_z" else 1.0 if c.kind == "sign" else value
                changed.append((row, j))
                row += 1
        # The input that reads pressure and pregnancy together (bundles from 2026-12), from the variants' own columns
        # (added after this copy was frozen: a pressure or a pregnancy answer changes it too).
        pressure = next((j for j, s in enumerate(self.engine.features.specs) if s.kind == "pregnancy_pressure"), None)
        if pressure is not None:
            derived = pregnancy_pressure_batch(variant_cases(request, candidates))
            old = raw[:, pressure]
            for r in np.flatnonzero(~((derived == old) | (np.isnan(derived) & np.isnan(old)))).tolist():
                raw[r, pressure] = derived[r]
                changed.append((r, pressure))
            changed.sort()  # row by row, as the ranking's own cells come
        return raw, changed

    def expand_variants(self, base_expanded: np.ndarray, raw: np.ndarray,
                        changed: Sequence[tuple[int, int]]) -> np.ndarray:
        """`features.expand(raw)` for rows that differ from the first in the `changed` cells only: the first row's
        columns copied, and only the changed inputs' columns written again (a band one-hot, the linear term, the
        "not measured" column), as `FeatureSchema.expand` writes them (a test holds the two equal)."""
        out = np.repeat(base_expanded, raw.shape[0], axis=0)
        specs = self.engine.features.specs
        first = self._first_column
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

    def variant_outcomes(self, request: DiagnoseRequest, candidates: Sequence[Candidate], rare_alert: bool,
                         base: np.ndarray | None = None, base_expanded: np.ndarray | None = None) -> Outcomes:
        """Row 0 the request, then each (candidate, value) variant, answered in one batch (`outcomes`)."""
        features = self.engine.features
        if base is None:
            base = features.raw_matrix([request])
        if base_expanded is None:
            base_expanded = features.expand(base)
        cases = variant_cases(request, candidates)
        raw, changed = self.variant_raw(request, candidates, base)
        alert = np.full(cases.n, rare_alert, dtype=bool)
        if self._weights is None:
            return outcomes(self.engine, [request], alert, cases,
                            expanded=self.expand_variants(base_expanded, raw, changed))
        return outcomes(self.engine, [request], alert, cases,
                        model_scores=self.variant_scores(base_expanded, raw, changed))

    def variant_scores(self, base_expanded: np.ndarray, raw: np.ndarray, changed: Sequence[tuple[int, int]],
                       base_scores: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The state and condition models' scores of the variants, without running the models on them: the models
        are additive in their columns (`_additive_weights` checks it at load), so a variant's scores are the
        request's (the models run on its one row, as `diagnose` runs them) plus, for each changed input, the
        weights of its new columns minus those of its old ones (a test holds them to the models run on the rows)."""
        weights = self._weights
        assert weights is not None and self._padded_weights is not None
        if base_scores is None:  # the models on the request's one row, as `diagnose` runs them
            base_scores = (self.engine.state_model.scores(base_expanded),
                           self.engine.condition_model.scores(base_expanded))
        base = np.hstack(base_scores)[0]
        out = np.repeat(base[None, :], raw.shape[0], axis=0)
        if not changed:
            return out[:, :self._n_states], out[:, self._n_states:]
        cell = np.asarray(changed, dtype=np.int64)
        rows, inputs = cell[:, 0], cell[:, 1]
        x = raw[rows, inputs]
        measured = ~np.isnan(x)
        if not (measured | self._has_missing[inputs]).all():
            j = int(inputs[~(measured | self._has_missing[inputs])][0])
            raise ValueError(f"{self.engine.features.specs[j].name} is required by the model but missing")
        # The input's band (the number of its cuts at or below the value, as `FeatureSchema.expand` counts them),
        # else its "not measured" column; its linear term (x / scale, as float32 like the models' columns), if any.
        band = (self._cuts[inputs] <= x[:, None]).sum(axis=1)
        first = self._first_column_array[inputs]
        ones = np.where(measured, first + band, first + self._width[inputs] - 1)
        has_linear = measured & (self._linear_column[inputs] >= 0)
        linear = np.where(has_linear, self._linear_column[inputs], weights.shape[0])
        term = np.where(has_linear, x / self._linear_scale[inputs], 0.0).astype(np.float32).astype(np.float64)
        # What each input adds to the request's scores now: the weights of its few non-zero columns (x0 is sparse).
        x0 = base_expanded[0].astype(np.float64)
        nonzero = np.flatnonzero(x0)
        owner = self._input_of_column[nonzero]
        groups = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        old = np.zeros((len(self._width), weights.shape[1]))
        old[owner[groups]] = np.add.reduceat(x0[nonzero, None] * weights[nonzero], groups, axis=0)
        padded = self._padded_weights
        delta = padded[ones] + term[:, None] * padded[linear] - old[inputs]
        # `changed` comes row by row (a pregnancy answer changes up to three inputs of its row): sum per row.
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        out[rows[starts]] += np.add.reduceat(delta, starts, axis=0)
        return out[:, :self._n_states], out[:, self._n_states:]

    # --- ranking ----------------------------------------------------------------------------------------------

    def rank(self, request: DiagnoseRequest, rare_alert: bool = False,
             alone: tuple[np.ndarray, np.ndarray, float] | None = None, floor: float = MIN_VOI,
             limit: int | None = None) -> list[dict[str, Any]]:
        """`next_findings` for one request: best first, at most `limit` (default 5, or 3 in an emergency); every
        candidate scored in one batch of variants (`outcomes`).

        The condition probabilities that weigh the values come from the request alone (a batch of one), not from
        the caller's batch: onnxruntime's last float32 digits depend on a batch's shape, and the list must be the
        same whether the request came alone or with thousands (diagnose vs diagnose_many, the service's batches).
        `alone`: the engine's own (model columns, condition probabilities, P(acute)) when it diagnosed the request
        as a batch of one, the same numbers this would compute again."""
        return self.rank_many([request], [rare_alert], alone, floor, limit)[0]

    def rank_many(self, requests: Sequence[DiagnoseRequest], rare_alerts: Sequence[bool],
                  alone: tuple[np.ndarray, np.ndarray, float] | None = None, floor: float = MIN_VOI,
                  limit: int | None = None) -> list[list[dict[str, Any]]]:
        """`rank` for each request, the variants of all of them answered in ONE batch: the danger-sign rules cost
        about the same for one row as for hundreds (~0.7 ms a call, numpy's per-call overhead), so a batch of
        requests shares one call. Each request's list is the one `rank` gives it alone (its probabilities and model
        scores come from its own row; the rules read each row alone). `alone`: as in `rank`, for a batch of one.
        Requests go `RANK_CHUNK` at a time: the rules' overhead is shared, and a service batch's variants (~80 rows
        a request) never all sit in memory at once."""
        if len(requests) > RANK_CHUNK:
            return [ranked for at in range(0, len(requests), RANK_CHUNK)
                    for ranked in self.rank_many(requests[at:at + RANK_CHUNK], rare_alerts[at:at + RANK_CHUNK],
                                                 None, floor, limit)]
        features = self.engine.features
        prepared: list[tuple[list[Candidate], Cases]] = []
        state_scores: list[np.ndarray] = []
        condition_scores: list[np.ndarray] = []
        for request in requests:
            base = features.raw_matrix([request])
            base_scores = None
            if alone is not None and len(requests) == 1:
                expanded, cond_p, acute_p = alone
            else:
                expanded = features.expand(base)
                base_scores = (self.engine.state_model.scores(expanded), self.engine.condition_model.scores(expanded))
                cond_p = softmax(base_scores[1])[0]
                acute_p = float(softmax(base_scores[0])[0, _ACUTE])
            candidates = self.candidates(request, cond_p, acute_p, floor)
            raw, changed = self.variant_raw(request, candidates, base)
            if self._weights is not None:
                scores = self.variant_scores(expanded, raw, changed, base_scores)
            else:
                variants = self.expand_variants(expanded, raw, changed)
                scores = (self.engine.state_model.scores(variants), self.engine.condition_model.scores(variants))
            prepared.append((candidates, variant_cases(request, candidates)))
            state_scores.append(scores[0])
            condition_scores.append(scores[1])
        sizes = [cases.n for _, cases in prepared]
        alerts = np.repeat(np.asarray(rare_alerts, dtype=bool), sizes)
        both = outcomes(self.engine, [], alerts, _concatenated([cases for _, cases in prepared]),
                        model_scores=(np.vstack(state_scores), np.vstack(condition_scores)))
        lists: list[list[dict[str, Any]]] = []
        start = 0
        for (candidates, _), size in zip(prepared, sizes, strict=True):
            part = slice(start, start + size)
            start += size
            lists.append(self._ranked(candidates, Outcomes(both.level[part], both.state[part], both.top[part],
                                                           both.danger[part]), floor, limit))
        return lists

    def _ranked(self, candidates: list[Candidate], out: Outcomes, floor: float,
                limit: int | None) -> list[dict[str, Any]]:
        """One request's list from its variants' outcomes (row 0 the request itself)."""
        owner = np.repeat(np.arange(len(candidates)), [len(c.values) for c in candidates])
        base_level = int(out.level[0])
        emergency = base_level == 2
        lvl, st, top = out.level[1:], out.state[1:], out.top[1:]
        if emergency:  # only what changes the management; a lower level is never a reason to look
            stays = lvl == 2
            first = (out.danger[1:] & ~out.danger[0]).any(axis=1) & stays
            second = np.zeros_like(first)
            third = (st != out.state[0]) & stays
            fourth = (top != out.top[0]) & stays
        else:
            first = lvl == 2
            second = lvl != base_level
            third = st != out.state[0]
            fourth = top != out.top[0]
        effects = np.vstack([first, second, third, fourth])  # (4, variants)
        p = np.array([v for c in candidates for _, v in c.values])
        owners = owner.astype(np.int64)
        changes = np.zeros((4, len(candidates)))
        for e in range(4):
            changes[e] = np.bincount(owners, weights=p * effects[e], minlength=len(candidates)) if owners.size else 0
        voi = np.asarray(WEIGHTS) @ changes / SCALE
        order = sorted(range(len(candidates)), key=lambda i: -voi[i])  # stable: vitals, symptoms, signs, pregnancy
        cap = limit if limit is not None else (MAX_IN_EMERGENCY if emergency else MAX_FINDINGS)
        result: list[dict[str, Any]] = []
        start = np.concatenate([[0], np.cumsum([len(c.values) for c in candidates])]).astype(np.int64)
        for i in order:
            if voi[i] < floor or voi[i] <= 0 or len(result) >= cap:
                break
            c = candidates[i]
            span = slice(int(start[i]), int(start[i + 1]))
            could = [name for name, e in zip(("triage", "state", "top_condition"),
                                             (changes[0, i] + changes[1, i], changes[2, i], changes[3, i]),
                                             strict=True) if e > 0]
            result.append({"finding": c.finding, "kind": c.kind,
                           "why": self._why(c, effects[:, span], p[span], lvl[span], st[span], top[span],
                                            emergency),
                           "could_change": could, "value_of_information": round(float(min(voi[i], 1.0)), 4)})
        return result

    # --- words ------------------------------------------------------------------------------------------------

    def _why(self, c: Candidate, effects: np.ndarray, p: np.ndarray, lvl: np.ndarray, st: np.ndarray,
             top: np.ndarray, emergency: bool) -> dict[str, str]:
        # The app's own words for the effects this copy found (wording is not what it holds the ranking to).
        return why(self.engine.vocabulary, self.engine.condition_model.classes, c, effects, p, lvl, st, top, emergency)




def with_finding(request: DiagnoseRequest, c: Candidate, value: Any) -> DiagnoseRequest:
    """`request` with the finding set to `value`."""
    if c.kind == "vital":
        return dataclasses.replace(request, vitals={**request.vitals, c.finding: value})
    if c.kind == "symptom":
        return dataclasses.replace(request, symptoms={**request.symptoms, c.finding: value})
    if c.kind == "sign":
        return dataclasses.replace(request, signs=(*request.signs, c.finding))
    return dataclasses.replace(request, pregnancy=value)
