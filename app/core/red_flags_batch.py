"""The danger-sign rules of `red_flags.py` for a whole batch at once, one numpy expression per rule.

Each entry below is the rule of the same code in `red_flags_general.py` / `red_flags_etat.py`, written over the
columns of `Cases` instead of one request: `and`/`or` become `&`/`|`, "not measured" is NaN (any comparison with it
is False, exactly as `value is not None and value >= limit` was), an age band chain becomes nested `np.where`.
tests/core/test_engine_batch.py checks on simulated and perturbed patients that every rule fires exactly where its
one-request form fires; `red_flags.evaluate_batch` refuses to run if a rule has no batch form.

A rule that implies a cheap condition (a pregnancy, an age, a sign, one vital's range: `GATES`) is answered
"nowhere" at once when no case of the batch meets it: next_findings evaluates the rules over ~80 variants of ONE
patient, where such a condition is most often false on every row (a man is never pregnant) and the rest of the rule
would cost ~5-25 us of numpy calls for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from app.core.cases import Cases
from app.core.red_flags_common import SPEECH_FROM_AGE
from app.core.scores import BatchScores


class _Batch:
    """The cases plus what several rules share (fever, scores), each computed once per batch, when a rule first
    reads it (next_findings evaluates a few of the rules over one patient's variants: what none of them reads is
    not computed)."""

    def __init__(self, cases: Cases, scores: BatchScores) -> None:
        self.c = cases
        self.scores = scores
        s, v, sign = cases.symptom, cases.vital, cases.sign
        self.s, self.v, self.sign = s, v, sign
        self.lethargic = sign("lethargic_or_unconscious")
        self.unable_to_drink = sign("unable_to_drink_or_breastfeed")
        self.sbp, self.dbp = v("systolic_bp"), v("diastolic_bp")
        self.hr, self.rr, self.glucose = v("heart_rate"), v("respiratory_rate"), v("glucose_mg_dl")

    @cached_property
    def age_band(self) -> np.ndarray:
        """Each case's age band for `by_age` (0: under 1, 1: under 5, 2: under 12, 3: older), once per batch: four
        rules read it, and a chain of np.where per rule cost three times this."""
        age = self.c.age
        band: np.ndarray = (age >= 1).astype(np.int64) + (age >= 5) + (age >= 12)
        return band

    @cached_property
    def speech(self) -> np.ndarray:
        """`_speech`: difficulty speaking from SPEECH_FROM_AGE, 0 before."""
        speech: np.ndarray = np.where(self.c.age >= SPEECH_FROM_AGE, self.s("dificultad_hablar"), 0)
        return speech

    @cached_property
    def fever(self) -> np.ndarray:
        fever: np.ndarray = (self.s("fiebre") >= 1) | (self.v("temperature_c") >= 38.0)
        return fever

    @cached_property
    def shock_index(self) -> np.ndarray:
        if not (self.sbp == 0).any():  # the contract's pressures are never 0: np.errstate costs more than this check
            index: np.ndarray = np.where(self.c.age >= 16, self.hr / self.sbp, np.nan)
            return index
        with np.errstate(divide="ignore", invalid="ignore"):
            index = np.where(self.c.age >= 16, self.hr / self.sbp, np.nan)
        return index

    @cached_property
    def weeks(self) -> np.ndarray:
        weeks = self.c.weeks
        finite: np.ndarray = np.where(np.isnan(weeks), 0.0, weeks)  # `(weeks or 0)`; finite by the contract
        return finite

    @cached_property
    def severe_acute_malnutrition(self) -> np.ndarray:
        sign, age = self.sign, self.c.age
        sam: np.ndarray = (sign("bilateral_pitting_oedema") | sign("visible_severe_wasting")
                           | ((self.v("muac_mm") < 115) & (age >= 0.5) & (age < 5)))
        return sam

    @cached_property
    def dengue_bleeding_or_lethargy(self) -> np.ndarray:
        sign = self.sign
        found: np.ndarray = ((self.s("sangrado") >= 1) | sign("mucosal_bleeding") | self.lethargic
                             | sign("restless_irritable") | self.c.avpu_vpu)
        return found

    def none(self, gate: np.ndarray) -> bool:
        """True when the batch has cases and none meets `gate`: a rule that is `gate & ...` then fires nowhere. An
        empty batch always goes through the whole rule: next_findings_rules traces what each rule reads on one."""
        return self.c.n > 0 and np.count_nonzero(gate) == 0  # (a third of `not gate.any()`'s cost)

    def obstetric(self, finding: Callable[[], np.ndarray], setting: np.ndarray | None = None) -> np.ndarray:
        """A gate: pregnant or postpartum (or `setting`), and `finding` (computed only when some case is)."""
        where = self.c.pregnant | self.c.postpartum if setting is None else setting
        return where if self.none(where) else where & finding()

    def by_age(self, adult: float, infant: float, under5: float, under12: float) -> np.ndarray:
        """The limit for each case's age band (< 1, < 5, < 12 years, older): one look-up in the four limits."""
        limit: np.ndarray = np.array((infant, under5, under12, adult))[self.age_band]
        return limit

    def hypertension_in_pregnancy(self, systolic: float, diastolic: float) -> np.ndarray:
        setting = (self.c.pregnant & (self.weeks >= 20)) | self.c.postpartum
        high: np.ndarray = setting & ((self.sbp >= systolic) | (self.dbp >= diastolic))
        return high

    def probable_dengue(self) -> np.ndarray:
        s = self.s
        aches = self.c.max_symptom("dolor_cabeza", "dolor_retroocular", "dolor_muscular", "dolor_articular")
        criteria = ((self.c.max_symptom("nausea", "vomito") >= 1).astype(np.int64) + (s("erupcion_cutanea") >= 1)
                    + (aches >= 1) + self.dengue_bleeding_or_lethargy)
        probable: np.ndarray = self.fever & (criteria >= 2) & self.c.recent(10)  # as _probable_dengue
        return probable

    def dengue_warning_signs(self) -> np.ndarray:
        s = self.s
        warning: np.ndarray = ((s("dolor_abdominal") >= 6) | (s("vomito") >= 6) | self.sign("vomits_everything")
                               | (s("confusion") >= 1) | self.dengue_bleeding_or_lethargy)
        if self.none(warning):  # most batches of one patient's variants: probable dengue is not computed
            return warning
        found: np.ndarray = self.probable_dengue() & warning
        return found

    def young_infant_psbi(self) -> np.ndarray:
        s, sign, t = self.s, self.sign, self.v("temperature_c")
        psbi: np.ndarray = (self.c.months < 2) & (
            self.unable_to_drink | (s("rechazo_alimento") >= 5) | sign("convulsions_this_illness")
            | (s("convulsiones") >= 1) | (self.rr >= 60) | sign("chest_indrawing") | sign("grunting")
            | (t >= 37.5) | (t < 35.5) | sign("movement_only_when_stimulated") | self.lethargic
            | sign("bulging_fontanelle"))
        return psbi

    def severe_dehydration(self) -> np.ndarray:
        sign = self.sign
        count = (self.lethargic.astype(np.int64) + sign("sunken_eyes") + self.unable_to_drink
                 + sign("skin_pinch_very_slow"))
        severe: np.ndarray = sign("severe_dehydration") | (count >= 2)
        return severe

    def hypoglycaemia_limit(self) -> np.ndarray:
        child = self.c.age < 18
        if self.none(child):  # adults only: 54 whatever the malnutrition signs (not computed)
            return np.full(self.c.n, 54.0)
        return np.where(child, np.where(self.severe_acute_malnutrition, 54.0, 45.0), 54.0)


Predicate = Callable[[_Batch], np.ndarray]

BATCH_RULES: dict[str, Predicate] = {
    "SPO2_LOW": lambda b: b.v("spo2") <= 91,
    "RESP_RATE_HIGH": lambda b: b.rr >= b.by_age(25.0, 60, 50, 40),
    "RESP_RATE_LOW": lambda b: b.rr <= 8,
    "HEART_RATE_HIGH": lambda b: b.hr >= b.by_age(131.0, 180, 160, 140),
    # Children: below a limit; adults: at or below 40.
    "HEART_RATE_LOW": lambda b: np.where(b.c.age < 12, b.hr < b.by_age(0.0, 90, 70, 60), b.hr <= 40),
    "HYPOTENSION": lambda b: (b.sbp <= 90) & (b.c.age >= 16),
    "SEPSIS_QSOFA": lambda b: b.scores.qsofa_floor >= 2,
    "HYPERTENSIVE_EMERGENCY": lambda b: ((b.sbp >= 180) | (b.dbp >= 120)) & (b.c.max_symptom(
        "dolor_pecho", "confusion", "cambios_vision", "debilidad_unilateral", "dificultad_hablar",
        "dificultad_respirar") >= 3),
    "TEMPERATURE_EXTREME": lambda b: (b.v("temperature_c") <= 35.0) | (b.v("temperature_c") >= 40.0),
    "INFANT_FEVER": lambda b: (b.c.age < 0.25) & b.fever,
    "MENINGISM": lambda b: ((b.s("rigidez_nuca") >= 1) | b.sign("bulging_fontanelle")) & b.fever,
    "STROKE_SIGNS": lambda b: ((b.s("debilidad_unilateral") >= 3) | (b.speech >= 3)
                               | ((b.s("debilidad_unilateral") >= 1) & (b.speech >= 1)))
    & b.c.recent(7),
    "SEIZURE": lambda b: (b.s("convulsiones") >= 1) & b.c.recent(1),
    "CONFUSION": lambda b: (b.s("confusion") >= 3) | b.c.avpu_vpu,
    "CHEST_PAIN_CARDIAC": lambda b: (b.s("dolor_pecho") >= 7) & ((b.s("dificultad_respirar") >= 5)
                                                                 | (b.s("sudoracion") >= 3) | (b.s("nausea") >= 3)),
    "CHEST_PAIN_EQUIVALENT": lambda b: (b.c.age >= 50) & b.c.recent(1)
    & (b.c.max_symptom("dolor_epigastrico", "dolor_pecho") >= 5) & (b.s("sudoracion") >= 3),
    "CHEST_PAIN_ASSESS": lambda b: (b.c.age >= 18) & b.c.recent(3) & (b.s("dolor_pecho") >= 3)
    & (b.c.max_symptom("dificultad_respirar", "sudoracion", "nausea", "vomito") >= 3),
    "SEVERE_DYSPNEA": lambda b: b.s("dificultad_respirar") >= 8,
    "HEMOPTYSIS": lambda b: b.s("hemoptisis") >= 5,
    "DENGUE_WARNING_SIGNS": lambda b: b.dengue_warning_signs(),
    "BLEEDING": lambda b: b.s("sangrado") >= 5,
    "HYPERGLYCAEMIC_CRISIS": lambda b: (b.glucose >= 400) | ((b.glucose >= 250) & (
        (b.s("vomito") >= 3) | (b.s("dolor_abdominal") >= 5) | (b.s("confusion") >= 1)
        | (b.s("dificultad_respirar") >= 5))),
    "HYPOGLYCAEMIA": lambda b: b.glucose < 70,
    "HYPOGLYCAEMIA_SEVERE": lambda b: (b.glucose < b.hypoglycaemia_limit()) | ((b.glucose < 70) & (
        (b.s("confusion") >= 1) | b.c.avpu_vpu | b.lethargic)),
    "ACUTE_ABDOMEN": lambda b: b.s("dolor_abdominal") >= 8,
    "NEWS2_HIGH": lambda b: b.scores.news2_floor >= 7,
    "NEWS2_URGENT": lambda b: b.scores.news2_floor >= 5,
    "IMCI_DANGER_SIGN": lambda b: b.unable_to_drink | b.sign("vomits_everything") | b.sign("convulsions_this_illness")
    | b.lethargic | ((b.c.age < 5) & (b.s("convulsiones") >= 1)),
    "UNRESPONSIVE": lambda b: b.c.avpu_pu,
    "YOUNG_INFANT_SERIOUS_INFECTION": lambda b: b.young_infant_psbi(),
    "YOUNG_INFANT": lambda b: b.c.months < 2,
    "AIRWAY_BREATHING": lambda b: b.sign("stridor") | b.sign("central_cyanosis") | b.sign("grunting")
    | (b.sign("nasal_flaring") & b.sign("chest_indrawing")),
    "APNOEA": lambda b: (b.c.age < 1) & (b.s("apnea") >= 1),
    "CHEST_INDRAWING": lambda b: b.sign("chest_indrawing"),
    "RESTLESS_IRRITABLE": lambda b: b.sign("restless_irritable"),
    # IMCI: >= 60 under 2 months, >= 50 from 2 to 12 months, >= 40 from 12 months to 5 years; none from 5 years.
    "FAST_BREATHING_CHILD": lambda b: (b.c.age < 5)
    & (b.rr >= np.where(b.c.months < 2, 60.0, np.where(b.c.months < 12, 50.0, 40.0))),
    "SHOCK": lambda b: b.sign("cold_extremities") & (b.v("capillary_refill_s") > 3) & b.sign("weak_fast_pulse"),
    "CAPILLARY_REFILL_SLOW": lambda b: b.v("capillary_refill_s") > 3,
    "PULSE_PRESSURE_NARROW": lambda b: b.sbp - b.dbp <= 20,
    "SHOCK_INDEX_HIGH": lambda b: b.shock_index >= 1.0,
    "SHOCK_INDEX_CRITICAL": lambda b: (b.shock_index >= 1.4) | (b.c.postpartum & (b.shock_index >= 1.1)),
    "SEVERE_DEHYDRATION": lambda b: b.severe_dehydration(),
    "SEVERE_ACUTE_MALNUTRITION": lambda b: b.severe_acute_malnutrition,
    "SEVERE_PALLOR": lambda b: b.sign("severe_palmar_pallor"),
    "PURPURA": lambda b: b.sign("non_blanching_rash") & (b.fever | b.c.avpu_pu | b.lethargic),
    "MASTOIDITIS": lambda b: b.sign("tender_swelling_behind_ear"),
    "PRE_ECLAMPSIA_SEVERE": lambda b: b.hypertension_in_pregnancy(160, 110) | (
        b.hypertension_in_pregnancy(140, 90) & ((b.s("dolor_cabeza") >= 3) | (b.s("cambios_vision") >= 1)
                                                | (b.s("dolor_epigastrico") >= 1) | (b.s("dolor_abdominal") >= 5)
                                                | (b.s("confusion") >= 1))),
    "HYPERTENSION_IN_PREGNANCY": lambda b: b.hypertension_in_pregnancy(140, 90),
    "ECLAMPSIA": lambda b: (b.c.pregnant | b.c.postpartum)
    & ((b.s("convulsiones") >= 1) | b.sign("convulsions_this_illness")),
    "OBSTETRIC_BLEEDING": lambda b: (b.c.pregnant & (b.sign("vaginal_bleeding") | (b.s("sangrado_vaginal") >= 1)))
    | (b.c.postpartum & (b.sign("vaginal_bleeding") | (b.s("sangrado_vaginal") >= 5))),
    "EARLY_PREGNANCY_PAIN": lambda b: b.c.pregnant & (b.weeks <= 14)
    & ((b.s("dolor_abdominal") >= 6) | (b.s("desmayo") >= 1)),
    "PUERPERAL_FEVER": lambda b: b.c.postpartum & b.fever,
    "PREGNANCY_FEVER_OR_PAIN": lambda b: b.c.pregnant & (b.fever | (b.s("dolor_abdominal") >= 5)),
    "SNAKEBITE": lambda b: b.sign("fang_marks"),
    "CHOLINERGIC_POISONING": lambda b: b.sign("pinpoint_pupils") & (
        (b.s("salivacion_excesiva") >= 1) | (b.s("sudoracion") >= 3) | (b.s("dificultad_respirar") >= 3)
        | (b.s("sibilancias") >= 1)),
}

# A condition each of these rules implies (the rule is `gate & ...`), cheap to check first: `fired_matrix` answers
# "nowhere" without the rest of the rule when no case of the batch meets it. tests/core/test_red_flags_gates.py
# checks on simulated and perturbed patients that the rule never fires where its gate does not hold.
GATES: dict[str, Predicate] = {
    "RESP_RATE_HIGH": lambda b: b.rr >= 25,  # the lowest of its limits by age (the adult's)
    "HEART_RATE_HIGH": lambda b: b.hr >= 131,  # likewise
    "HEART_RATE_LOW": lambda b: b.hr < 90,  # the highest (an infant's: < 90; an adult's: <= 40)
    "SHOCK_INDEX_HIGH": lambda b: b.c.age >= 16,  # the shock index is an adult's (NaN under 16)
    "SHOCK_INDEX_CRITICAL": lambda b: b.c.age >= 16,
    "HYPERTENSIVE_EMERGENCY": lambda b: (b.sbp >= 180) | (b.dbp >= 120),
    "CHEST_PAIN_CARDIAC": lambda b: b.s("dolor_pecho") >= 7,
    "CHEST_PAIN_EQUIVALENT": lambda b: b.c.age >= 50,
    "CHEST_PAIN_ASSESS": lambda b: b.s("dolor_pecho") >= 3,
    "HYPERGLYCAEMIC_CRISIS": lambda b: b.glucose >= 250,
    "HYPOGLYCAEMIA_SEVERE": lambda b: b.glucose < 70,  # both of its limits (45, 54) are below 70
    "YOUNG_INFANT_SERIOUS_INFECTION": lambda b: b.c.months < 2,
    "FAST_BREATHING_CHILD": lambda b: b.c.age < 5,
    "SHOCK": lambda b: b.sign("cold_extremities"),
    "PURPURA": lambda b: b.sign("non_blanching_rash"),
    # A pregnancy's rows (the pregnancy question's variants) rarely also carry the finding that would fire the rule:
    # the finding checked too, on those rows only.
    "PRE_ECLAMPSIA_SEVERE": lambda b: b.obstetric(lambda: (b.sbp >= 140) | (b.dbp >= 90)),
    "HYPERTENSION_IN_PREGNANCY": lambda b: b.obstetric(lambda: (b.sbp >= 140) | (b.dbp >= 90)),
    "ECLAMPSIA": lambda b: b.c.pregnant | b.c.postpartum,
    "OBSTETRIC_BLEEDING": lambda b: b.obstetric(lambda: b.sign("vaginal_bleeding") | (b.s("sangrado_vaginal") >= 1)),
    "EARLY_PREGNANCY_PAIN": lambda b: b.obstetric(lambda: (b.s("dolor_abdominal") >= 6) | (b.s("desmayo") >= 1),
                                                  b.c.pregnant),
    "PUERPERAL_FEVER": lambda b: b.c.postpartum,
    "PREGNANCY_FEVER_OR_PAIN": lambda b: b.c.pregnant,
    "CHOLINERGIC_POISONING": lambda b: b.sign("pinpoint_pupils"),
}


def fired_matrix(cases: Cases, scores: BatchScores, codes: tuple[str, ...], out: np.ndarray | None = None,
                 columns: Sequence[int] | None = None) -> np.ndarray:
    """(cases, rules) booleans: whether each rule of `codes`, in that order, fires for each case. With `out` and
    `columns`, rule j's answers are written in column `columns[j]` of `out` (which is returned) instead."""
    batch = _Batch(cases, scores)
    if out is None or columns is None:
        out, columns = np.empty((cases.n, len(codes)), dtype=bool), range(len(codes))
    for j, code in zip(columns, codes, strict=True):
        gate = GATES.get(code)
        if gate is not None and batch.none(gate(batch)):
            out[:, j] = False
        else:
            out[:, j] = BATCH_RULES[code](batch)
    return out
