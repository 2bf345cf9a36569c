"""Danger-sign rules: findings that set the triage level whatever the model says.

Each rule is a published danger or priority sign, with its source beside it, and a WHO ETAT level: EMERGENCIA
(treat now: the immediate-attention flag, and the state ENFERMEDAD_AGUDA) or PRIORITARIO (see before the queue).
Rules only raise the level and the state, never lower them (the origin document's precautionary principle). The
thresholds are deliberately those of the sources, not tuned on our simulator. The rules are age- and
pregnancy-aware: children's vital signs are judged against limits for their age, a pregnant woman's blood pressure
against the WHO pre-eclampsia criteria.

The rules live in `red_flags_general.py` (vital signs, symptoms, scores) and `red_flags_etat.py` (WHO ETAT and
IMCI, pregnancy, poisoning), in that order; `RULES` is the two together. Each also has a batch form in
`red_flags_batch.py`, the same rule over the columns of many requests, which the engine uses for large batches;
tests/core/test_engine_batch.py checks that both forms fire on exactly the same patients.

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

import numpy as np

from app.core import scores
from app.core.cases import Cases
from app.core.contract import DiagnoseRequest
from app.core.red_flags_batch import BATCH_RULES, fired_matrix
from app.core.red_flags_common import EMERGENCIA, NO_URGENTE, PRIORITARIO, TRIAGE_LEVELS, RedFlagRule
from app.core.red_flags_etat import ETAT_RULES
from app.core.red_flags_general import GENERAL_RULES
from app.core.scores import BatchScores

__all__ = ["EMERGENCIA", "NO_URGENTE", "PRIORITARIO", "RULES", "TRIAGE_LEVELS", "RedFlagRule", "emergency",
           "evaluate", "evaluate_batch", "rules_level"]

RULES: tuple[RedFlagRule, ...] = GENERAL_RULES + ETAT_RULES
CODES: tuple[str, ...] = tuple(rule.code for rule in RULES)
# Rank of each rule's level (1 PRIORITARIO, 2 EMERGENCIA), for the batch path's "highest level that fired".
LEVEL_RANKS = np.array([TRIAGE_LEVELS.index(rule.level) for rule in RULES], dtype=np.int64)
if set(CODES) != set(BATCH_RULES):  # a rule without its batch form would silently never fire in the service
    raise RuntimeError(f"red_flags_batch.py out of step with the rules: {sorted(set(CODES) ^ set(BATCH_RULES))}")


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


def evaluate_batch(cases: Cases, batch_scores: BatchScores | None = None) -> np.ndarray:
    """(cases, RULES) booleans: which rules fire for each case of the batch (the same as `evaluate` per case)."""
    return fired_matrix(cases, batch_scores if batch_scores is not None else scores.batch_scores(cases), CODES)


def rules_level(fired: list[RedFlagRule]) -> str:
    """The triage level the fired rules call for on their own (NO_URGENTE when none fired)."""
    if any(rule.level == EMERGENCIA for rule in fired):
        return EMERGENCIA
    return PRIORITARIO if fired else NO_URGENTE


def emergency(request: DiagnoseRequest) -> bool:
    """True when a danger sign alone makes `request` an emergency (used at build time to tune the model's part)."""
    return rules_level(evaluate(request)) == EMERGENCIA
