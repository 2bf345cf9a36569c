"""Synthetic clinic patients drawn from the knowledge base, seeded and reproducible.

A patient is drawn in this order: condition (by clinic case mix), age band (by the condition's shares) and age,
state (by the condition's state shares, or the band's), sex, pregnancy, duration, symptoms, examination signs,
consciousness (AVPU), vitals; then the noise a real clinic adds. The assumptions are listed in `docs/model_card.md`
("Data: the patient simulator"); the numbers that drive them are the constants below and the knowledge base.

The ground truth "critical patient" is a patient whose drawn state is ENFERMEDAD_AGUDA: by the origin document's
definition, one who needs immediate attention. Such a patient shows it the way WHO ETAT teaches to recognise it:
emergency signs (shock, coma, convulsions, respiratory distress, IMCI danger signs under 5) and vitals deranged for
age. Benign presentations keep normal-for-age vitals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model_export.knowledge import (
    AGE_BANDS,
    AGE_RANGES,
    PREGNANCY_AGE,
    ConditionProfile,
    KnowledgeBase,
    PregnancyProfile,
    VitalProfile,
)

# How a state bends the condition's typical presentation: (symptom probability factor, intensity factor,
# factor on the vitals' distance from normal). A mild case has fewer, weaker symptoms and near-normal vitals; an
# acute one more, stronger symptoms and vitals further from normal.
STATE_EFFECT: dict[str, tuple[float, float, float]] = {
    "NO_ENFERMO": (1.0, 1.0, 0.0),
    "MOLESTIAS_LEVES": (0.75, 0.55, 0.35),
    "ENFERMEDAD_LEVE": (1.0, 1.0, 1.0),
    "ENFERMEDAD_CRONICA": (1.0, 0.95, 1.0),
    "ENFERMEDAD_AGUDA": (1.15, 1.3, 1.7),
}
ACUTE = "ENFERMEDAD_AGUDA"
# An acute presentation is recognised clinically by physiological derangement (NEWS2, ETAT). Vitals the
# condition's profile does not move are shifted by this much, scaled by a per-patient severity from U(0.5, 1.5):
# ("absolute", shift in units, extra sd) or ("relative", shift as a share of the age's normal, extra sd share).
ACUTE_DERANGEMENT: dict[str, tuple[str, float, float]] = {
    "heart_rate": ("absolute", 22.0, 10.0),
    "respiratory_rate": ("relative", 0.35, 0.15),
    "spo2": ("absolute", -3.0, 2.0),
    "systolic_bp": ("relative", -0.09, 0.08),
    "capillary_refill_s": ("absolute", 1.0, 0.6),
}
# Whether a vital or AVPU was recorded does not depend on the state. Clinics do measure ill-looking patients more,
# but a model that learnt "nothing measured, so not acute" would lower the risk of exactly the requests that carry
# the least information (contract v1 answers, the origin document's cases): precaution wins over realism here.
ACUTE_MEASURED_FACTOR = 1.0
ACUTE_SIGN_FLOOR = 0.7  # an acute patient with none of its emergency signs drawn shows one of them this often
ACUTE_AVPU_ASSESSED = 0.5  # AVPU is recorded for half the patients, acute or not (see above)
OTHER_AVPU_ASSESSED = 0.5
SIGN_NOISE_RATE = 0.005  # a patient with one examination sign ticked by mistake (observer variability)
INTENSITY_SD = 1.5  # spread of reported intensity around the profile's mean
MISREPORT_RATE = 0.10  # a present symptom reported 2-3 points too high or too low
BACKGROUND_RATE = 0.01  # an unrelated symptom mentioned at low intensity (1-3), per vocabulary symptom
COMORBIDITY_RATE = 0.10  # an adult's chronic condition adds some of its own symptoms and vitals
COMORBIDITY_MIN_AGE = 18.0  # chronic comorbidity is an adult's matter here
COMORBIDITY_SYMPTOM_FACTOR = (0.4, 0.6)  # its symptoms: probability factor, intensity factor
DURATION_MISSING_RATE = 0.05
PREVERBAL_AGE = 2.0  # under this age only a carer reports: no self-reported complaints
TODDLER_SELF_REPORT = 0.5  # at 2-4 years a self-reported complaint is told (or noticed) half the time
CARER_IRRITABILITY = 0.5  # an ill preverbal child whose pain cannot be told is reported as irritable this often
PREVALENCE_FLOOR = 0.01  # training case mix: every condition at least 1% so that rare ones are learnt
CHILDBEARING = (15.0, 49.0)  # pregnancy background applies to women of these ages
# Signs that only exist in young infants: open anterior fontanelle (closes by ~18 months), umbilical stump (first
# weeks), "movement only when stimulated" (IMCI sick young infant, < 2 months).
SIGN_MAX_AGE: dict[str, float] = {
    "bulging_fontanelle": 1.5,
    "umbilicus_red_or_pus": 0.1,
    "movement_only_when_stimulated": 0.17,
}
SEX_SYMPTOMS = {"sangrado_vaginal", "flujo_vaginal"}  # women of 10 and over only
# Never mentioned in passing: an unrelated complaint is a trivial one, not a seizure, a stiff neck or a stroke sign.
ALARM_SYMPTOMS = {"confusion", "convulsiones", "rigidez_nuca", "debilidad_unilateral", "dificultad_hablar",
                  "hemoptisis", "sangrado", "sangrado_vaginal", "apnea", "desmayo"}
# A presentation that is not acute shows no published emergency danger sign: by WHO ETAT's definition a patient
# with one needs immediate attention. A non-acute draw that shows one is drawn again, up to this many times in all
# (the few that still show one stay, as the rules' false alarms).
NON_ACUTE_REDRAWS = 4
# Systolic and diastolic pressure move together (correlation ~0.7 in population surveys; NHANES); drawing them
# independently would make narrow pulse pressures (<= 20 mmHg, a dengue shock sign) common in healthy people.
BP_CORRELATION = 0.7


@dataclass(frozen=True)
class SimulatedPatients:
    requests: list[dict[str, Any]]  # diagnose-contract requests
    condition: np.ndarray  # ICD-10 code per patient
    state: np.ndarray  # state per patient
    critical: np.ndarray  # needs immediate attention (state ENFERMEDAD_AGUDA)
    comorbidity: np.ndarray  # code of the added chronic condition, or ""
    # Per patient, the vitals the clinic did not record, at the value they had (`Simulator(unrecorded_seed=...)`);
    # empty when the simulator was not asked for them.
    unrecorded: tuple[dict[str, float], ...] = ()

    def __len__(self) -> int:
        return len(self.requests)


def case_mix(kb: KnowledgeBase, floor: float = PREVALENCE_FLOOR) -> dict[str, float]:
    """Training and evaluation case mix: clinic prevalence with a floor, renormalised."""
    raw = {c.code: max(c.prevalence, floor) for c in kb.conditions}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}


def _choice(rng: np.random.Generator, shares: dict[str, float]) -> str:
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


class Simulator:
    def __init__(self, kb: KnowledgeBase, mix: dict[str, float] | None = None,
                 unrecorded_seed: int | None = None) -> None:
        """`unrecorded_seed`: also draw, for every vital the clinic did not record, the value the patient had (what
        a doctor who measured it would find), from a generator of its own seeded with this: the recorded patients
        are the same as without it (bench/next_findings.py asks for a vital and needs its true value)."""
        self.kb = kb
        self._unrecorded_rng = None if unrecorded_seed is None else np.random.default_rng(unrecorded_seed)
        self._unrecorded: dict[str, float] = {}
        self.mix = mix or case_mix(kb)
        self.codes = [c.code for c in kb.conditions]
        self.weights = np.array([self.mix[c] for c in self.codes])
        self.symptom_keys = [s["key"] for s in kb.symptoms]
        self.self_report = {s["key"] for s in kb.symptoms if s.get("self_report")}
        self.chronic = [c for c in kb.conditions if c.chronic]
        self.healthy = kb.condition("Z00.0")
        self.sign_keys = sorted({k for c in kb.conditions for k in (*c.signs, *c.acute_signs)})
        self.background_keys = [k for k in self.symptom_keys if k not in ALARM_SYMPTOMS]
        self.vocabulary = kb.vocabulary()

    def sample(self, n: int, seed: int) -> SimulatedPatients:
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(self.codes), size=n, p=self.weights / self.weights.sum())
        requests, conditions, states, comorbid = [], [], [], []
        unrecorded: list[dict[str, float]] = []
        for index in chosen:
            condition = self.kb.conditions[index]
            request, state, other = self.patient(condition, rng)
            if self._unrecorded_rng is not None:
                unrecorded.append(dict(self._unrecorded))
            requests.append(request)
            conditions.append(condition.code)
            states.append(state)
            comorbid.append(other)
        state_arr = np.array(states)
        return SimulatedPatients(requests, np.array(conditions), state_arr, state_arr == ACUTE, np.array(comorbid),
                                 tuple(unrecorded))

    # --- one patient -------------------------------------------------------------------------------------------

    def patient(self, c: ConditionProfile, rng: np.random.Generator) -> tuple[dict[str, Any], str, str]:
        band = _choice(rng, {b: c.bands[b].share for b in AGE_BANDS if b in c.bands and c.bands[b].share > 0})
        profile = c.bands[band]
        state = _choice(rng, profile.states or c.states)
        for _ in range(NON_ACUTE_REDRAWS):
            request, other = self._presentation(c, band, state, rng)
            if state == ACUTE or not self._meets_emergency_rule(request):
                break
        return request, state, other

    def _meets_emergency_rule(self, request: dict[str, Any]) -> bool:
        """Whether a published danger sign at EMERGENCIA level (app/core/red_flags.py) fires for `request`."""
        from app.core import red_flags
        from app.core.contract import validate_request

        validated = validate_request(request, self.vocabulary)
        return any(rule.level == red_flags.EMERGENCIA for rule in red_flags.evaluate(validated))

    def _presentation(self, c: ConditionProfile, band: str, state: str,
                      rng: np.random.Generator) -> tuple[dict[str, Any], str]:
        profile = c.bands[band]
        p_factor, i_factor, v_factor = STATE_EFFECT[state]
        acute = state == ACUTE
        if set(c.states) == {ACUTE}:
            # An always-acute condition's profile already describes its acute presentation: its symptoms are not
            # made more frequent or intense again (vitals still show the derangement that makes it an emergency).
            p_factor, i_factor = 1.0, 1.0

        age = self._age(band, profile.ages, rng)
        sex = "F" if rng.random() < c.female else "M"
        request: dict[str, Any] = {"age": age, "sex": sex}
        pregnancy = self._pregnancy(c, sex, age, rng)
        if pregnancy is not None:
            request["pregnancy"] = pregnancy
        if rng.random() >= DURATION_MISSING_RATE:
            median, sigma = c.duration_days
            days = float(np.exp(rng.normal(np.log(median), sigma)))
            request["duration_days"] = round(min(days, 3650.0), 1 if days < 10 else 0)

        symptoms: dict[str, int] = {}
        own = {**c.symptoms, **profile.symptoms, **(c.acute_symptoms if acute else {})}
        self._add_symptoms(symptoms, own, p_factor, i_factor, rng)
        other = ""
        comorbid: ConditionProfile | None = None
        if c.code != "Z00.0" and age >= COMORBIDITY_MIN_AGE and rng.random() < COMORBIDITY_RATE:
            candidates = [o for o in self.chronic if o.code != c.code and o.age.get(_band_of(age), 0) > 0]
            if candidates:
                comorbid = candidates[rng.integers(len(candidates))]
                other = comorbid.code
                self._add_symptoms(symptoms, comorbid.symptoms, *COMORBIDITY_SYMPTOM_FACTOR, rng)
        for key in self.background_keys:  # unrelated complaints people mention anyway
            if key not in symptoms and rng.random() < BACKGROUND_RATE:
                symptoms[key] = int(rng.integers(1, 4))
        for key, value in list(symptoms.items()):  # patients misjudge intensity
            if rng.random() < MISREPORT_RATE:
                shift = int(rng.integers(2, 4)) * (1 if rng.random() < 0.5 else -1)
                symptoms[key] = int(np.clip(value + shift, 1, 10))
        self._who_can_tell(symptoms, age, sex, state, rng)

        signs = self._signs(c, profile, age, acute, rng)
        self._ensure_findings(symptoms, signs, own, age, sex, i_factor, rng)
        request["symptoms"] = symptoms
        if signs:
            request["signs"] = sorted(signs)
        consciousness = self._avpu(c, acute, rng)
        if consciousness is not None:
            request["consciousness"] = consciousness
        request["vitals"] = self._vitals(c, profile.vitals, comorbid, age, v_factor, acute, rng)
        return request, other

    @staticmethod
    def _age(band: str, ages: tuple[float, float] | None, rng: np.random.Generator) -> float:
        low, high = ages or AGE_RANGES[band]
        age = float(rng.uniform(low, high))
        if age < 1:
            # Infants are entered in days (contract v2: a 5-day-old is 0.014 years).
            return round(min(float(int(age * 365.25)), 364.0) / 365.25, 3)
        if age < 5:
            return round(float(int(age * 12)) / 12, 3)  # months
        return float(int(age))

    def _pregnancy(self, c: ConditionProfile, sex: str, age: float,
                   rng: np.random.Generator) -> dict[str, Any] | None:
        if sex != "F" or not PREGNANCY_AGE[0] <= age <= PREGNANCY_AGE[1]:
            return None
        profile = c.pregnancy
        if profile is None:
            background = self.kb.pregnancy_background
            if background is None:
                return None
            if not CHILDBEARING[0] <= age <= CHILDBEARING[1]:
                profile = PregnancyProfile({"absent": 0.6, "not_pregnant": 0.4})
            elif c.pregnant_share is not None or c.postpartum_share is not None:
                # The condition's own shares; the other statuses keep the background's proportions.
                fixed = {k: v for k, v in (("pregnant", c.pregnant_share), ("postpartum", c.postpartum_share))
                         if v is not None}
                rest = {k: v for k, v in background.status.items() if k not in fixed}
                scale = (1.0 - sum(fixed.values())) / sum(rest.values())
                profile = PregnancyProfile({**{k: v * scale for k, v in rest.items()}, **fixed},
                                           background.weeks, background.days_since_delivery)
            else:
                profile = background
        status = _choice(rng, profile.status)
        if status == "absent":
            return None
        out: dict[str, Any] = {"status": status}
        if status == "pregnant" and profile.weeks is not None:
            mean, sd, low, high = profile.weeks
            out["weeks"] = float(int(np.clip(rng.normal(mean, sd), low, high)))
        if status == "postpartum" and profile.days_since_delivery is not None:
            mean, sd, low, high = profile.days_since_delivery
            out["days_since_delivery"] = round(float(np.clip(abs(rng.normal(mean, sd)), low, high)), 1)
        return out

    @staticmethod
    def _add_symptoms(symptoms: dict[str, int], profile: dict[str, tuple[float, float]], p_factor: float,
                      i_factor: float, rng: np.random.Generator) -> None:
        for key, (p, mean) in profile.items():
            if rng.random() < min(0.98, p * p_factor):
                value = int(np.clip(round(rng.normal(mean * i_factor, INTENSITY_SD)), 1, 10))
                symptoms[key] = max(symptoms.get(key, 0), value)

    def _who_can_tell(self, symptoms: dict[str, int], age: float, sex: str, state: str,
                      rng: np.random.Generator) -> None:
        """A child under 2 cannot report pain or nausea; a carer reports irritability instead (IMCI asks the carer)."""
        for key in [k for k in symptoms if k in SEX_SYMPTOMS and (sex != "F" or age < PREGNANCY_AGE[0])]:
            del symptoms[key]
        if age >= 5:
            return
        told = [k for k in symptoms if k in self.self_report]
        if age < PREVERBAL_AGE:
            for key in told:
                del symptoms[key]
            if told and state != "NO_ENFERMO" and "irritabilidad" not in symptoms \
                    and rng.random() < CARER_IRRITABILITY:
                symptoms["irritabilidad"] = int(np.clip(max(symptoms.get(k, 3) for k in symptoms) if symptoms
                                                        else 3, 1, 7))
        else:
            for key in told:
                if rng.random() >= TODDLER_SELF_REPORT:
                    del symptoms[key]

    def _signs(self, c: ConditionProfile, profile: Any, age: float, acute: bool,
               rng: np.random.Generator) -> set[str]:
        signs = {k for k, p in {**c.signs, **profile.signs}.items() if rng.random() < p}
        if acute:
            emergency = dict(c.acute_signs)
            if not emergency:
                emergency = dict(self.kb.default_acute.get("signs", {}))
                if age < 5:
                    emergency.update(self.kb.default_acute.get("under5_signs", {}))
            emergency.update(profile.acute_signs)
            emergency = {k: p for k, p in emergency.items() if age < SIGN_MAX_AGE.get(k, 200.0)}
            drawn = {k for k, p in emergency.items() if rng.random() < p}
            if not drawn and emergency and rng.random() < ACUTE_SIGN_FLOOR:
                drawn = {_choice(rng, emergency)}
            signs |= drawn
        if self.sign_keys and rng.random() < SIGN_NOISE_RATE:
            signs.add(self.sign_keys[int(rng.integers(len(self.sign_keys)))])
        return {k for k in signs if age < SIGN_MAX_AGE.get(k, 200.0)}

    def _avpu(self, c: ConditionProfile, acute: bool, rng: np.random.Generator) -> str | None:
        if acute:
            if rng.random() >= ACUTE_AVPU_ASSESSED:
                return None
            return _choice(rng, c.acute_avpu or self.kb.default_acute.get("avpu", {"A": 1.0}))
        if rng.random() >= OTHER_AVPU_ASSESSED:
            return None
        return "A"

    def _ensure_findings(self, symptoms: dict[str, int], signs: set[str], profile: dict[str, tuple[float, float]],
                         age: float, sex: str, i_factor: float, rng: np.random.Generator) -> None:
        """The contract needs three findings (symptoms and signs): a patient with fewer mentions more of the
        condition's own symptoms (those this patient can tell)."""

        def count() -> int:
            return sum(1 for v in symptoms.values() if v >= 1) + len(signs)

        def tellable(key: str) -> bool:
            if key in SEX_SYMPTOMS and (sex != "F" or age < PREGNANCY_AGE[0]):
                return False
            return not (age < PREVERBAL_AGE and key in self.self_report)

        pool = [k for k in profile if k not in symptoms and tellable(k) and profile[k][0] > 0] or \
            [k for k in self.healthy.symptoms if k not in symptoms and tellable(k)]
        while count() < 3 and pool:
            weights = np.array([profile.get(k, (0.5, 2.0))[0] for k in pool]) + 1e-3
            key = pool.pop(int(rng.choice(len(pool), p=weights / weights.sum())))
            mean = profile.get(key, (0.5, 2.0))[1]
            symptoms[key] = int(np.clip(round(mean * i_factor * 0.6), 1, 10))
        vague = [k for k in self.symptom_keys if tellable(k)]
        while count() < 3:  # a profile with too few symptoms: vague complaints
            symptoms.setdefault(vague[int(rng.integers(len(vague)))], 1)

    def _vitals(self, c: ConditionProfile, band_vitals: dict[str, tuple[float, float]],
                comorbid: ConditionProfile | None, age: float, v_factor: float, acute: bool,
                rng: np.random.Generator) -> dict[str, float]:
        band = _band_of(age)
        severity = float(rng.uniform(0.5, 1.5))
        vitals: dict[str, float] = {}
        systolic_z: float | None = None
        adult_profile = {**c.vitals, **(c.acute_vitals if acute else {})}
        hidden = self._unrecorded_rng
        self._unrecorded = {}
        drawn_systolic_z: float | None = None  # recorded or not: what an unrecorded diastolic moves with
        for v in self.kb.vitals:
            missing = v.missing(band) * (ACUTE_MEASURED_FACTOR if acute else 1.0)
            if v.key in c.measured:
                missing = 1.0 - c.measured[v.key]
            recorded = rng.random() >= missing
            if not recorded and hidden is None:
                continue
            normal_mean, normal_sd = v.norm(age)
            factor = 1.0 if (acute and v.key in c.acute_vitals) else v_factor
            if c.benign:
                centre, sd = normal_mean, normal_sd
            elif v.key in band_vitals:
                # Absolute values for this age band, written for the condition's typical presentation (which for a
                # critical condition is the acute one): an acute state does not stretch them further.
                mean, sd = band_vitals[v.key]
                centre = normal_mean + (mean - normal_mean) * min(factor, 1.0 if acute else factor)
            elif v.key in c.vitals_z:
                z_mean, z_sd = c.vitals_z[v.key]
                centre, sd = normal_mean + z_mean * factor * normal_sd, z_sd * normal_sd
            elif v.key in adult_profile:
                mean, sd = adult_profile[v.key]
                centre, sd = _carry(v, mean, sd, normal_mean, normal_sd, factor)
            elif comorbid is not None and v.key in comorbid.vitals:
                mean, sd = comorbid.vitals[v.key]
                centre, sd = _carry(v, mean, sd, normal_mean, normal_sd, 0.6)
            else:
                centre, sd = normal_mean, normal_sd
            if acute and v.key not in adult_profile and v.key not in band_vitals and v.key in ACUTE_DERANGEMENT:
                how, shift, spread = ACUTE_DERANGEMENT[v.key]
                if how == "relative":
                    centre += severity * shift * normal_mean
                    sd = float(np.hypot(sd, spread * normal_mean))
                else:
                    centre += severity * shift
                    sd = float(np.hypot(sd, spread))
            z = float((rng if recorded or hidden is None else hidden).normal())
            if v.key == "systolic_bp":
                drawn_systolic_z = z
                if recorded:
                    systolic_z = z
            elif v.key == "diastolic_bp":
                partner = systolic_z if recorded else drawn_systolic_z
                if partner is not None:
                    z = BP_CORRELATION * partner + float(np.sqrt(1 - BP_CORRELATION**2)) * z
            value = float(np.clip(centre + z * sd, *v.plausible))
            (vitals if recorded else self._unrecorded)[v.key] = (round(value, v.decimals) if v.decimals
                                                                 else float(round(value)))
        if "systolic_bp" in vitals and "diastolic_bp" in vitals and vitals["diastolic_bp"] >= vitals["systolic_bp"]:
            vitals["diastolic_bp"] = float(max(20.0, vitals["systolic_bp"] - 10.0))
        return vitals


def _band_of(age: float) -> str:
    for band in AGE_BANDS:
        if age < AGE_RANGES[band][1]:
            return band
    return "older"


def _carry(v: VitalProfile, mean: float, sd: float, normal_mean: float, normal_sd: float,
           factor: float) -> tuple[float, float]:
    """Carry a profile written for a typical adult to this patient's age: keep its distance from the adult normal,
    in units (absolute) or as a share of the normal (relative), scaled by the state's factor."""
    adult_mean, _ = v.norm(40.0)
    if v.age_shift == "relative":
        ratio = normal_mean / adult_mean
        return normal_mean + (mean - adult_mean) * ratio * factor, max(sd * ratio, normal_sd)
    return normal_mean + (mean - adult_mean) * factor, max(sd, normal_sd * 0.8)
