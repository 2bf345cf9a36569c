"""Red-flag safety rules: findings that need immediate attention whatever the model says.

Each rule is a published danger sign, with its source beside it. A rule can raise the immediate-attention flag and,
when `escalate` is set, raise the state to ENFERMEDAD_AGUDA; no rule ever lowers anything (the origin document's
precautionary principle). The thresholds are deliberately those of the sources, not tuned on our simulator.

Sources, as cited per rule:
- NEWS2: Royal College of Physicians. National Early Warning Score (NEWS) 2. London: RCP, 2017. A single parameter
  scoring 3 calls for an urgent clinical response.
- Fleming S, et al. Normal ranges of heart rate and respiratory rate in children. Lancet 2011;377:1011-8.
- WHO. Integrated Management of Childhood Illness (IMCI) chart booklet, 2014.
- NICE NG143 (2019, updated 2021): Fever in under 5s.  NICE NG240 (2024): Meningitis (bacterial) and meningococcal
  disease.  NICE NG128 (2019): Stroke and TIA.  NICE CG95 (2010, updated 2016): Recent-onset chest pain.
  NICE NG217 (2022): Epilepsies.
- WHO. Dengue: guidelines for diagnosis, treatment, prevention and control, 2009 (warning signs).
- American Diabetes Association. Standards of Care in Diabetes 2025, sections 6 (hypoglycaemia levels) and 16
  (hyperglycaemic crises).
- Whelton PK, et al. 2017 ACC/AHA guideline for high blood pressure in adults (hypertensive emergency).
- Singer M, et al. Sepsis-3. JAMA 2016;315:801-10 (qSOFA).
- GINA 2024: Global strategy for asthma management (severe exacerbation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.core.contract import DiagnoseRequest


@dataclass(frozen=True, slots=True)
class RedFlagRule:
    code: str
    message: dict[str, str]
    source: str
    escalate: bool  # raise the state to ENFERMEDAD_AGUDA
    applies: Callable[[DiagnoseRequest], bool]


def _s(r: DiagnoseRequest, key: str) -> int:
    return r.symptoms.get(key, 0)


def _v(r: DiagnoseRequest, key: str) -> float | None:
    return r.vitals.get(key)


def _fever(r: DiagnoseRequest) -> bool:
    t = _v(r, "temperature_c")
    return _s(r, "fiebre") >= 1 or (t is not None and t >= 38.0)


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


def _recent(r: DiagnoseRequest, days: float) -> bool:
    return r.duration_days is None or r.duration_days <= days


def _probable_dengue(r: DiagnoseRequest) -> bool:
    # WHO 2009 probable dengue: fever with two of nausea/vomiting, rash, aches and pains (any warning sign counts).
    aches = max(_s(r, "dolor_cabeza"), _s(r, "dolor_retroocular"), _s(r, "dolor_muscular"), _s(r, "dolor_articular"))
    criteria = (max(_s(r, "nausea"), _s(r, "vomito")) >= 1) + (_s(r, "erupcion_cutanea") >= 1) + (aches >= 1)
    days = r.duration_days
    return _fever(r) and criteria >= 2 and (days is None or 1 <= days <= 10)


def _qsofa(r: DiagnoseRequest) -> int:
    rr, sbp = _v(r, "respiratory_rate"), _v(r, "systolic_bp")
    return (rr is not None and rr >= 22) + (sbp is not None and sbp <= 100) + (_s(r, "confusion") >= 1)


RULES: tuple[RedFlagRule, ...] = (
    RedFlagRule(
        "SPO2_LOW",
        {"es": "Saturación de oxígeno ≤ 91 %: hipoxemia.", "en": "Oxygen saturation ≤ 91%: hypoxaemia."},
        "NEWS2 (SpO2 ≤ 91 scores 3); WHO IMCI (SpO2 < 90% is a danger sign)",
        True,
        lambda r: (s := _v(r, "spo2")) is not None and s <= 91,
    ),
    RedFlagRule(
        "RESP_RATE_HIGH",
        {"es": "Frecuencia respiratoria muy alta para la edad.", "en": "Respiratory rate very high for age."},
        "NEWS2 (RR ≥ 25 scores 3); Fleming 2011 centiles for children",
        True,
        _resp_rate_high,
    ),
    RedFlagRule(
        "RESP_RATE_LOW",
        {"es": "Frecuencia respiratoria ≤ 8.", "en": "Respiratory rate ≤ 8."},
        "NEWS2 (RR ≤ 8 scores 3)",
        True,
        lambda r: (rr := _v(r, "respiratory_rate")) is not None and rr <= 8,
    ),
    RedFlagRule(
        "HEART_RATE_HIGH",
        {"es": "Frecuencia cardiaca muy alta para la edad.", "en": "Heart rate very high for age."},
        "NEWS2 (HR ≥ 131 scores 3); Fleming 2011 centiles for children",
        True,
        _heart_rate_high,
    ),
    RedFlagRule(
        "HEART_RATE_LOW",
        {"es": "Frecuencia cardiaca ≤ 40.", "en": "Heart rate ≤ 40."},
        "NEWS2 (HR ≤ 40 scores 3)",
        True,
        lambda r: (hr := _v(r, "heart_rate")) is not None and hr <= 40 and r.age >= 12,
    ),
    RedFlagRule(
        "HYPOTENSION",
        {"es": "Presión sistólica ≤ 90 mmHg: posible choque.", "en": "Systolic pressure ≤ 90 mmHg: possible shock."},
        "NEWS2 (systolic ≤ 90 scores 3)",
        True,
        lambda r: (s := _v(r, "systolic_bp")) is not None and s <= 90 and r.age >= 16,
    ),
    RedFlagRule(
        "SEPSIS_QSOFA",
        {"es": "qSOFA ≥ 2: riesgo de sepsis.", "en": "qSOFA ≥ 2: risk of sepsis."},
        "Sepsis-3, Singer 2016 (qSOFA: RR ≥ 22, systolic ≤ 100, altered mentation)",
        True,
        lambda r: r.age >= 18 and _qsofa(r) >= 2,
    ),
    RedFlagRule(
        "HYPERTENSIVE_EMERGENCY",
        {"es": "Crisis hipertensiva con síntomas de daño de órgano (dolor de pecho, déficit neurológico, visión).",
         "en": "Hypertensive crisis with symptoms of organ damage (chest pain, neurological deficit, vision)."},
        # Severe hypertension without such symptoms is an urgency (treat orally, review within days), not a flag.
        "2017 ACC/AHA hypertension guideline (hypertensive emergency vs. urgency)",
        True,
        lambda r: (((s := _v(r, "systolic_bp")) is not None and s >= 180)
                   or ((d := _v(r, "diastolic_bp")) is not None and d >= 120))
        and max(_s(r, "dolor_pecho"), _s(r, "confusion"), _s(r, "cambios_vision"), _s(r, "debilidad_unilateral"),
                _s(r, "dificultad_hablar"), _s(r, "dificultad_respirar")) >= 3,
    ),
    RedFlagRule(
        "TEMPERATURE_EXTREME",
        {"es": "Temperatura ≤ 35 °C o ≥ 40 °C.", "en": "Temperature ≤ 35 °C or ≥ 40 °C."},
        "NEWS2 (≤ 35.0 °C scores 3); NICE NG143 (hyperpyrexia)",
        False,
        lambda r: (t := _v(r, "temperature_c")) is not None and (t <= 35.0 or t >= 40.0),
    ),
    RedFlagRule(
        "INFANT_FEVER",
        {"es": "Fiebre en menor de 3 meses.", "en": "Fever in an infant under 3 months."},
        "NICE NG143 (age < 3 months with temperature ≥ 38 °C is high risk)",
        True,
        lambda r: r.age < 0.25 and _fever(r),
    ),
    RedFlagRule(
        "MENINGISM",
        {"es": "Fiebre con rigidez de nuca: sospecha de meningitis.",
         "en": "Fever with neck stiffness: suspected meningitis."},
        "NICE NG240 (suspected bacterial meningitis: urgent transfer)",
        True,
        lambda r: _s(r, "rigidez_nuca") >= 1 and _fever(r),
    ),
    RedFlagRule(
        "STROKE_SIGNS",
        {"es": "Debilidad de un lado o dificultad para hablar de inicio reciente: posible ACV.",
         "en": "Recent one-sided weakness or speech difficulty: possible stroke."},
        "NICE NG128 (FAST; suspected acute stroke: immediate transfer)",
        True,
        lambda r: (_s(r, "debilidad_unilateral") >= 3 or _s(r, "dificultad_hablar") >= 3
                   or (_s(r, "debilidad_unilateral") >= 1 and _s(r, "dificultad_hablar") >= 1))
        and _recent(r, 7),
    ),
    RedFlagRule(
        "SEIZURE",
        {"es": "Convulsiones.", "en": "Seizures."},
        "NICE NG217 (a first seizure or a prolonged one needs urgent assessment)",
        False,
        # A seizure today (or of unknown timing); a known epileptic's seizure last week is a follow-up matter.
        lambda r: _s(r, "convulsiones") >= 1 and _recent(r, 1),
    ),
    RedFlagRule(
        "CONFUSION",
        {"es": "Confusión o alteración de la conciencia.", "en": "Confusion or altered consciousness."},
        "NEWS2 (new confusion scores 3)",
        True,
        lambda r: _s(r, "confusion") >= 3,
    ),
    RedFlagRule(
        "CHEST_PAIN_CARDIAC",
        {"es": "Dolor de pecho intenso con falta de aire, sudoración o náusea: descartar síndrome coronario.",
         "en": "Severe chest pain with breathlessness, sweating or nausea: rule out acute coronary syndrome."},
        "NICE CG95 (suspected acute coronary syndrome: emergency referral)",
        True,
        lambda r: _s(r, "dolor_pecho") >= 7
        and (_s(r, "dificultad_respirar") >= 5 or _s(r, "sudoracion") >= 3 or _s(r, "nausea") >= 3),
    ),
    RedFlagRule(
        "SEVERE_DYSPNEA",
        {"es": "Dificultad respiratoria grave.", "en": "Severe breathing difficulty."},
        "GINA 2024 (severe exacerbation: talks in words, agitated); NEWS2",
        True,
        lambda r: _s(r, "dificultad_respirar") >= 8,
    ),
    RedFlagRule(
        "HEMOPTYSIS",
        {"es": "Sangre al toser en cantidad.", "en": "Coughing up blood in quantity."},
        "Harrison's Principles of Internal Medicine, 21st ed. (massive haemoptysis is an emergency)",
        False,
        lambda r: _s(r, "hemoptisis") >= 5,
    ),
    RedFlagRule(
        "DENGUE_WARNING_SIGNS",
        {"es": "Fiebre con dolor abdominal intenso, vómito persistente o sangrado: signos de alarma de dengue.",
         "en": "Fever with severe abdominal pain, persistent vomiting or bleeding: dengue warning signs."},
        "WHO 2009 dengue guidelines (warning signs: admit or refer)",
        True,
        lambda r: _probable_dengue(r)
        and (_s(r, "dolor_abdominal") >= 6 or _s(r, "vomito") >= 6 or _s(r, "sangrado") >= 1
             or _s(r, "confusion") >= 1),
    ),
    RedFlagRule(
        "BLEEDING",
        {"es": "Sangrado importante.", "en": "Significant bleeding."},
        "Tintinalli's Emergency Medicine, 9th ed. (haemorrhage)",
        False,
        lambda r: _s(r, "sangrado") >= 5,
    ),
    RedFlagRule(
        "HYPERGLYCAEMIC_CRISIS",
        {"es": "Glucosa muy alta con vómito, dolor abdominal, confusión o disnea: posible cetoacidosis o estado "
               "hiperosmolar.",
         "en": "Very high glucose with vomiting, abdominal pain, confusion or breathlessness: possible DKA or HHS."},
        "ADA Standards of Care 2025, section 16 (hyperglycaemic crises)",
        True,
        lambda r: (g := _v(r, "glucose_mg_dl")) is not None
        and (g >= 400 or (g >= 250 and (_s(r, "vomito") >= 3 or _s(r, "dolor_abdominal") >= 5
                                        or _s(r, "confusion") >= 1 or _s(r, "dificultad_respirar") >= 5))),
    ),
    RedFlagRule(
        "HYPOGLYCAEMIA",
        {"es": "Glucosa < 70 mg/dl: hipoglucemia.", "en": "Glucose < 70 mg/dl: hypoglycaemia."},
        "ADA Standards of Care 2025, section 6 (level 1 < 70 mg/dl, level 2 < 54 mg/dl)",
        False,
        lambda r: (g := _v(r, "glucose_mg_dl")) is not None and g < 70,
    ),
    RedFlagRule(
        "HYPOGLYCAEMIA_SEVERE",
        {"es": "Glucosa < 54 mg/dl o hipoglucemia con confusión.",
         "en": "Glucose < 54 mg/dl or hypoglycaemia with confusion."},
        "ADA Standards of Care 2025, section 6 (level 2 and level 3 hypoglycaemia)",
        True,
        lambda r: (g := _v(r, "glucose_mg_dl")) is not None and (g < 54 or (g < 70 and _s(r, "confusion") >= 1)),
    ),
    RedFlagRule(
        "ACUTE_ABDOMEN",
        {"es": "Dolor abdominal muy intenso: descartar abdomen agudo.",
         "en": "Very severe abdominal pain: rule out an acute abdomen."},
        "Tintinalli's Emergency Medicine, 9th ed. (acute abdominal pain)",
        False,
        lambda r: _s(r, "dolor_abdominal") >= 8,
    ),
)

MODEL_RISK_FLAG = {
    "code": "MODEL_HIGH_RISK",
    "message": {
        "es": "El modelo estima una probabilidad alta de enfermedad aguda.",
        "en": "The model estimates a high probability of acute illness.",
    },
}


def evaluate(request: DiagnoseRequest) -> list[RedFlagRule]:
    """The rules that fire for `request`, in the order above."""
    return [rule for rule in RULES if rule.applies(request)]
