"""What to measure or ask next: the findings a request does not give, ranked by how much knowing them could change
the answer (value of information, issue 19). numpy only; no Qt.

For each request, the candidates are the findings it leaves open: unmeasured vitals, vocabulary symptoms not
entered, examination signs not ticked, and the pregnancy question for a woman of 10-60 years who was not asked.
Each candidate gets a few plausible values with their probabilities given the case, from the knowledge base's
conditional distributions mixed by the condition model's probabilities (P(value | case) = sum_c P(c | case)
P(value | c, age band), each condition's acute and not-acute patients weighed by the state model's P(acute | case);
`finding_distributions.py`): a vital seven values (midpoints of slices of its mixture, narrow at the tails where
danger values are: 5%, 15%, 20%, 20%, 20%, 15%, 5%), a symptom or sign "present" (its absence is what the request
already says: no change). Every variant of the request (one finding set to one value) goes through the engine's own
models, danger-sign rules and triage in ONE batch, without the rare-disease ranking and the explanations (the
variants' model columns are the request's with one input's columns rewritten), and each candidate is scored by the
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

import bisect
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from app.core import cases as _cases
from app.core import red_flags
from app.core.bundle import ModelBundle
from app.core.cases import Cases
from app.core.contract import CONTRACT_VITALS, PREGNANCY_AGE, DiagnoseRequest, Pregnancy
from app.core.features import PREGNANCY_CODES, FeatureSchema
from app.core.finding_distributions import PREGNANCY_VALUES, FindingDistributions, age_band
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

    def model_risk(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray: ...

    def model_emergency(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray: ...


MAX_FINDINGS = 5
MAX_IN_EMERGENCY = 3
MIN_VOI = 0.01
# A vital's seven values: the midpoints of seven slices of its distribution given the case, narrow at the tails
# (where the danger values are) and wide in the middle; each value stands for its slice's share.
GRID_EDGES = (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0)
GRID_LEVELS = tuple((a + b) / 2 for a, b in itertools.pairwise(GRID_EDGES))
GRID_WEIGHTS = tuple(b - a for a, b in itertools.pairwise(GRID_EDGES))
WEIGHTS = (1.0, 0.1, 0.01, 0.001)  # emergency, triage, state, top condition
SCALE = sum(WEIGHTS)
_ACUTE = STATES.index("ENFERMEDAD_AGUDA")
_CHRONIC = STATES.index("ENFERMEDAD_CRONICA")
_URGENCY = np.array([urgency(s) for s in STATES])
_EMERGENCY_RULES = red_flags.LEVEL_RANKS == 2
_LEVELS = red_flags.TRIAGE_LEVELS  # index = rank: NO_URGENTE, PRIORITARIO, EMERGENCIA


@dataclass(frozen=True, slots=True)
class Candidate:
    """One finding the request leaves open, with its plausible values and their probabilities given the case."""

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
             expanded: np.ndarray | None = None) -> Outcomes:
    """The engine's triage level, state and top condition for `requests` (diagnose_many's own formulas; a test
    holds the two together), with `rare_alert` standing in for the rare-disease ranking. `cases` and `raw`: the
    requests already as columns and as the models' raw inputs (`NextFindings.rank` builds its variants that way,
    without request objects; `expanded`, the models' columns, likewise)."""
    cases = cases if cases is not None else Cases(requests)
    if expanded is None:
        if raw is None:
            rows = requests if len(requests) == cases.n else [requests[0]] * cases.n  # raw_matrix reads `cases`
            raw = engine.features.raw_matrix(rows, cases)
        expanded = engine.features.expand(raw)
    state_p = _softmax(engine.state_model.scores(expanded))
    cond_p = _softmax(engine.condition_model.scores(expanded))
    fired = red_flags.evaluate_batch(cases)
    rules_level = np.max(np.where(fired, red_flags.LEVEL_RANKS, 0), axis=1)
    model_level = np.where(engine.model_emergency(state_p, cond_p), 2,
                           np.where(engine.model_risk(state_p, cond_p), 1, 0))
    level = np.maximum(np.maximum(rules_level, model_level), rare_alert.astype(np.int64))
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


def _register_columns(symptoms: Sequence[str], vitals: Sequence[str], sign_codes: Sequence[str]) -> None:
    """Give every key a variant can set its column in the process-wide index of app/core/cases.py, so the columns
    of a one-request batch already hold it."""
    for key in symptoms:
        _cases._SYMPTOMS[key]
    for key in vitals:
        _cases._VITALS[key]
    for code in sign_codes:
        _cases._SIGNS[code]


def _presort(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For one age band's vital quantiles `q` (conditions, vitals, levels): per vital, every stored quantile in
    ascending order (NaN, never measured, last) and the condition each came from; sorted once, at load."""
    n_conditions, n_vitals, n_levels = q.shape
    values = np.moveaxis(q, 1, 0).reshape(n_vitals, -1)
    condition = np.broadcast_to(np.repeat(np.arange(n_conditions), n_levels), values.shape)
    order = np.argsort(np.where(np.isnan(values), np.inf, values), axis=1, kind="stable")
    values = np.take_along_axis(values, order, axis=1)
    # A quantile never measured points at an extra condition of weight 0, so one gather weighs them all.
    condition = np.where(np.isnan(values), n_conditions, np.take_along_axis(condition, order, axis=1))
    return values, condition


def _grid_values(values: np.ndarray, condition: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(vitals, GRID_LEVELS): the quantiles at GRID_LEVELS of each vital's mixture over conditions weighted by
    their probabilities `w` (`values`, `condition`: `_presort`'s); NaN where the vital was never measured."""
    cumulative = np.cumsum(np.append(w, 0.0)[condition], axis=1)
    total = cumulative[:, -1]
    out = np.full((values.shape[0], len(GRID_LEVELS)), np.nan)
    levels = np.asarray(GRID_LEVELS)
    for k in range(values.shape[0]):
        if total[k] > 0:
            index = np.minimum(np.searchsorted(cumulative[k], levels * total[k]), values.shape[1] - 1)
            out[k] = values[k, index]
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return p


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
        self._decimals = {v.key: v.decimals for v in vocabulary.vitals}
        self._plausible = {v.key: v.plausible for v in vocabulary.vitals}
        _register_columns(vocabulary.symptom_keys, (*vocabulary.vital_keys, *CONTRACT_VITALS), sign_codes)
        # Per age band, what every request of that band reads: contiguous, and the vitals' quantiles sorted.
        d = self.dist
        n_bands = d.symptom_p.shape[1]
        vital_columns = [j for _, j in self._vitals]
        self._band = [(np.ascontiguousarray(d.symptom_p[:, b, :]),
                       np.ascontiguousarray(d.symptom_p[:, b, :] * d.symptom_intensity[:, b, :]),
                       np.ascontiguousarray(d.sign_p[:, b, :]),
                       _presort(d.vital_q[:, b, vital_columns, :]))
                      for b in range(n_bands)]
        # Where each finding sits in the model's raw inputs (a finding no model input reads, such as height, changes
        # only what the danger-sign rules see).
        specs = engine.features.specs
        self._raw_column = {(spec.kind if spec.kind != "vital_z" else "vital", spec.name): (j, spec)
                            for j, spec in enumerate(specs)}
        widths = [spec.width for spec in specs]
        self._first_column = [sum(widths[:j]) for j in range(len(specs))]

    # --- candidates -------------------------------------------------------------------------------------------

    def candidates(self, request: DiagnoseRequest, cond_p: np.ndarray, acute_p: float = 0.0,
                   floor: float = MIN_VOI) -> list[Candidate]:
        """The open findings of `request` with their plausible values, given the condition probabilities `cond_p`
        and the probability `acute_p` of the acute state (the models' own, for this request). Symptoms and signs
        less likely than `floor` are left out: their VOI could not reach it."""
        d = self.dist
        band = age_band(request.age)
        symptom_p, symptom_pi, sign_p, (vital_values, vital_condition) = self._band[band]
        w = np.asarray(cond_p, np.float64)
        w = w / w.sum()
        if d.states == 2:  # rows: every condition not acute, then every condition acute
            w = np.concatenate([w * (1.0 - acute_p), w * acute_p])
        out: list[Candidate] = []
        if any(key not in request.vitals for key, _ in self._vitals):
            grids = _grid_values(vital_values, vital_condition, w).tolist()
            for (key, _), picks in zip(self._vitals, grids, strict=True):
                values = () if key in request.vitals else self._vital_values(key, picks)
                if values:
                    out.append(Candidate(key, "vital", values))
        p_sym = w @ symptom_p
        intensity = np.clip(np.rint((w @ symptom_pi) / np.maximum(p_sym, 1e-12)), 1, 10).astype(np.int64).tolist()
        p_list = p_sym.tolist()
        for key, j in self._symptoms:
            if p_list[j] >= floor and key not in request.symptoms:
                out.append(Candidate(key, "symptom", ((intensity[j], p_list[j]),)))
        p_sign = (w @ sign_p).tolist()
        for code, j in self._signs:
            if p_sign[j] >= floor and code not in request.signs:
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

    def _vital_values(self, key: str, picks: list[float]) -> tuple[tuple[float, float], ...]:
        """The five values as the vital is written (its decimals, its plausible range), merged when equal."""
        low, high = self._plausible[key]
        decimals = self._decimals[key]
        merged: dict[float, float] = {}
        for v, weight in zip(picks, GRID_WEIGHTS, strict=True):
            if v != v:  # NaN: never measured in any condition of this band
                return ()
            value = round(min(max(v, low), high), decimals)
            merged[value] = merged.get(value, 0.0) + weight
        return tuple(merged.items())

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
            for value, _ in c.values:
                if at is not None:
                    j, spec = at
                    raw[row, j] = (spec.z_score(value, request.age) if spec.kind == "vital_z"
                                   else 1.0 if c.kind == "sign" else value)
                    changed.append((row, j))
                row += 1
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
        return outcomes(self.engine, [request], np.full(cases.n, rare_alert, dtype=bool), cases,
                        expanded=self.expand_variants(base_expanded, raw, changed))

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
        features = self.engine.features
        base = features.raw_matrix([request])
        if alone is not None:
            expanded, cond_p, acute_p = alone
        else:
            expanded = features.expand(base)
            cond_p = _softmax(self.engine.condition_model.scores(expanded))[0]
            acute_p = float(_softmax(self.engine.state_model.scores(expanded))[0, _ACUTE])
        candidates = self.candidates(request, cond_p, acute_p, floor)
        out = self.variant_outcomes(request, candidates, rare_alert, base, expanded)
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
        """The headline effect (the first kind of change any value has) with its most likely value."""
        e = int(np.argmax(effects.any(axis=1)))
        hits = np.nonzero(effects[e])[0]
        k = int(hits[np.argmax(p[hits])])
        value = c.values[k][0]
        es_if, en_if = self._condition_words(c, value)
        if emergency:
            prefix_es = "Ya es EMERGENCIA: no retrase la atención. "
            prefix_en = "Already an emergency: do not delay care. "
            if e == 0:
                return {"es": f"{prefix_es}{es_if}, habría otro signo de peligro (referir con más urgencia).",
                        "en": f"{prefix_en}{en_if}, there would be another danger sign (refer more urgently)."}
        else:
            prefix_es = prefix_en = ""
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
        name = self.engine.vocabulary.condition(self.engine.condition_model.classes[int(top[k])]).name
        return {"es": f"{prefix_es}{es_if}, lo más probable pasaría a ser {name['es']}.",
                "en": f"{prefix_en}{en_if}, the most likely condition would become {name['en']}."}

    def _condition_words(self, c: Candidate, value: Any) -> tuple[str, str]:
        """"With SpO2 at 86 %" / "If neck stiffness is present" in the clinic's words, es and en."""
        vocabulary = self.engine.vocabulary
        if c.kind == "vital":
            vital = vocabulary.vital(c.finding)
            shown = f"{value:.{vital.decimals}f}"
            return (f"Con {vital.label['es']} en {shown} {vital.unit['es']}",
                    f"With {vital.label['en']} at {shown} {vital.unit['en']}")
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


def _lower_first(text: str) -> str:
    # "Rigidez de nuca" -> "rigidez de nuca", but an acronym ("SpO2", "IMCI") keeps its capitals.
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def with_finding(request: DiagnoseRequest, c: Candidate, value: Any) -> DiagnoseRequest:
    """`request` with the finding set to `value`."""
    if c.kind == "vital":
        return dataclasses.replace(request, vitals={**request.vitals, c.finding: value})
    if c.kind == "symptom":
        return dataclasses.replace(request, symptoms={**request.symptoms, c.finding: value})
    if c.kind == "sign":
        return dataclasses.replace(request, signs=(*request.signs, c.finding))
    return dataclasses.replace(request, pregnancy=value)
