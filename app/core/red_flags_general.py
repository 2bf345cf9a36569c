"""Danger-sign rules on vital signs, symptoms and scores (NEWS2, qSOFA, ADA, NICE...): sources in red_flags.py."""

from __future__ import annotations

from app.core import scores
from app.core.red_flags_common import (
    EMERGENCIA,
    PRIORITARIO,
    RedFlagRule,
    _dengue_bleeding_or_lethargy,
    _fever,
    _heart_rate_high,
    _heart_rate_low,
    _hypoglycaemia_limit,
    _probable_dengue,
    _recent,
    _resp_rate_high,
    _s,
    _sign,
    _speech,
    _v,
)

GENERAL_RULES: tuple[RedFlagRule, ...] = (
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
        {"es": "Fiebre con rigidez de nuca o fontanela abombada: sospecha de meningitis.",
         "en": "Fever with neck stiffness or a bulging fontanelle: suspected meningitis."},
        # In a baby the fontanelle bulges where an older patient's neck stiffens: a 6-month-old with fever and a
        # bulging fontanelle was NO URGENTE, since only the young-infant rule (under 2 months) read the sign.
        "NICE NG240 (suspected bacterial meningitis: urgent transfer; bulging fontanelle in babies); "
        "NICE NG143 (fever in under 5s: bulging fontanelle is a red feature)",
        EMERGENCIA,
        lambda r: (_s(r, "rigidez_nuca") >= 1 or _sign(r, "bulging_fontanelle")) and _fever(r),
    ),
    RedFlagRule(
        "STROKE_SIGNS",
        {"es": "Debilidad de un lado o dificultad para hablar de inicio reciente: posible ACV.",
         "en": "Recent one-sided weakness or speech difficulty: possible stroke."},
        "NICE NG128 (FAST; suspected acute stroke: immediate transfer)",
        EMERGENCIA,
        # Speech counts from 2 years: a preverbal child cannot show a speech difficulty (a 9-month-old given one by
        # a slip in the symptom search was called a possible stroke); one-sided weakness counts at every age.
        lambda r: (_s(r, "debilidad_unilateral") >= 3 or _speech(r) >= 3
                   or (_s(r, "debilidad_unilateral") >= 1 and _speech(r) >= 1))
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
        "CHEST_PAIN_ASSESS",
        {"es": "Dolor de pecho reciente con falta de aire, sudoración, náusea o vómito en un adulto: posible "
               "síndrome coronario; valorar antes de la fila y hacer un ECG si lo hay.",
         "en": "Recent chest pain with breathlessness, sweating, nausea or vomiting in an adult: possible acute "
               "coronary syndrome; assess before the queue, with an ECG if there is one."},
        # Moderate pain: the severe form is CHEST_PAIN_CARDIAC. NICE refers a suspected ACS as an emergency while
        # pain lasts; the rule cannot tell it from pleuritic or panic chest pain, so it is a floor (never a routine
        # visit) and the model can still raise it. Without it a 47-year-old with chest pain 6/10 and breathlessness
        # 6/10 for 5 hours fell to NO URGENTE once a normal SpO2 was entered (docs/architecture.md).
        "NICE CG95 1.1.1 and 1.1.2.1 (chest pain with nausea and vomiting, marked sweating or breathlessness "
        "suggests an acute coronary syndrome: emergency referral while the pain lasts, same-day assessment up to "
        "72 hours after it)",
        PRIORITARIO,
        lambda r: r.age >= 18 and _recent(r, 3) and _s(r, "dolor_pecho") >= 3
        and max(_s(r, "dificultad_respirar"), _s(r, "sudoracion"), _s(r, "nausea"), _s(r, "vomito")) >= 3,
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
)
