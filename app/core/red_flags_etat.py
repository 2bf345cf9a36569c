"""Danger-sign rules of WHO ETAT and IMCI, pregnancy (MCPC) and poisoning: sources in red_flags.py."""

from __future__ import annotations

from app.core.red_flags_common import (
    EMERGENCIA,
    PRIORITARIO,
    RedFlagRule,
    _altered_consciousness,
    _fast_breathing_imci,
    _fever,
    _general_danger_sign,
    _hypertension_in_pregnancy,
    _months,
    _pre_eclampsia_symptoms,
    _s,
    _severe_acute_malnutrition,
    _severe_dehydration,
    _shock,
    _shock_index,
    _sign,
    _v,
    _young_infant_psbi,
)

ETAT_RULES: tuple[RedFlagRule, ...] = (
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
        "RESTLESS_IRRITABLE",
        {"es": "Inquieto o irritable: atender antes de la fila (buscar deshidratación).",
         "en": "Restless or irritable: see before the queue (look for dehydration)."},
        "WHO ETAT 2016 (priority sign: restless, continuously irritable or lethargic); WHO IMCI chart booklet, "
        "2014 (restless, irritable: a sign of some dehydration, oral rehydration in the clinic, plan B)",
        PRIORITARIO,
        lambda r: _sign(r, "restless_irritable"),
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
