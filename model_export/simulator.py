"""Synthetic clinic patients drawn from the knowledge base, seeded and reproducible.

A patient is drawn in this order: condition (by clinic case mix), state (by the condition's state shares), age band
and age, sex, duration, symptoms, vitals; then the noise a real clinic adds. The assumptions are listed in
`docs/model_card.md` ("Simulator"); the numbers that drive them are the constants below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model_export.knowledge import ConditionProfile, KnowledgeBase, age_band

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
# An acute presentation (ENFERMEDAD_AGUDA) is, by the origin document's definition, one that needs immediate
# attention; clinically that is recognised by physiological derangement (NEWS2). Vitals the condition's profile does
# not move are shifted by this much (mean shift, sd), scaled by a per-patient severity drawn from U(0.5, 1.5).
ACUTE_DERANGEMENT: dict[str, tuple[float, float]] = {
    "heart_rate": (22.0, 10.0),
    "respiratory_rate": (6.0, 3.0),
    "spo2": (-3.0, 2.0),
    "systolic_bp": (-10.0, 10.0),
}
INTENSITY_SD = 1.5  # spread of reported intensity around the profile's mean
MISREPORT_RATE = 0.10  # a present symptom reported 2-3 points too high or too low
BACKGROUND_RATE = 0.015  # an unrelated symptom mentioned at low intensity (1-3)
COMORBIDITY_RATE = 0.10  # a chronic condition adds some of its own symptoms and vitals
COMORBIDITY_SYMPTOM_FACTOR = (0.4, 0.6)  # its symptoms: probability factor, intensity factor
DURATION_MISSING_RATE = 0.05
CHILD_BP_MISSING_FACTOR = 1.6  # blood pressure is measured less often in children
PREVALENCE_FLOOR = 0.01  # training case mix: every condition at least 1% so that rare ones are learnt
AGE_RANGES = {"child": (0.0, 18.0), "adult": (18.0, 65.0), "older": (65.0, 95.0)}


@dataclass(frozen=True)
class SimulatedPatients:
    requests: list[dict[str, Any]]  # diagnose-contract requests
    condition: np.ndarray  # ICD-10 code per patient
    state: np.ndarray  # state per patient
    critical: np.ndarray  # needs immediate attention (state ENFERMEDAD_AGUDA)
    comorbidity: np.ndarray  # code of the added chronic condition, or ""

    def __len__(self) -> int:
        return len(self.requests)


def case_mix(kb: KnowledgeBase, floor: float = PREVALENCE_FLOOR) -> dict[str, float]:
    """Training and evaluation case mix: clinic prevalence with a floor, renormalised."""
    raw = {c.code: max(c.prevalence, floor) for c in kb.conditions}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}


class Simulator:
    def __init__(self, kb: KnowledgeBase, mix: dict[str, float] | None = None) -> None:
        self.kb = kb
        self.mix = mix or case_mix(kb)
        self.codes = [c.code for c in kb.conditions]
        self.weights = np.array([self.mix[c] for c in self.codes])
        self.symptom_keys = [s["key"] for s in kb.symptoms]
        self.chronic = [c for c in kb.conditions if c.chronic]
        self.healthy = kb.condition("Z00.0")

    def sample(self, n: int, seed: int) -> SimulatedPatients:
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(self.codes), size=n, p=self.weights / self.weights.sum())
        requests, conditions, states, comorbid = [], [], [], []
        for index in chosen:
            condition = self.kb.conditions[index]
            request, state, other = self.patient(condition, rng)
            requests.append(request)
            conditions.append(condition.code)
            states.append(state)
            comorbid.append(other)
        state_arr = np.array(states)
        return SimulatedPatients(requests, np.array(conditions), state_arr, state_arr == "ENFERMEDAD_AGUDA",
                                 np.array(comorbid))

    def patient(self, c: ConditionProfile, rng: np.random.Generator) -> tuple[dict[str, Any], str, str]:
        state_names = list(c.states)
        state = state_names[rng.choice(len(state_names), p=np.array([c.states[s] for s in state_names]))]
        p_factor, i_factor, v_factor = STATE_EFFECT[state]

        band = ("child", "adult", "older")[rng.choice(3, p=np.array([c.age["child"], c.age["adult"],
                                                                     c.age["older"]]))]
        low, high = AGE_RANGES[band]
        age = float(rng.uniform(low, high))
        age = round(age, 1) if age < 2 else float(int(age))
        sex = "F" if rng.random() < c.female else "M"

        request: dict[str, Any] = {"age": age, "sex": sex}
        if rng.random() >= DURATION_MISSING_RATE:
            median, sigma = c.duration_days
            days = float(np.exp(rng.normal(np.log(median), sigma)))
            request["duration_days"] = round(min(days, 3650.0), 1 if days < 10 else 0)

        symptoms: dict[str, int] = {}
        self._add_symptoms(symptoms, c, p_factor, i_factor, rng)
        other = ""
        comorbid: ConditionProfile | None = None
        if c.code != "Z00.0" and rng.random() < COMORBIDITY_RATE:
            candidates = [o for o in self.chronic if o.code != c.code]
            if candidates:
                comorbid = candidates[rng.integers(len(candidates))]
                other = comorbid.code
                self._add_symptoms(symptoms, comorbid, *COMORBIDITY_SYMPTOM_FACTOR, rng)
        for key in self.symptom_keys:  # unrelated complaints people mention anyway
            if key not in symptoms and rng.random() < BACKGROUND_RATE:
                symptoms[key] = int(rng.integers(1, 4))
        for key, value in list(symptoms.items()):  # patients misjudge intensity
            if rng.random() < MISREPORT_RATE:
                shift = int(rng.integers(2, 4)) * (1 if rng.random() < 0.5 else -1)
                symptoms[key] = int(np.clip(value + shift, 1, 10))
        self._ensure_findings(symptoms, c, i_factor, rng)
        request["symptoms"] = symptoms
        request["vitals"] = self._vitals(c, comorbid, age, v_factor, state == "ENFERMEDAD_AGUDA", rng)
        return request, state, other

    def _add_symptoms(self, symptoms: dict[str, int], c: ConditionProfile, p_factor: float, i_factor: float,
                      rng: np.random.Generator) -> None:
        for key, (p, mean) in c.symptoms.items():
            if rng.random() < min(0.98, p * p_factor):
                value = int(np.clip(round(rng.normal(mean * i_factor, INTENSITY_SD)), 1, 10))
                symptoms[key] = max(symptoms.get(key, 0), value)

    def _ensure_findings(self, symptoms: dict[str, int], c: ConditionProfile, i_factor: float,
                         rng: np.random.Generator) -> None:
        """The contract needs three findings: a patient with fewer mentions more of the condition's own symptoms."""
        pool = [k for k in c.symptoms if k not in symptoms] or [k for k in self.healthy.symptoms if k not in symptoms]
        while sum(1 for v in symptoms.values() if v >= 1) < 3 and pool:
            weights = np.array([c.symptoms.get(k, (0.5, 2.0))[0] for k in pool]) + 1e-3
            key = pool.pop(int(rng.choice(len(pool), p=weights / weights.sum())))
            mean = c.symptoms.get(key, (0.5, 2.0))[1]
            symptoms[key] = int(np.clip(round(mean * i_factor * 0.6), 1, 10))
        while sum(1 for v in symptoms.values() if v >= 1) < 3:  # a profile with too few symptoms: vague complaints
            key = self.symptom_keys[int(rng.integers(len(self.symptom_keys)))]
            symptoms.setdefault(key, 1)

    def _vitals(self, c: ConditionProfile, comorbid: ConditionProfile | None, age: float, v_factor: float,
                acute: bool, rng: np.random.Generator) -> dict[str, float]:
        band = age_band(age)
        severity = float(rng.uniform(0.5, 1.5))
        vitals: dict[str, float] = {}
        for v in self.kb.vitals:
            missing = v.missing_rate * (CHILD_BP_MISSING_FACTOR if band == "child" and "bp" in v.key else 1.0)
            if rng.random() < missing:
                continue
            normal_mean, normal_sd = v.normal[band]
            adult_mean = v.normal["adult"][0]
            if v.key in c.vitals:
                # The profile is written for a typical adult; keep its distance from normal, scaled by the state.
                mean, sd = c.vitals[v.key]
                centre = normal_mean + (mean - adult_mean) * v_factor
            elif comorbid is not None and v.key in comorbid.vitals:
                mean, sd = comorbid.vitals[v.key]
                centre = normal_mean + (mean - adult_mean) * 0.6
            else:
                centre, sd = normal_mean, normal_sd
            if acute and v.key not in c.vitals and v.key in ACUTE_DERANGEMENT:
                shift, spread = ACUTE_DERANGEMENT[v.key]
                centre += severity * shift
                sd = float(np.hypot(sd, spread))
            value = float(np.clip(rng.normal(centre, sd), *v.plausible))
            vitals[v.key] = round(value, v.decimals) if v.decimals else float(round(value))
        if "systolic_bp" in vitals and "diastolic_bp" in vitals and vitals["diastolic_bp"] >= vitals["systolic_bp"]:
            vitals["diastolic_bp"] = float(max(20.0, vitals["systolic_bp"] - 10.0))
        return vitals
