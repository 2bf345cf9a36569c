"""What to measure or ask next: the findings a request does not give, ranked by how much knowing them could change
the answer (value of information, issue 19). numpy only; no Qt.

For each request, the candidates are the findings it leaves open: unmeasured vitals, vocabulary symptoms not
entered, examination signs not ticked, and the pregnancy question for a woman of 10-60 years who was not asked (a
finding neither model nor danger-sign rule reads, such as height, could change nothing and is never tried). Each
candidate gets a few plausible values with their probabilities given the case, from the knowledge base's conditional
distributions mixed by the condition model's probabilities (P(value | case) = sum_c P(c | case) P(value | c, age
band), each condition's acute and not-acute patients weighed by the state model's P(acute | case), its odds times
`ACUTE_ODDS`: the model reads an unasked sign as absent, so on an open request it is ~4x too low, and acute
patients' findings weigh 2.5x more, next_findings_variants.py; `finding_distributions.py`): a vital eight values
(midpoints of slices of its mixture, narrow at the tails where danger values are: 2%, 8%, 20%, 20%, 20%, 20%, 8%,
2%; cuts at the danger-sign rules' limits lost 1.9 and 0.7 points after 2 findings on tuning seeds 23 and 7; a vital
with a healthy value by age mixed as z-scores and read at the patient's age, so a 14-year-old is not offered a
4-year-old's weight), a symptom one value per slice of its intensities cut where a danger-sign rule changes its answer
(`RULE_INTENSITY_CUTS`: "dificultad_respirar >= 8" is in the tail, not at the mean; each slice at its mean
intensity, with its probability), a sign "present" (an absence is what the request already says: no change). Every
variant of the request (one finding set to one value) goes through the engine's danger-sign rules and triage in ONE
batch, without the rare-disease ranking and the explanations; its model scores are the request's plus the weights of
the columns of the inputs that change (one; a pressure in late pregnancy also moves `pregnancy_pressure`, a pregnancy
answer up to four) (the models are additive: read once per bundle, checked against the models at
load, and a test holds the sums to the models run on the variants); for one request only the rules that read a
finding some candidate changes go over the variants, the others answer once for the request
(`next_findings_rules.py`), and a batch of requests shares one pass (`rank_many`). Each candidate is scored by the
chance it changes what matters, lexicographically:

    VOI = (P(it becomes EMERGENCIA) + 0.1 P(triage level changes) + 0.01 P(state changes)
           + 0.001 P(top condition changes)) / 1.111        in [0, 1]

so a finding with a plausible value that is a danger sign ranks first, then one that moves the triage level, then
the state, then the most likely condition. When the request already is EMERGENCIA the answer must never wait for
questions: only findings that would change the management stay (a further danger sign, which raises the urgency of
referral, or a different most likely condition), at most `MAX_IN_EMERGENCY`, and each `why` says the emergency
comes first. A change with probability below `MIN_VOI` is not worth a question; since VOI never exceeds the
probability of the values that differ from what the request says, candidates below it are skipped before the batch.

Known simplifications: the rare-disease alert is held at the request's own (the ranking is not re-run for the
variants), and symptoms are taken as independent given the condition.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.core import red_flags
from app.core.contract import CONTRACT_VITALS, PREGNANCY_AGE, DiagnoseRequest, Pregnancy
from app.core.features import PREGNANCY_CODES, late_pregnancy
from app.core.finding_distributions import INTENSITY_LEVELS, PREGNANCY_VALUES, FindingDistributions, age_band
from app.core.next_findings_rules import PREGNANCY, RuleSubsets
from app.core.next_findings_variants import (
    _ACUTE,
    MAX_FINDINGS,
    MAX_IN_EMERGENCY,
    MIN_VALUE_P,
    MIN_VOI,
    PRESSURES,
    RANK_CHUNK,
    RULE_INTENSITY_CUTS,
    SCALE,
    WEIGHTS,
    AtAge,
    Candidate,
    DiagnosisEngine,
    Outcomes,
    _additive_weights,
    _merged,
    _register_columns,
    _VitalTable,
    chunk_cases,
    expanded_variants,
    mixture_acute,
    outcomes,
    places,
    pressure_of,
    variant_cases,
    why,
    z_vitals,
)
from app.core.next_findings_variants import with_finding as with_finding  # where callers have always found it
from app.core.probability import softmax
from app.core.signs import signs

# What the engine already has for a request it diagnosed alone: its model columns, condition probabilities and
# P(acute), and optionally the two models' scores of its row and the danger-sign rules that fired for it (their
# positions in red_flags.RULES), then not computed again.
Alone = (tuple[np.ndarray, np.ndarray, float] | tuple[np.ndarray, np.ndarray, float, tuple[np.ndarray, np.ndarray]]
         | tuple[np.ndarray, np.ndarray, float, tuple[np.ndarray, np.ndarray], Sequence[int]])


class NextFindings:
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
        # Each asked symptom's and sign's column in the distributions, for the candidate step's masks.
        self._symptom_of = {k: j for k, j in self._symptoms}
        self._sign_of = {c: j for c, j in self._signs}
        self._symptom_columns = np.array([j for _, j in self._symptoms], dtype=np.int64)
        self._sign_columns = np.array([j for _, j in self._signs], dtype=np.int64)
        by_key = {v.key: v for v in vocabulary.vitals}
        self._vital_low = np.array([[by_key[k].plausible[0]] for k, _ in self._vitals])
        self._vital_high = np.array([[by_key[k].plausible[1]] for k, _ in self._vitals])
        self._vital_scale = np.array([[10.0 ** by_key[k].decimals] for k, _ in self._vitals])
        # A vital stored as z-scores (format 2) is tabled as z (unwritten) and written at the patient's age.
        self._z_vitals, self._table_limits = z_vitals([self.dist.reference_of(j) for _, j in self._vitals],
                                                      self._vital_low, self._vital_high, self._vital_scale)
        self._at_age = AtAge(self._z_vitals, self._vital_low, self._vital_high, self._vital_scale)
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
        self._rule_subsets = RuleSubsets()  # which danger-sign rules read which finding
        subsets = self._rule_subsets
        # Per candidate kind and finding, the rules that read it (bit j: rule j); the pregnancy answer is one finding.
        self._rules_of = {kind: subsets.bits_of(kind) for kind in ("vital", "symptom", "sign")}
        self._rules_of_pregnancy = subsets.bits_of(PREGNANCY[0]).get(PREGNANCY[1], 0)
        # A finding neither model nor any danger-sign rule reads (height) changes nothing: never tried (its VOI is 0).
        self._vitals_tried = [k for k, (key, _) in enumerate(self._vitals) if self._reads(("vital", key))]
        self._symptom_tried = np.array([self._reads(("symptom", key)) for key in d.symptoms])
        self._sign_tried = np.array([self._reads(("sign", code)) for code in d.signs])
        self._z_reference: dict[tuple[int, float], tuple[float, float]] = {}  # (input, age): median and SD
        # The input that reads blood pressure and pregnancy together (features.pregnancy_pressure), if the bundle's
        # models have it: a pressure or a pregnancy answer changes it too.
        self._pressure = next((j for j, spec in enumerate(specs) if spec.kind == "pregnancy_pressure"), None)
        self._padded_weights = (None if self._weights is None
                                else np.vstack([self._weights, np.zeros((1, self._weights.shape[1]))]))

    def _reads(self, finding: tuple[str, str]) -> bool:
        """Whether a model input or a danger-sign rule reads `finding` (a rule that may read anything: yes)."""
        inputs = self._rule_subsets.inputs
        return (finding in self._raw_column or any(i is None or finding in i for i in inputs))

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
            acute_p = mixture_acute(acute_p)  # the model's P(acute) recalibrated for an open request
            w = np.concatenate([w * (1.0 - acute_p), w * acute_p])
        out: list[Candidate] = []
        vitals = self._vitals
        wanted = [k for k in self._vitals_tried if vitals[k][0] not in request.vitals]
        if wanted:
            grids = vital_table.quantiles(w, wanted)  # as the vital is written: its plausible range, its decimals
            self._at_age.write(grids, request.age)  # z-scores: at the patient's own age, then written
            never = np.isnan(grids[:, 0]).tolist()  # never measured in any condition of this band (a NaN row)
            picks = grids.tolist()
            for k in wanted:
                if not never[k]:
                    out.append(Candidate(vitals[k][0], "vital", _merged(picks[k])))
        # Each symptom's intensities in slices (`_symptom_slices`), each slice's probability and mean intensity.
        by_level = w @ symptom_levels  # (symptoms x INTENSITY_LEVELS,): P(symptom at that intensity | case)
        mass = np.add.reduceat(by_level, self._slice_start)
        mean = np.add.reduceat(by_level * self._level_of, self._slice_start) / np.maximum(mass, 1e-300)
        value = np.minimum(np.maximum(np.rint(mean), self._slice_low), self._slice_high).astype(np.int64).tolist()
        mass_list = mass.tolist()
        # Only the few symptoms and signs likely enough and not given are looked at one by one.
        p_symptom = w @ symptom_p
        open_symptoms = (p_symptom >= floor) & self._symptom_tried
        given = [self._symptom_of[k] for k in request.symptoms if k in self._symptom_of]
        open_symptoms[given] = False
        slices_of, symptoms = self._slices_of, self._symptoms
        for j in np.flatnonzero(open_symptoms[self._symptom_columns]).tolist():
            key, column = symptoms[j]
            values = tuple([(value[k], mass_list[k]) for k in slices_of[column] if mass_list[k] >= MIN_VALUE_P])
            if values:
                out.append(Candidate(key, "symptom", values))
        p_sign = w @ sign_p
        open_signs = (p_sign >= floor) & self._sign_tried
        found = [self._sign_of[c] for c in request.signs if c in self._sign_of]
        open_signs[found] = False
        for j in np.flatnonzero(open_signs[self._sign_columns]).tolist():
            code, column = self._signs[j]
            if signs().applies(code, request.age, request.sex):  # its ages and sex (signs.toml): no grunting at 78
                out.append(Candidate(code, "sign", ((True, float(p_sign[column])),)))
        low, high = PREGNANCY_AGE
        if request.sex == "F" and low <= request.age <= high and request.pregnancy is None:
            p = w @ d.pregnancy_p[:, band, :]
            p = p / max(float(p.sum()), 1e-12)
            weeks = float(min(max(round(float(w @ d.weeks[:, band])), 1), 45))  # np.clip's values, without its call
            days = float(min(max(round(float(w @ d.days[:, band])), 0), 42))
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
        rows, inputs, x = self._changes(request, candidates)
        raw[rows, inputs] = x
        return raw, list(zip(rows.tolist(), inputs.tolist(), strict=True))

    def _changes(self, request: DiagnoseRequest,
                 candidates: Sequence[Candidate]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (row, model input, new raw value) of every cell a variant changes, row by row (row 0: the request):
        all `variant_scores` needs, without a copy of the request's raw row per variant."""
        rows: list[int] = []
        inputs: list[int] = []
        x: list[float] = []
        column = self._raw_column
        pressure = self._pressure
        row = 1
        for c in candidates:
            if c.kind == "pregnancy":
                for value, _ in c.values:
                    for kind, number in (("pregnancy_status", PREGNANCY_CODES[value.status]),
                                         ("pregnancy_weeks", value.weeks), ("postpartum_days",
                                                                            value.days_since_delivery)):
                        at = column.get((kind, kind))
                        if at is not None:
                            rows.append(row)
                            inputs.append(at[0])
                            x.append(np.nan if number is None else number)
                    if pressure is not None:
                        rows.append(row)
                        inputs.append(pressure)
                        x.append(pressure_of(request, value))
                    row += 1
                continue
            at = column.get((c.kind, c.finding))
            n = len(c.values)
            if at is None:
                row += n
                continue
            j, spec = at
            start = len(x)
            if n == 1:  # a sign, a symptom's one slice
                rows.append(row)
                inputs.append(j)
            else:
                rows.extend(range(row, row + n))
                inputs.extend([j] * n)
            row += n
            if spec.kind == "vital_z":  # FeatureSpec.z_score's own formula, its two look-ups made once per vital
                reference = self._z_reference.get((j, request.age))
                if reference is None:  # ages recur (whole years): kept, at most a few thousand
                    ages, medians, sds = spec._reference_arrays()
                    reference = (float(np.interp(request.age, ages, medians)), float(np.interp(request.age, ages, sds)))
                    if len(self._z_reference) >= 4096:
                        self._z_reference.clear()
                    self._z_reference[(j, request.age)] = reference
                median, sd = reference
                x.extend([(value - median) / sd for value, _ in c.values])
            elif c.kind == "sign":
                x.extend([1.0] * n)
            else:
                x.extend([value for value, _ in c.values])
            if pressure is not None and c.finding in PRESSURES and late_pregnancy(request.pregnancy):
                # Each value's cell, then the pressure-in-pregnancy input it changes with it (rows stay in order).
                own, first = x[start:], row - n
                del rows[start:], inputs[start:], x[start:]
                for k, (value, _) in enumerate(c.values):
                    rows.extend((first + k, first + k))
                    inputs.extend((j, pressure))
                    x.extend((own[k], pressure_of(request, request.pregnancy, c.finding, value)))
        return (np.asarray(rows, dtype=np.int64), np.asarray(inputs, dtype=np.int64),
                np.asarray(x, dtype=np.float64))

    def expand_variants(self, base_expanded: np.ndarray, raw: np.ndarray,
                        changed: Sequence[tuple[int, int]]) -> np.ndarray:
        """`features.expand(raw)` for rows that differ from the first in the `changed` cells only
        (`expanded_variants`)."""
        return expanded_variants(self.engine.features.specs, self._first_column, base_expanded, raw, changed)

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
        cell = np.asarray(changed, dtype=np.int64).reshape(-1, 2)
        rows, inputs = cell[:, 0], cell[:, 1]
        return self._scores(base_expanded, [raw.shape[0]], rows, np.zeros_like(rows), inputs, raw[rows, inputs],
                            base_scores)

    def _scores(self, base_expanded: np.ndarray, sizes: Sequence[int], rows: np.ndarray, owners: np.ndarray,
                inputs: np.ndarray, x: np.ndarray,
                base_scores: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`variant_scores` of several requests' variants at once: request k (row k of `base_expanded`, its scores
        row k of `base_scores`) owns the next `sizes[k]` rows, and the changed cells (`_changes`, rows ascending)
        are input `inputs[i]` of row `rows[i]`, of request `owners[i]`, set to `x[i]`."""
        weights = self._weights
        assert weights is not None and self._padded_weights is not None
        if base_scores is None:  # the models on the request's one row, as `diagnose` runs them
            base_scores = (self.engine.state_model.scores(base_expanded),
                           self.engine.condition_model.scores(base_expanded))
        out = np.repeat(np.hstack(base_scores), sizes, axis=0)
        if not len(rows):
            return out[:, :self._n_states], out[:, self._n_states:]
        measured = ~np.isnan(x)
        if not measured.all() and not (measured | self._has_missing[inputs]).all():
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
        # What each changed input adds to its request's scores now: the weights of its few non-zero columns (each
        # request's columns are sparse), summed per (request, input) in column order; 0 for an input without any.
        # Each sum is its one or two terms gathered and added in that order (np.add.reduceat costs ~0.35 us a group).
        x0 = base_expanded.astype(np.float64)
        at, columns = np.nonzero(x0)
        n_inputs = len(self._width)
        key = at * n_inputs + self._input_of_column[columns]
        place, depth = places(key)
        table = np.full((x0.shape[0] * n_inputs, depth), len(key))  # its terms' positions; len(key): a zero term
        table[key, place] = np.arange(len(key))
        terms = np.zeros((len(key) + 1, weights.shape[1]))
        np.multiply(x0[at, columns, None], weights[columns], out=terms[:-1])
        picked = table[owners * n_inputs + inputs]
        old = terms[picked[:, 0]]
        for k in range(1, depth):
            old += terms[picked[:, k]]
        padded = self._padded_weights
        delta = padded[ones] + term[:, None] * padded[linear] - old
        # The cells come row by row (a pregnancy answer changes up to three inputs of its row): sum per row, in the
        # cells' order.
        place, depth = places(rows)
        if depth == 1:
            out[rows] += delta
        else:
            first_cell = place == 0
            starts, group = np.flatnonzero(first_cell), np.cumsum(first_cell) - 1
            sums = delta[starts]
            for k in range(1, depth):
                later = place == k
                sums[group[later]] += delta[later]
            out[rows[starts]] += sums
        return out[:, :self._n_states], out[:, self._n_states:]

    # --- ranking ----------------------------------------------------------------------------------------------

    def rank(self, request: DiagnoseRequest, rare_alert: bool = False,
             alone: Alone | None = None, floor: float = MIN_VOI,
             limit: int | None = None) -> list[dict[str, Any]]:
        """`next_findings` for one request: best first, at most `limit` (default 5, or 3 in an emergency); every
        candidate scored in one batch of variants (`outcomes`).

        The condition probabilities that weigh the values come from the request alone (a batch of one), not from
        the caller's batch: onnxruntime's last float32 digits depend on a batch's shape, and the list must be the
        same whether the request came alone or with thousands (diagnose vs diagnose_many, the service's batches).
        `alone`: the engine's own (model columns, condition probabilities, P(acute)[, (state scores, condition
        scores)]) when it diagnosed the request
        as a batch of one, the same numbers this would compute again."""
        return self.rank_many([request], [rare_alert], alone, floor, limit)[0]

    def rank_many(self, requests: Sequence[DiagnoseRequest], rare_alerts: Sequence[bool],
                  alone: Alone | None = None, floor: float = MIN_VOI,
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
        if alone is not None and len(requests) == 1:
            expanded, cond_ps, acute_ps = alone[0], [alone[1]], [alone[2]]
            base_scores = alone[3] if len(alone) >= 4 else None
        else:
            expanded = features.expand(np.vstack([features.raw_matrix([r]) for r in requests]))
            # The models on each request's one row, as `diagnose` runs them (see `rank`), then softmax by row.
            base_scores = (np.vstack([self.engine.state_model.scores(expanded[k:k + 1]) for k in range(len(requests))]),
                           np.vstack([self.engine.condition_model.scores(expanded[k:k + 1])
                                      for k in range(len(requests))]))
            cond_ps = list(softmax(base_scores[1]))
            acute_ps = softmax(base_scores[0])[:, _ACUTE].tolist()
        lists_of: list[list[Candidate]] = []
        sizes: list[int] = []
        cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        offset = 0
        for request, cond_p, acute_p in zip(requests, cond_ps, acute_ps, strict=True):
            candidates = self.candidates(request, cond_p, acute_p, floor)
            lists_of.append(candidates)
            size = 1 + sum(len(c.values) for c in candidates)
            rows, inputs, x = self._changes(request, candidates)
            cells.append((rows + offset if offset else rows, inputs, x))
            sizes.append(size)
            offset += size
        if self._weights is not None and len(requests) == 1:
            scores = self._scores(expanded, sizes, cells[0][0], np.zeros_like(cells[0][0]), cells[0][1], cells[0][2],
                                  base_scores)
        elif self._weights is not None:
            scores = self._scores(expanded, sizes, np.concatenate([c[0] for c in cells]),
                                  np.repeat(np.arange(len(requests)), [len(c[0]) for c in cells]),
                                  np.concatenate([c[1] for c in cells]), np.concatenate([c[2] for c in cells]),
                                  base_scores)
        else:  # models that are not additive: the variants' columns through the models, request by request
            parts = []
            for k, (request, candidates) in enumerate(zip(requests, lists_of, strict=True)):
                raw, changed = self.variant_raw(request, candidates)
                variants = self.expand_variants(expanded[k:k + 1], raw, changed)
                parts.append((self.engine.state_model.scores(variants), self.engine.condition_model.scores(variants)))
            scores = (np.vstack([a for a, _ in parts]), np.vstack([b for _, b in parts]))
        alerts = np.repeat(np.asarray(rare_alerts, dtype=bool), sizes)
        cases = chunk_cases(requests, lists_of, sizes)
        if len(requests) == 1:  # the desktop's one patient: only the rules its candidates reach, its list whole
            fired = alone[4] if alone is not None and len(alone) == 5 else None
            both = outcomes(self.engine, [], alerts, cases, model_scores=scores,
                            rules=self._rules_for(requests[0], lists_of[0], fired))
            return [self._ranked(lists_of[0], both, floor, limit)]
        both = outcomes(self.engine, [], alerts, cases, model_scores=scores)
        prepared = list(zip(lists_of, sizes, strict=True))
        lists: list[list[dict[str, Any]]] = []
        start = 0
        for candidates, size in prepared:
            part = slice(start, start + size)
            start += size
            lists.append(self._ranked(candidates, Outcomes(both.level[part], both.state[part], both.top[part],
                                                           both.danger[part]), floor, limit))
        return lists

    def _rules_for(self, request: DiagnoseRequest, candidates: Sequence[Candidate],
                   request_fired: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, bool] | None:
        """For one request's variants: which of the rules no candidate's finding reaches fire for the request (each
        rule's one-request form), the rules that read a finding some candidate changes (only those are evaluated
        over the variants), whether those read NEWS2 / qSOFA; None when every rule must be evaluated anyway
        (`next_findings_rules.py`). `request_fired`: the rules the engine found firing for the request (positions in
        red_flags.RULES, each rule's one-request form), then not evaluated again."""
        rules_of, pregnancy = self._rules_of, self._rules_of_pregnancy
        bits = 0
        for c in candidates:  # the rules reading each changed finding (bits), without a set of the findings
            bits |= pregnancy if c.kind == "pregnancy" else rules_of[c.kind].get(c.finding, 0)
        subset = self._rule_subsets.of_bits(bits)
        if not subset.others:
            return None
        fired = np.zeros(len(subset.needed), dtype=bool)  # the needed rules' come from the variants' batch
        if request_fired is not None:
            fired[list(request_fired)] = True
            return fired, subset.needed, subset.with_scores
        rules = red_flags.RULES
        for j in subset.others:  # the others, each in its one-request form (tests/core/test_engine_batch.py)
            fired[j] = rules[j].applies(request)
        return fired, subset.needed, subset.with_scores

    def _ranked(self, candidates: list[Candidate], out: Outcomes, floor: float,
                limit: int | None) -> list[dict[str, Any]]:
        """One request's list from its variants' outcomes (row 0 the request itself)."""
        sizes = [len(c.values) for c in candidates]
        n = len(candidates)
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
        # Each effect's chance per candidate: one bincount over (effect, candidate) bins, each bin summed in the
        # variants' order as a bincount per effect sums it.
        owner = np.repeat(np.arange(n), sizes) + np.arange(4)[:, None] * n
        changes = np.bincount(owner.ravel(), weights=(p * effects).ravel(), minlength=4 * n).reshape(4, n)
        voi = (np.asarray(WEIGHTS) @ changes / SCALE).tolist()
        order = sorted(range(n), key=voi.__getitem__, reverse=True)  # stable: vitals, symptoms, signs, pregnancy
        cap = limit if limit is not None else (MAX_IN_EMERGENCY if emergency else MAX_FINDINGS)
        result: list[dict[str, Any]] = []
        start = [0, *itertools.accumulate(sizes)]
        triage, state, top_condition = changes[0] + changes[1], changes[2], changes[3]
        for i in order:
            if voi[i] < floor or voi[i] <= 0 or len(result) >= cap:
                break
            c = candidates[i]
            span = slice(start[i], start[i + 1])
            could = [name for name, e in (("triage", triage[i]), ("state", state[i]), ("top_condition",
                                                                                     top_condition[i])) if e > 0]
            result.append({"finding": c.finding, "kind": c.kind,
                           "why": why(self.engine.vocabulary, self.engine.condition_model.classes, c,
                                      effects[:, span], p[span], lvl[span], st[span], top[span], emergency),
                           "could_change": could, "value_of_information": round(float(min(voi[i], 1.0)), 4)})
        return result
