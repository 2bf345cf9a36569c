"""What every danger-sign rule module shares: the WHO ETAT levels, the rule type and the readers of a request.

The rules themselves are in `red_flags_general.py` (vital signs, symptoms, scores) and `red_flags_etat.py` (children,
pregnancy, poisoning); `red_flags.py` lists their sources and evaluates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.core.contract import DiagnoseRequest

EMERGENCIA = "EMERGENCIA"
PRIORITARIO = "PRIORITARIO"
NO_URGENTE = "NO_URGENTE"
TRIAGE_LEVELS = (NO_URGENTE, PRIORITARIO, EMERGENCIA)  # least urgent first


@dataclass(frozen=True, slots=True)
class RedFlagRule:
    code: str
    message: dict[str, str]
    source: str
    level: str  # EMERGENCIA or PRIORITARIO
    applies: Callable[[DiagnoseRequest], bool]

    @property
    def escalate(self) -> bool:
        """True for an emergency sign (raises the state to ENFERMEDAD_AGUDA)."""
        return self.level == EMERGENCIA


def _s(r: DiagnoseRequest, key: str) -> int:
    return r.symptoms.get(key, 0)


def _v(r: DiagnoseRequest, key: str) -> float | None:
    return r.vitals.get(key)


def _fever(r: DiagnoseRequest) -> bool:
    t = _v(r, "temperature_c")
    return _s(r, "fiebre") >= 1 or (t is not None and t >= 38.0)


def _sign(r: DiagnoseRequest, code: str) -> bool:
    return code in r.signs


def _months(r: DiagnoseRequest) -> float:
    return r.age * 12.0


def _altered_consciousness(r: DiagnoseRequest) -> bool:
    return r.consciousness in ("P", "U") or _sign(r, "lethargic_or_unconscious")


def _heart_rate_low(r: DiagnoseRequest) -> bool:
    hr = _v(r, "heart_rate")
    if hr is None:
        return False
    # Below the 1st centile for age (Fleming 2011), where APLS calls bradycardia pre-terminal in a sick child;
    # adults NEWS2 (<= 40 scores 3).
    if r.age < 1:
        return hr < 90
    if r.age < 5:
        return hr < 70
    if r.age < 12:
        return hr < 60
    return hr <= 40


def _fast_breathing_imci(r: DiagnoseRequest) -> bool:
    rr = _v(r, "respiratory_rate")
    if rr is None or r.age >= 5:
        return False
    # IMCI 2014: >= 60 under 2 months, >= 50 from 2 to 12 months, >= 40 from 12 months to 5 years.
    limit = 60 if _months(r) < 2 else 50 if _months(r) < 12 else 40
    return rr >= limit


def _young_infant_psbi(r: DiagnoseRequest) -> bool:
    """IMCI 2014, young infant (< 2 months): possible serious bacterial infection or very severe disease."""
    if _months(r) >= 2:
        return False
    t = _v(r, "temperature_c")
    rr = _v(r, "respiratory_rate")
    return (
        _sign(r, "unable_to_drink_or_breastfeed") or _s(r, "rechazo_alimento") >= 5
        or _sign(r, "convulsions_this_illness") or _s(r, "convulsiones") >= 1
        or (rr is not None and rr >= 60)
        or _sign(r, "chest_indrawing") or _sign(r, "grunting")
        or (t is not None and (t >= 37.5 or t < 35.5))
        or _sign(r, "movement_only_when_stimulated") or _sign(r, "lethargic_or_unconscious")
        or _sign(r, "bulging_fontanelle")
    )


def _general_danger_sign(r: DiagnoseRequest) -> bool:
    # IMCI asks the carer "has the child had convulsions during this illness?": under 5, the symptom is the sign.
    return (_sign(r, "unable_to_drink_or_breastfeed") or _sign(r, "vomits_everything")
            or _sign(r, "convulsions_this_illness") or _sign(r, "lethargic_or_unconscious")
            or (r.age < 5 and _s(r, "convulsiones") >= 1))


def _shock(r: DiagnoseRequest) -> bool:
    """ETAT shock: cold hands with capillary refill > 3 s and a weak, fast pulse (children); any age."""
    crt = _v(r, "capillary_refill_s")
    return _sign(r, "cold_extremities") and crt is not None and crt > 3 and _sign(r, "weak_fast_pulse")


def _severe_dehydration(r: DiagnoseRequest) -> bool:
    # IMCI 2014: two of lethargic/unconscious, sunken eyes, not able to drink or drinking poorly, skin pinch very slow.
    if _sign(r, "severe_dehydration"):
        return True
    count = (_sign(r, "lethargic_or_unconscious") + _sign(r, "sunken_eyes")
             + _sign(r, "unable_to_drink_or_breastfeed") + _sign(r, "skin_pinch_very_slow"))
    return count >= 2


def _severe_acute_malnutrition(r: DiagnoseRequest) -> bool:
    muac = _v(r, "muac_mm")
    return (_sign(r, "bilateral_pitting_oedema") or _sign(r, "visible_severe_wasting")
            or (muac is not None and 0.5 <= r.age < 5 and muac < 115))


def _bp(r: DiagnoseRequest) -> tuple[float | None, float | None]:
    return _v(r, "systolic_bp"), _v(r, "diastolic_bp")


def _pre_eclampsia_setting(r: DiagnoseRequest) -> bool:
    # From 20 weeks of pregnancy, and in the puerperium (pre-eclampsia can appear up to 6 weeks after delivery).
    return (r.pregnant and r.pregnancy is not None and (r.pregnancy.weeks or 0) >= 20) or r.postpartum


def _pre_eclampsia_symptoms(r: DiagnoseRequest) -> bool:
    return (_s(r, "dolor_cabeza") >= 3 or _s(r, "cambios_vision") >= 1 or _s(r, "dolor_epigastrico") >= 1
            or _s(r, "dolor_abdominal") >= 5 or _s(r, "confusion") >= 1)


def _hypertension_in_pregnancy(r: DiagnoseRequest, systolic: float, diastolic: float) -> bool:
    s, d = _bp(r)
    return _pre_eclampsia_setting(r) and ((s is not None and s >= systolic) or (d is not None and d >= diastolic))


def _hypoglycaemia_limit(r: DiagnoseRequest) -> float:
    # WHO Pocket book 2013: < 2.5 mmol/l (45 mg/dl) in children (< 3 mmol/l in severe malnutrition); adults ADA
    # level 2 < 54 mg/dl.
    if r.age < 18:
        return 54.0 if _severe_acute_malnutrition(r) else 45.0
    return 54.0


def _shock_index(r: DiagnoseRequest) -> float | None:
    hr, s = _v(r, "heart_rate"), _v(r, "systolic_bp")
    if hr is None or s is None or r.age < 16:
        return None
    return hr / s


def _resp_rate_high(r: DiagnoseRequest) -> bool:
    rr = _v(r, "respiratory_rate")
    if rr is None:
        return False
    # Children breathe faster; limits are near the 99th centile of Fleming 2011, adults NEWS2 score 3.
    limit = 60 if r.age < 1 else 50 if r.age < 5 else 40 if r.age < 12 else 25
    return rr >= limit


def _heart_rate_high(r: DiagnoseRequest) -> bool:
    hr = _v(r, "heart_rate")
    if hr is None:
        return False
    limit = 180 if r.age < 1 else 160 if r.age < 5 else 140 if r.age < 12 else 131
    return hr >= limit


SPEECH_FROM_AGE = 2.0  # years: before, a child does not talk enough for a speech difficulty to be seen


def _speech(r: DiagnoseRequest) -> int:
    """Difficulty speaking, counted from SPEECH_FROM_AGE (0 before: a preverbal child cannot show it)."""
    return _s(r, "dificultad_hablar") if r.age >= SPEECH_FROM_AGE else 0


def _recent(r: DiagnoseRequest, days: float) -> bool:
    return r.duration_days is None or r.duration_days <= days


def _dengue_bleeding_or_lethargy(r: DiagnoseRequest) -> bool:
    """WHO 2009 warning signs that are not also a criterion of probable dengue: mucosal bleeding, lethargy or
    restlessness, clinical fluid accumulation."""
    return (_s(r, "sangrado") >= 1 or _sign(r, "mucosal_bleeding") or _sign(r, "lethargic_or_unconscious")
            or _sign(r, "restless_irritable") or r.consciousness in ("V", "P", "U"))


def _probable_dengue(r: DiagnoseRequest) -> bool:
    # WHO 2009 probable dengue: fever and two of nausea/vomiting, rash, aches and pains, any warning sign, in an
    # illness of up to 10 days. A toddler cannot report aches, so the warning signs count as the guideline says
    # (those that are not already the nausea/vomiting criterion). The fever is that of this illness: the symptom
    # "fiebre" as reported, or 38 °C measured. A temperature that has fallen is no reason against it (the critical
    # phase, with the warning signs, begins as the fever falls), but an illness without any fever is not dengue:
    # without it, a child with gastroenteritis, vomiting and restless was called an emergency for dengue.
    aches = max(_s(r, "dolor_cabeza"), _s(r, "dolor_retroocular"), _s(r, "dolor_muscular"), _s(r, "dolor_articular"))
    criteria = ((max(_s(r, "nausea"), _s(r, "vomito")) >= 1) + (_s(r, "erupcion_cutanea") >= 1) + (aches >= 1)
                + _dengue_bleeding_or_lethargy(r))
    days = r.duration_days
    return _fever(r) and criteria >= 2 and (days is None or days <= 10)
