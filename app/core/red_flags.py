"""Danger-sign rules: findings that set the triage level whatever the model says.

Each rule is a published danger or priority sign, with its source beside it, and a WHO ETAT level: EMERGENCIA
(treat now: the immediate-attention flag, and the state ENFERMEDAD_AGUDA) or PRIORITARIO (see before the queue).
Rules only raise the level and the state, never lower them (the origin document's precautionary principle). The
thresholds are deliberately those of the sources, not tuned on our simulator. The rules are age- and
pregnancy-aware: children's vital signs are judged against limits for their age, a pregnant woman's blood pressure
against the WHO pre-eclampsia criteria.

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
- WHO. Emergency Triage Assessment and Treatment (ETAT) manual for participants, 2016 (emergency and priority signs).
- WHO. Managing complications in pregnancy and childbirth (MCPC), 2nd ed., 2017 (rapid initial assessment).
- WHO recommendations for prevention and treatment of pre-eclampsia and eclampsia, 2011; ACOG Practice Bulletin
  222, 2020 (severe features: >= 160/110, headache, visual disturbance, epigastric pain).
- WHO. Guideline: updates on the management of severe acute malnutrition in infants and children, 2013.
- WHO. Pocket book of hospital care for children, 2nd ed., 2013 (hypoglycaemia < 2.5 mmol/l = 45 mg/dl).
- Advanced Paediatric Life Support, 6th ed. (ALSG, 2016), with Fleming 2011 1st centiles (heart rate low for age).
- Shock index: Allgöwer M, Burri C, 1967; Koch E, et al. Shock index in the emergency department, Scand J Trauma
  2019 (>= 1.0 abnormal); El Ayadi AM, et al. PLoS One 2016 (obstetric shock index >= 1.1 after delivery).
- Scores: NEWS2 and qSOFA as in app/core/scores.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.core import scores
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
    # (those that are not already the nausea/vomiting criterion). Current fever is NOT required when two other
    # criteria are there: the critical phase, with the warning signs, begins as the fever falls.
    aches = max(_s(r, "dolor_cabeza"), _s(r, "dolor_retroocular"), _s(r, "dolor_muscular"), _s(r, "dolor_articular"))
    criteria = ((max(_s(r, "nausea"), _s(r, "vomito")) >= 1) + (_s(r, "erupcion_cutanea") >= 1) + (aches >= 1)
                + _dengue_bleeding_or_lethargy(r))
    days = r.duration_days
    return criteria >= 2 and (days is None or days <= 10)


RULES: tuple[RedFlagRule, ...] = (
    RedFlagRule(
        "SPO2_LOW",
        {"es": "Saturación de oxígeno ≤ 91 %: hipoxemia.", "en": "Oxygen saturation ≤ 91%: hypoxaemia."},
        "NEWS2 (SpO2 ≤ 91 scores 3); WHO IMCI (SpO2 < 90% is a danger sign)",
        EMERGENCIA,
        lambda r: (s := _v(r, "spo2")) is not None and s <= 91,
    ),
    RedFlagRule(
        "RESP_RATE_HIGH",
        {"es": "Frecuencia respiratoria muy alta para la edad.", "en": "Respiratory rate very high for age."},
        "NEWS2 (RR ≥ 25 scores 3); Fleming 2011 centiles for children",
        EMERGENCIA,
        _resp_rate_high,
    ),
    RedFlagRule(
        "RESP_RATE_LOW",
        {"es": "Frecuencia respiratoria ≤ 8.", "en": "Respiratory rate ≤ 8."},
        "NEWS2 (RR ≤ 8 scores 3)",
        EMERGENCIA,
        lambda r: (rr := _v(r, "respiratory_rate")) is not None and rr <= 8,
    ),
    RedFlagRule(
        "HEART_RATE_HIGH",
        {"es": "Frecuencia cardiaca muy alta para la edad.", "en": "Heart rate very high for age."},
        "NEWS2 (HR ≥ 131 scores 3); Fleming 2011 centiles for children",
        EMERGENCIA,
        _heart_rate_high,
    ),
    RedFlagRule(
        "HEART_RATE_LOW",
        {"es": "Frecuencia cardiaca muy baja para la edad.", "en": "Heart rate very low for age."},
        "NEWS2 (HR ≤ 40 scores 3); Fleming 2011 1st centiles and APLS 2016 for children",
        EMERGENCIA,
        _heart_rate_low,
    ),
    RedFlagRule(
        "HYPOTENSION",
        {"es": "Presión sistólica ≤ 90 mmHg: posible choque.", "en": "Systolic pressure ≤ 90 mmHg: possible shock."},
        "NEWS2 (systolic ≤ 90 scores 3)",
        EMERGENCIA,
        lambda r: (s := _v(r, "systolic_bp")) is not None and s <= 90 and r.age >= 16,
    ),
    RedFlagRule(
        "SEPSIS_QSOFA",
        {"es": "qSOFA ≥ 2: riesgo de sepsis.", "en": "qSOFA ≥ 2: risk of sepsis."},
        "Sepsis-3, Singer 2016 (qSOFA: RR ≥ 22, systolic ≤ 100, altered mentation)",
        EMERGENCIA,
        lambda r: scores.qsofa_floor(r) >= 2,
    ),
    RedFlagRule(
        "HYPERTENSIVE_EMERGENCY",
        {"es": "Crisis hipertensiva con síntomas de daño de órgano (dolor de pecho, déficit neurológico, visión).",
         "en": "Hypertensive crisis with symptoms of organ damage (chest pain, neurological deficit, vision)."},
        # Severe hypertension without such symptoms is an urgency (treat orally, review within days), not a flag.
        "2017 ACC/AHA hypertension guideline (hypertensive emergency vs. urgency)",
        EMERGENCIA,
        lambda r: (((s := _v(r, "systolic_bp")) is not None and s >= 180)
                   or ((d := _v(r, "diastolic_bp")) is not None and d >= 120))
        and max(_s(r, "dolor_pecho"), _s(r, "confusion"), _s(r, "cambios_vision"), _s(r, "debilidad_unilateral"),
                _s(r, "dificultad_hablar"), _s(r, "dificultad_respirar")) >= 3,
    ),
    RedFlagRule(
        "TEMPERATURE_EXTREME",
        {"es": "Temperatura ≤ 35 °C o ≥ 40 °C.", "en": "Temperature ≤ 35 °C or ≥ 40 °C."},
        "NEWS2 (≤ 35.0 °C scores 3); NICE NG143 (hyperpyrexia)",
        PRIORITARIO,
        lambda r: (t := _v(r, "temperature_c")) is not None and (t <= 35.0 or t >= 40.0),
    ),
    RedFlagRule(
        "INFANT_FEVER",
        {"es": "Fiebre en menor de 3 meses.", "en": "Fever in an infant under 3 months."},
        "NICE NG143 (age < 3 months with temperature ≥ 38 °C is high risk)",
        EMERGENCIA,
        lambda r: r.age < 0.25 and _fever(r),
    ),
    RedFlagRule(
        "MENINGISM",
        {"es": "Fiebre con rigidez de nuca: sospecha de meningitis.",
         "en": "Fever with neck stiffness: suspected meningitis."},
        "NICE NG240 (suspected bacterial meningitis: urgent transfer)",
        EMERGENCIA,
        lambda r: _s(r, "rigidez_nuca") >= 1 and _fever(r),
    ),
    RedFlagRule(
        "STROKE_SIGNS",
        {"es": "Debilidad de un lado o dificultad para hablar de inicio reciente: posible ACV.",
         "en": "Recent one-sided weakness or speech difficulty: possible stroke."},
        "NICE NG128 (FAST; suspected acute stroke: immediate transfer)",
        EMERGENCIA,
        lambda r: (_s(r, "debilidad_unilateral") >= 3 or _s(r, "dificultad_hablar") >= 3
                   or (_s(r, "debilidad_unilateral") >= 1 and _s(r, "dificultad_hablar") >= 1))
        and _recent(r, 7),
    ),
    RedFlagRule(
        "SEIZURE",
        {"es": "Convulsiones.", "en": "Seizures."},
        "NICE NG217 (a first seizure or a prolonged one needs urgent assessment)",
        PRIORITARIO,
        # A seizure today (or of unknown timing); a known epileptic's seizure last week is a follow-up matter.
        lambda r: _s(r, "convulsiones") >= 1 and _recent(r, 1),
    ),
    RedFlagRule(
        "CONFUSION",
        {"es": "Confusión o alteración de la conciencia.", "en": "Confusion or altered consciousness."},
        "NEWS2 (new confusion, or V/P/U on AVPU, scores 3: urgent response)",
        EMERGENCIA,
        lambda r: _s(r, "confusion") >= 3 or r.consciousness in ("V", "P", "U"),
    ),
    RedFlagRule(
        "CHEST_PAIN_CARDIAC",
        {"es": "Dolor de pecho intenso con falta de aire, sudoración o náusea: descartar síndrome coronario.",
         "en": "Severe chest pain with breathlessness, sweating or nausea: rule out acute coronary syndrome."},
        "NICE CG95 (suspected acute coronary syndrome: emergency referral)",
        EMERGENCIA,
        lambda r: _s(r, "dolor_pecho") >= 7
        and (_s(r, "dificultad_respirar") >= 5 or _s(r, "sudoracion") >= 3 or _s(r, "nausea") >= 3),
    ),
    RedFlagRule(
        "CHEST_PAIN_EQUIVALENT",
        {"es": "Dolor epigástrico o torácico con sudoración de inicio reciente en mayor de 50 años: descartar "
               "síndrome coronario (ECG en 10 minutos).",
         "en": "Recent epigastric or chest pain with sweating in a person over 50: rule out acute coronary "
               "syndrome (ECG within 10 minutes)."},
        "ESC 2023 guidelines for acute coronary syndromes (atypical presentations: epigastric pain, nausea and "
        "diaphoresis, more frequent in older people, women and diabetics; 12-lead ECG within 10 minutes)",
        EMERGENCIA,
        lambda r: r.age >= 50 and _recent(r, 1)
        and max(_s(r, "dolor_epigastrico"), _s(r, "dolor_pecho")) >= 5 and _s(r, "sudoracion") >= 3,
    ),
    RedFlagRule(
        "SEVERE_DYSPNEA",
        {"es": "Dificultad respiratoria grave.", "en": "Severe breathing difficulty."},
        "GINA 2024 (severe exacerbation: talks in words, agitated); NEWS2",
        EMERGENCIA,
        lambda r: _s(r, "dificultad_respirar") >= 8,
    ),
    RedFlagRule(
        "HEMOPTYSIS",
        {"es": "Sangre al toser en cantidad.", "en": "Coughing up blood in quantity."},
        "Harrison's Principles of Internal Medicine, 21st ed. (massive haemoptysis is an emergency)",
        PRIORITARIO,
        lambda r: _s(r, "hemoptisis") >= 5,
    ),
    RedFlagRule(
        "DENGUE_WARNING_SIGNS",
        {"es": "Fiebre con dolor abdominal intenso, vómito persistente o sangrado: signos de alarma de dengue.",
         "en": "Fever with severe abdominal pain, persistent vomiting or bleeding: dengue warning signs."},
        "WHO 2009 dengue guidelines (warning signs: admit or refer)",
        EMERGENCIA,
        lambda r: _probable_dengue(r)
        and (_s(r, "dolor_abdominal") >= 6 or _s(r, "vomito") >= 6 or _sign(r, "vomits_everything")
             or _s(r, "confusion") >= 1 or _dengue_bleeding_or_lethargy(r)),
    ),
    RedFlagRule(
        "BLEEDING",
        {"es": "Sangrado importante.", "en": "Significant bleeding."},
        "Tintinalli's Emergency Medicine, 9th ed. (haemorrhage)",
        PRIORITARIO,
        lambda r: _s(r, "sangrado") >= 5,
    ),
    RedFlagRule(
        "HYPERGLYCAEMIC_CRISIS",
        {"es": "Glucosa muy alta con vómito, dolor abdominal, confusión o disnea: posible cetoacidosis o estado "
               "hiperosmolar.",
         "en": "Very high glucose with vomiting, abdominal pain, confusion or breathlessness: possible DKA or HHS."},
        "ADA Standards of Care 2025, section 16 (hyperglycaemic crises)",
        EMERGENCIA,
        lambda r: (g := _v(r, "glucose_mg_dl")) is not None
        and (g >= 400 or (g >= 250 and (_s(r, "vomito") >= 3 or _s(r, "dolor_abdominal") >= 5
                                        or _s(r, "confusion") >= 1 or _s(r, "dificultad_respirar") >= 5))),
    ),
    RedFlagRule(
        "HYPOGLYCAEMIA",
        {"es": "Glucosa < 70 mg/dl: hipoglucemia.", "en": "Glucose < 70 mg/dl: hypoglycaemia."},
        "ADA Standards of Care 2025, section 6 (level 1 < 70 mg/dl, level 2 < 54 mg/dl)",
        PRIORITARIO,
        lambda r: (g := _v(r, "glucose_mg_dl")) is not None and g < 70,
    ),
    RedFlagRule(
        "HYPOGLYCAEMIA_SEVERE",
        {"es": "Hipoglucemia grave (< 54 mg/dl; < 45 en niños) o con alteración de la conciencia.",
         "en": "Severe hypoglycaemia (< 54 mg/dl; < 45 in children) or with altered consciousness."},
        "ADA Standards of Care 2025, section 6 (level 2 and level 3); WHO Pocket book 2013 (children < 45 mg/dl)",
        EMERGENCIA,
        lambda r: (g := _v(r, "glucose_mg_dl")) is not None
        and (g < _hypoglycaemia_limit(r) or (g < 70 and (_s(r, "confusion") >= 1 or r.consciousness in ("V", "P", "U")
                                                       or _sign(r, "lethargic_or_unconscious")))),
    ),
    RedFlagRule(
        "ACUTE_ABDOMEN",
        {"es": "Dolor abdominal muy intenso: descartar abdomen agudo.",
         "en": "Very severe abdominal pain: rule out an acute abdomen."},
        "Tintinalli's Emergency Medicine, 9th ed. (acute abdominal pain)",
        PRIORITARIO,
        lambda r: _s(r, "dolor_abdominal") >= 8,
    ),
    RedFlagRule(
        "NEWS2_HIGH",
        {"es": "NEWS2 ≥ 7: respuesta de emergencia.", "en": "NEWS2 ≥ 7: emergency response."},
        "NEWS2 (aggregate ≥ 7: emergency response), counting only the measured parameters",
        EMERGENCIA,
        lambda r: scores.news2_floor(r)[0] >= 7,
    ),
    RedFlagRule(
        "NEWS2_URGENT",
        {"es": "NEWS2 ≥ 5: respuesta urgente.", "en": "NEWS2 ≥ 5: urgent response."},
        "NEWS2 (aggregate 5-6: urgent response)",
        PRIORITARIO,
        lambda r: scores.news2_floor(r)[0] >= 5,
    ),
    RedFlagRule(
        "IMCI_DANGER_SIGN",
        {"es": "Signo general de peligro (no puede beber, vomita todo, convulsiones o letargia).",
         "en": "General danger sign (cannot drink, vomits everything, convulsions or lethargy)."},
        "WHO IMCI chart booklet, 2014 (any general danger sign: urgent referral); WHO ETAT 2016",
        EMERGENCIA,
        _general_danger_sign,
    ),
    RedFlagRule(
        "UNRESPONSIVE",
        {"es": "Responde solo al dolor o no responde (AVPU P/U).",
         "en": "Responds only to pain or unresponsive (AVPU P/U)."},
        "WHO ETAT 2016 (coma: emergency sign)",
        EMERGENCIA,
        lambda r: r.consciousness in ("P", "U"),
    ),
    RedFlagRule(
        "YOUNG_INFANT_SERIOUS_INFECTION",
        {"es": "Menor de 2 meses con signos de posible infección bacteriana grave.",
         "en": "Infant under 2 months with signs of possible serious bacterial infection."},
        "WHO IMCI chart booklet, 2014 (young infant: possible serious bacterial infection, refer urgently)",
        EMERGENCIA,
        _young_infant_psbi,
    ),
    RedFlagRule(
        "YOUNG_INFANT",
        {"es": "Lactante menor de 2 meses enfermo: atender antes de la fila.",
         "en": "Sick infant under 2 months: see before the queue."},
        "WHO ETAT 2016 (priority sign: tiny baby, under 2 months)",
        PRIORITARIO,
        lambda r: _months(r) < 2,
    ),
    RedFlagRule(
        "AIRWAY_BREATHING",
        {"es": "Estridor, cianosis central o dificultad respiratoria grave (quejido, aleteo).",
         "en": "Stridor, central cyanosis or severe respiratory distress (grunting, flaring)."},
        "WHO ETAT 2016 (obstructed or absent breathing, central cyanosis, severe respiratory distress)",
        EMERGENCIA,
        lambda r: _sign(r, "stridor") or _sign(r, "central_cyanosis") or _sign(r, "grunting")
        or (_sign(r, "nasal_flaring") and _sign(r, "chest_indrawing")),
    ),
    RedFlagRule(
        "APNOEA",
        {"es": "Pausas respiratorias (apneas) en un lactante.", "en": "Pauses in breathing (apnoea) in an infant."},
        "WHO Pocket book of hospital care for children, 2nd ed., 2013 (pertussis: apnoea or cyanotic spells in an "
        "infant, admit and give oxygen); WHO ETAT 2016 (absent breathing: emergency)",
        EMERGENCIA,
        lambda r: r.age < 1 and _s(r, "apnea") >= 1,
    ),
    RedFlagRule(
        "CHEST_INDRAWING",
        {"es": "Tiraje subcostal: dificultad respiratoria.", "en": "Chest indrawing: respiratory distress."},
        "WHO ETAT 2016 (priority sign: respiratory distress); WHO IMCI 2014",
        PRIORITARIO,
        lambda r: _sign(r, "chest_indrawing"),
    ),
    RedFlagRule(
        "FAST_BREATHING_CHILD",
        {"es": "Respiración rápida para la edad (AIEPI).", "en": "Fast breathing for age (IMCI)."},
        "WHO IMCI chart booklet, 2014 (fast breathing: ≥ 50/min at 2-12 months, ≥ 40/min at 1-5 years)",
        PRIORITARIO,
        _fast_breathing_imci,
    ),
    RedFlagRule(
        "SHOCK",
        {"es": "Signos de choque: manos frías, llenado capilar > 3 s y pulso débil y rápido.",
         "en": "Signs of shock: cold hands, capillary refill > 3 s and a weak, fast pulse."},
        "WHO ETAT 2016 (shock: emergency sign)",
        EMERGENCIA,
        _shock,
    ),
    RedFlagRule(
        "CAPILLARY_REFILL_SLOW",
        {"es": "Llenado capilar > 3 s.", "en": "Capillary refill > 3 s."},
        "WHO ETAT 2016 (capillary refill longer than 3 seconds: assess for shock)",
        PRIORITARIO,
        lambda r: (c := _v(r, "capillary_refill_s")) is not None and c > 3,
    ),
    RedFlagRule(
        "PULSE_PRESSURE_NARROW",
        {"es": "Presión de pulso ≤ 20 mmHg: posible choque compensado.",
         "en": "Pulse pressure ≤ 20 mmHg: possible compensated shock."},
        "WHO 2009 dengue guidelines (narrowed pulse pressure ≤ 20 mmHg: dengue shock)",
        EMERGENCIA,
        lambda r: (s := _v(r, "systolic_bp")) is not None and (d := _v(r, "diastolic_bp")) is not None
        and s - d <= 20,
    ),
    RedFlagRule(
        "SHOCK_INDEX_HIGH",
        {"es": "Índice de choque (FC/PAS) ≥ 1,0.", "en": "Shock index (HR/SBP) ≥ 1.0."},
        "Koch E, et al. Scand J Trauma Resusc Emerg Med 2019 (shock index ≥ 1.0 abnormal); El Ayadi 2016 (≥ 1.1 "
        "after delivery)",
        PRIORITARIO,
        lambda r: (si := _shock_index(r)) is not None and si >= 1.0,
    ),
    RedFlagRule(
        "SHOCK_INDEX_CRITICAL",
        {"es": "Índice de choque ≥ 1,4: choque probable.", "en": "Shock index ≥ 1.4: probable shock."},
        "Koch E, et al. 2019 (shock index ≥ 1.4: severe hypovolaemia); El Ayadi 2016 (obstetric ≥ 1.4: urgent "
        "intervention)",
        EMERGENCIA,
        lambda r: (si := _shock_index(r)) is not None and (si >= 1.4 or (r.postpartum and si >= 1.1)),
    ),
    RedFlagRule(
        "SEVERE_DEHYDRATION",
        {"es": "Deshidratación grave.", "en": "Severe dehydration."},
        "WHO IMCI chart booklet, 2014 (severe dehydration: plan C); WHO ETAT 2016",
        EMERGENCIA,
        _severe_dehydration,
    ),
    RedFlagRule(
        "SEVERE_ACUTE_MALNUTRITION",
        {"es": "Desnutrición aguda grave (PB < 115 mm, edema bilateral o emaciación grave).",
         "en": "Severe acute malnutrition (MUAC < 115 mm, bilateral oedema or severe wasting)."},
        "WHO 2013 severe acute malnutrition guideline (MUAC < 115 mm at 6-59 months, bilateral pitting oedema); "
        "WHO ETAT 2016 (priority sign: malnutrition)",
        PRIORITARIO,
        _severe_acute_malnutrition,
    ),
    RedFlagRule(
        "SEVERE_PALLOR",
        {"es": "Palidez palmar intensa: anemia grave.", "en": "Severe palmar pallor: severe anaemia."},
        "WHO IMCI chart booklet, 2014 (severe anaemia: refer); WHO ETAT 2016 (priority sign: pallor)",
        PRIORITARIO,
        lambda r: _sign(r, "severe_palmar_pallor"),
    ),
    RedFlagRule(
        "PURPURA",
        {"es": "Erupción que no palidece con fiebre o malestar: posible sepsis meningocócica.",
         "en": "Non-blanching rash with fever or illness: possible meningococcal sepsis."},
        "NICE NG143 (2019) and NG240 (2024): non-blanching rash in an ill child is a red feature",
        EMERGENCIA,
        lambda r: _sign(r, "non_blanching_rash") and (_fever(r) or _altered_consciousness(r)),
    ),
    RedFlagRule(
        "MASTOIDITIS",
        {"es": "Tumefacción dolorosa detrás de la oreja: posible mastoiditis.",
         "en": "Tender swelling behind the ear: possible mastoiditis."},
        "WHO IMCI chart booklet, 2014 (mastoiditis: urgent referral)",
        EMERGENCIA,
        lambda r: _sign(r, "tender_swelling_behind_ear"),
    ),
    RedFlagRule(
        "PRE_ECLAMPSIA_SEVERE",
        {"es": "Embarazo ≥ 20 semanas o puerperio con PA ≥ 160/110, o ≥ 140/90 con cefalea, visión borrosa o dolor "
               "epigástrico: preeclampsia grave.",
         "en": "Pregnancy ≥ 20 weeks or postpartum with BP ≥ 160/110, or ≥ 140/90 with headache, visual disturbance "
               "or epigastric pain: severe pre-eclampsia."},
        "WHO 2011 pre-eclampsia/eclampsia recommendations; ACOG Practice Bulletin 222 (2020), severe features",
        EMERGENCIA,
        lambda r: _hypertension_in_pregnancy(r, 160, 110)
        or (_hypertension_in_pregnancy(r, 140, 90) and _pre_eclampsia_symptoms(r)),
    ),
    RedFlagRule(
        "HYPERTENSION_IN_PREGNANCY",
        {"es": "PA ≥ 140/90 en embarazo ≥ 20 semanas o puerperio: descartar preeclampsia.",
         "en": "BP ≥ 140/90 at ≥ 20 weeks of pregnancy or postpartum: rule out pre-eclampsia."},
        "WHO 2011 pre-eclampsia/eclampsia recommendations (≥ 140/90 after 20 weeks)",
        PRIORITARIO,
        lambda r: _hypertension_in_pregnancy(r, 140, 90),
    ),
    RedFlagRule(
        "ECLAMPSIA",
        {"es": "Convulsiones en el embarazo o el puerperio: eclampsia hasta demostrar lo contrario.",
         "en": "Convulsions in pregnancy or postpartum: eclampsia until proven otherwise."},
        "WHO MCPC 2017 (convulsions in pregnancy: emergency); WHO 2011 pre-eclampsia/eclampsia recommendations",
        EMERGENCIA,
        lambda r: (r.pregnant or r.postpartum) and (_s(r, "convulsiones") >= 1 or _sign(r, "convulsions_this_illness")),
    ),
    RedFlagRule(
        "OBSTETRIC_BLEEDING",
        {"es": "Sangrado vaginal en el embarazo o sangrado abundante después del parto.",
         "en": "Vaginal bleeding in pregnancy, or heavy bleeding after delivery."},
        "WHO MCPC 2017, rapid initial assessment (vaginal bleeding in pregnancy or after childbirth: emergency)",
        EMERGENCIA,
        lambda r: (r.pregnant and (_sign(r, "vaginal_bleeding") or _s(r, "sangrado_vaginal") >= 1))
        or (r.postpartum and (_sign(r, "vaginal_bleeding") or _s(r, "sangrado_vaginal") >= 5)),
    ),
    RedFlagRule(
        "EARLY_PREGNANCY_PAIN",
        {"es": "Embarazo temprano con dolor abdominal intenso o desmayo: descartar embarazo ectópico.",
         "en": "Early pregnancy with severe abdominal pain or fainting: rule out ectopic pregnancy."},
        "WHO MCPC 2017 (ectopic pregnancy: abdominal pain, fainting in early pregnancy); NICE NG126 (2019)",
        EMERGENCIA,
        lambda r: r.pregnant and r.pregnancy is not None and (r.pregnancy.weeks or 0) <= 14
        and (_s(r, "dolor_abdominal") >= 6 or _s(r, "desmayo") >= 1),
    ),
    RedFlagRule(
        "PUERPERAL_FEVER",
        {"es": "Fiebre en el puerperio: descartar sepsis puerperal.",
         "en": "Fever after delivery: rule out puerperal sepsis."},
        "WHO MCPC 2017 (fever after childbirth); WHO 2015 recommendations on maternal peripartum infection",
        PRIORITARIO,
        lambda r: r.postpartum and _fever(r),
    ),
    RedFlagRule(
        "PREGNANCY_FEVER_OR_PAIN",
        {"es": "Embarazada con fiebre o dolor abdominal: atender antes de la fila.",
         "en": "Pregnant woman with fever or abdominal pain: see before the queue."},
        "WHO MCPC 2017, rapid initial assessment (priority: fever, abdominal pain in pregnancy)",
        PRIORITARIO,
        lambda r: r.pregnant and (_fever(r) or _s(r, "dolor_abdominal") >= 5),
    ),
    RedFlagRule(
        "SNAKEBITE",
        {"es": "Mordedura de serpiente: observar y tratar como envenenamiento posible.",
         "en": "Snakebite: observe and treat as possible envenoming."},
        "WHO Guidelines for the management of snakebites, 2nd ed., 2016 (every bite is an emergency until envenoming "
        "is excluded)",
        EMERGENCIA,
        lambda r: _sign(r, "fang_marks"),
    ),
    RedFlagRule(
        "CHOLINERGIC_POISONING",
        {"es": "Miosis con salivación, sudoración o dificultad respiratoria: posible intoxicación por "
               "organofosforados.",
         "en": "Pinpoint pupils with salivation, sweating or breathing difficulty: possible organophosphate "
               "poisoning."},
        "WHO. Clinical management of acute pesticide intoxication, 2008; WHO ETAT 2016 (poisoning)",
        EMERGENCIA,
        lambda r: _sign(r, "pinpoint_pupils")
        and (_s(r, "salivacion_excesiva") >= 1 or _s(r, "sudoracion") >= 3 or _s(r, "dificultad_respirar") >= 3
             or _s(r, "sibilancias") >= 1),
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


def rules_level(fired: list[RedFlagRule]) -> str:
    """The triage level the fired rules call for on their own (NO_URGENTE when none fired)."""
    if any(rule.level == EMERGENCIA for rule in fired):
        return EMERGENCIA
    return PRIORITARIO if fired else NO_URGENTE


def emergency(request: DiagnoseRequest) -> bool:
    """True when a danger sign alone makes `request` an emergency (used at build time to tune the model's part)."""
    return rules_level(evaluate(request)) == EMERGENCIA
