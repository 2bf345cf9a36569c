"""Train, compare and calibrate the state and condition models on simulated patients.

Candidates (all scikit-learn, all convertible by skl2onnx):
- `additive_logistic`: multinomial logistic regression over the banded columns of `app.core.features`. Additive in
  the clinical inputs, so its SHAP values are exact and cheap at run time (`app.core.explain`).
- `random_forest`: on the raw inputs (missing vitals as NaN, which scikit-learn's trees route natively).
- `mlp`: a one-hidden-layer network on the banded columns.

The rule for choosing, written before the comparison was run: the app must explain every answer exactly in
log-odds within the 50 ms budget on an old laptop, which only the additive model can do; it ships if it meets the
model card's targets, and the other candidates are reported beside it so that the price of that choice is visible.
Calibration is temperature scaling on a separate validation set, folded into the coefficients so the shipped
model stays additive. Before it, a symptom or sign that no training patient of a class showed is made to weigh
against that class as far as the counts allow (`unseen_findings.py`): the fit alone leaves such a pair near zero.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, log_loss
from sklearn.neural_network import MLPClassifier

from app.core.contract import DiagnoseRequest, validate_request
from app.core.features import FeatureSchema, FeatureSpec
from app.core.vocabulary import STATES, Vocabulary
from model_export import knowledge
from model_export.knowledge import KnowledgeBase, age_band
from model_export.simulator import SimulatedPatients
from model_export.unseen_findings import bound_unseen_findings

log = logging.getLogger(__name__)

# Bands chosen on clinical cut-offs (NEWS2, WHO fever and SpO2 thresholds, ADA glucose, WHO MUAC, ETAT capillary
# refill, IMCI age groups: young infant < 2 months, < 1 year, < 5 years), not fitted to the data.
AGE_CUTS = (0.077, 0.17, 1, 2, 5, 12, 18, 30, 45, 65, 80)
DURATION_CUTS = (1, 3, 7, 14, 30, 90, 365)
INTENSITY_CUTS = (0.5, 3.5, 6.5, 8.5)
VITAL_CUTS: dict[str, tuple[float, ...]] = {
    "temperature_c": (35.0, 36.0, 37.5, 38.0, 38.5, 39.0, 40.0),
    "spo2": (85, 90, 92, 94, 96),
    "glucose_mg_dl": (54, 70, 100, 126, 180, 250, 350),
    # WHO 2009: MUAC < 115 mm severe, 115-124 moderate acute malnutrition (6-59 months); 135 "at risk" (WHO/UNICEF).
    "muac_mm": (115, 125, 135),
    # ETAT: > 3 s is a sign of shock, <= 2 s normal (values have one decimal).
    "capillary_refill_s": (2.1, 3.1),
}
# Vitals read relative to age (z-score against vitals.toml's age reference; see app/core/features.py). The cuts sit
# at the 1st/10th/90th/99th centiles (z = -2.33, -1.28, 1.28, 2.33; Fleming 2011 proposes the 1st and 99th as
# limits) and further out where an adult's NEWS2 bands fall: heart rate 40, 111 and 131/min are z = -3.2, 3.3 and
# 5.1 on the adult reference (75 +- 11), respiratory rate 25/min is z = 3.6.
Z_CUTS = (-3.2, -2.33, -1.28, 1.28, 2.33, 3.3, 5.0)
Z_VITALS: dict[str, tuple[float, ...]] = {
    "heart_rate": Z_CUTS,
    "respiratory_rate": Z_CUTS,
    "systolic_bp": Z_CUTS,
    "diastolic_bp": Z_CUTS,
    # WHO growth standards: weight-for-age below -3 z severe, below -2 z moderate underweight.
    "weight_kg": (-3.0, -2.0, 2.0),
}
NOT_MODEL_INPUTS = ("height_cm",)  # accepted and stored, but height alone says nothing the age does not
PREGNANCY_WEEKS_CUTS = (14, 20, 28, 34, 37)  # trimesters; >= 20 weeks: pre-eclampsia possible (WHO); term 37
POSTPARTUM_DAYS_CUTS = (1, 7, 21)  # primary PPH < 24 h; puerperal sepsis mostly in the first week
LOGISTIC_C = 1.0


def default_schema(vocabulary: Vocabulary, kb: KnowledgeBase | None = None) -> FeatureSchema:
    """The model inputs: age, sex, duration, symptoms, vitals (age-relative where the normal depends on age) and,
    from contract v2, examination signs, pregnancy and AVPU consciousness."""
    kb = kb or knowledge.load()
    specs = [
        FeatureSpec("age", "age", AGE_CUTS, linear_scale=100.0),
        FeatureSpec("sex", "sex", (0.5,)),
        FeatureSpec("duration_days", "duration", DURATION_CUTS, missing=True),
    ]
    specs += [FeatureSpec(k, "symptom", INTENSITY_CUTS, linear_scale=10.0) for k in vocabulary.symptom_keys]
    for key in vocabulary.vital_keys:
        if key in NOT_MODEL_INPUTS:
            continue
        if key in Z_VITALS:
            specs.append(FeatureSpec(key, "vital_z", Z_VITALS[key], missing=True,
                                     reference=kb.vital(key).reference))
        else:
            specs.append(FeatureSpec(key, "vital", VITAL_CUTS[key], missing=True))
    specs += [FeatureSpec(code, "sign", (0.5,)) for code in knowledge.SIGNS]
    specs += [
        # 0 not recorded or not asked, 1 not pregnant, 2 unknown, 3 pregnant, 4 postpartum (features.PREGNANCY_CODES)
        FeatureSpec("pregnancy_status", "pregnancy_status", (0.5, 1.5, 2.5, 3.5)),
        FeatureSpec("pregnancy_weeks", "pregnancy_weeks", PREGNANCY_WEEKS_CUTS, missing=True),
        FeatureSpec("postpartum_days", "postpartum_days", POSTPARTUM_DAYS_CUTS, missing=True),
        # AVPU: A, V, P, U (features.AVPU_CODES) and "not assessed".
        FeatureSpec("consciousness", "consciousness", (0.5, 1.5, 2.5), missing=True),
        # Blood pressure in a pregnancy from 20 weeks or after delivery (features.pregnancy_pressure): 0 outside,
        # 1 below 140/90, 2 from 140/90, 3 from 160/110, "not measured".
        FeatureSpec("pregnancy_pressure", "pregnancy_pressure", (0.5, 1.5, 2.5), missing=True),
    ]
    return FeatureSchema(tuple(specs))


@dataclass
class Dataset:
    requests: list[DiagnoseRequest]
    raw: np.ndarray
    expanded: np.ndarray
    condition: np.ndarray  # ICD-10 code
    state: np.ndarray  # index into STATES (urgency order), so model classes come out in that order
    critical: np.ndarray
    age: np.ndarray
    sex: np.ndarray

    @property
    def band(self) -> np.ndarray:
        return np.array([age_band(a) for a in self.age])

    @property
    def pregnant(self) -> np.ndarray:
        """Pregnant or postpartum women (contract v2 `pregnancy.status`)."""
        return np.array([r.pregnancy is not None and r.pregnancy.status in ("pregnant", "postpartum")
                         for r in self.requests])

    def groups(self) -> dict[str, np.ndarray]:
        """The groups every target is checked in: all, each age band of issue 12, pregnant or postpartum women."""
        band = self.band
        out = {"all": np.ones(len(self.requests), bool)}
        out.update({b: band == b for b in knowledge.AGE_BANDS})
        out["pregnant_or_postpartum"] = self.pregnant
        return out


def make_dataset(patients: SimulatedPatients, vocabulary: Vocabulary, schema: FeatureSchema) -> Dataset:
    # Through the contract, so that a simulator bug producing an invalid request fails here, not in the clinic.
    requests = [validate_request(r, vocabulary) for r in patients.requests]
    raw = schema.raw_matrix(requests)
    state = np.array([STATES.index(s) for s in patients.state])
    return Dataset(requests, raw, schema.expand(raw), patients.condition, state, patients.critical,
                   np.array([r.age for r in requests]), np.array([r.sex for r in requests]))


def center(model: LogisticRegression) -> None:
    """Shift coefficients so that class scores sum to zero; probabilities do not change."""
    model.coef_ = model.coef_ - model.coef_.mean(axis=0, keepdims=True)
    model.intercept_ = model.intercept_ - model.intercept_.mean()


def fit_temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    """Temperature T minimising validation log-loss of softmax(scores / T)."""

    def nll(t: float) -> float:
        z = scores / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y_index)), y_index].mean())

    return float(minimize_scalar(nll, bounds=(0.25, 4.0), method="bounded").x)


def calibrate(model: LogisticRegression, x_val: np.ndarray, y_val: np.ndarray) -> float:
    """Temperature-scale `model` in place on validation data; returns T."""
    y_index = np.searchsorted(model.classes_, y_val)
    t = fit_temperature(model.decision_function(x_val), y_index)
    model.coef_ = model.coef_ / t
    model.intercept_ = model.intercept_ / t
    center(model)
    return t


def ece(probabilities: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-1 probability (equal-width bins)."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(probabilities[mask].mean() - correct[mask].mean())
    return float(total)


def _summary(model: Any, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    p = model.predict_proba(x)
    pred = model.classes_[p.argmax(axis=1)]
    return {
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "accuracy": round(float((pred == y).mean()), 4),
        "log_loss": round(float(log_loss(y, p, labels=model.classes_)), 4),
        "ece": round(ece(p.max(axis=1), pred == y), 4),
    }


def candidates(seed: int) -> dict[str, tuple[Any, str]]:
    """name -> (unfitted estimator, which matrix it reads: 'expanded' or 'raw')."""
    return {
        "additive_logistic": (LogisticRegression(C=LOGISTIC_C, max_iter=3000, tol=1e-5), "expanded"),
        "random_forest": (RandomForestClassifier(n_estimators=200, min_samples_leaf=2, n_jobs=2,
                                                 random_state=seed), "raw"),
        "mlp": (MLPClassifier(hidden_layer_sizes=(64,), early_stopping=True, max_iter=200, random_state=seed),
                "expanded"),
    }


def compare(train: Dataset, val: Dataset, target: str, seed: int, names: tuple[str, ...]) -> dict[str, Any]:
    """Fit each candidate on `train`, score on `val`; returns metrics and the fitted models."""
    results: dict[str, Any] = {}
    y_train, y_val = getattr(train, target), getattr(val, target)
    for name, (model, matrix) in candidates(seed).items():
        if name not in names:
            continue
        start = time.perf_counter()
        model.fit(getattr(train, matrix), y_train)
        metrics = _summary(model, getattr(val, matrix), y_val)
        metrics["fit_seconds"] = round(time.perf_counter() - start, 1)
        log.info("%s / %s: %s", target, name, metrics)
        results[name] = {"model": model, "matrix": matrix, "metrics": metrics}
    return results


def train_chosen(
    train: Dataset, val: Dataset, target: str, fitted: LogisticRegression | None = None,
    schema: FeatureSchema | None = None,
) -> tuple[LogisticRegression, dict[str, Any]]:
    """The shipped model for `target`: additive logistic, centred and temperature-calibrated.

    `fitted` reuses the comparison's additive candidate (same data, same settings) instead of fitting it again.
    With the `schema` of the training rows, a symptom or sign never seen with a class weighs against it as the
    data allow (model_export/unseen_findings.py) before calibration.
    """
    model = fitted if fitted is not None else LogisticRegression(C=LOGISTIC_C, max_iter=3000, tol=1e-5)
    if fitted is None:
        model.fit(train.expanded, getattr(train, target))
    if target == "state" and list(model.classes_) != list(range(len(STATES))):
        raise ValueError(f"training data lacks some states: {model.classes_}")
    unseen = None if schema is None else bound_unseen_findings(model, train.raw, getattr(train, target), schema)
    center(model)
    before = _summary(model, val.expanded, getattr(val, target))
    temperature = calibrate(model, val.expanded, getattr(val, target))
    after = _summary(model, val.expanded, getattr(val, target))
    info: dict[str, Any] = {"temperature": round(temperature, 4), "validation_before_calibration": before,
                            "validation": after}
    if unseen is not None:
        info["unseen_findings"] = unseen
    return model, info


# Issue 12 triage targets, with the margin kept on validation so that held-out patients still meet them.
EMERGENCY_RECALL_TARGET = 0.95  # critical patients at EMERGENCIA (held-out target)
URGENT_RECALL_TARGET = 0.99  # critical patients at EMERGENCIA or PRIORITARIO (held-out target)
EMERGENCY_SHARE_LIMIT = 1.25  # share of all patients at EMERGENCIA <= this x the critical prevalence
VALIDATION_MARGIN = {"emergency_recall": 0.012, "urgent_recall": 0.004, "share": 0.05}
MIN_GROUP_CRITICAL = 30  # a group with fewer critical validation patients constrains nothing (too noisy)
LEVEL_RANK = {"NO_URGENTE": 0, "PRIORITARIO": 1, "EMERGENCIA": 2}
GRID = np.round(np.concatenate([np.arange(0.02, 0.30, 0.01), np.arange(0.30, 0.96, 0.025)]), 3)
# A patient more likely than not to have a critical condition is an emergency, whatever the aggregate figures
# (ETAT: treat the suspected emergency first): the model's emergency threshold on P(critical condition) is never
# above this. Without it a rebuild chose 0.875 (its P(acute) threshold alone met the targets), and a 47-year-old
# woman with chest pain and breathlessness for 5 hours, acute coronary syndrome 62 %, fell to PRIORITARIO.
EMERGENCY_CRITICAL_CAP = 0.5


def tune_triage(
    state_p: np.ndarray, cond_p: np.ndarray, critical_classes: np.ndarray, base_level: np.ndarray,
    truth: np.ndarray, groups: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Choose the four model-risk thresholds of WHO ETAT triage on validation patients, rules included.

    `base_level` is each patient's level (0 NO_URGENTE, 1 PRIORITARIO, 2 EMERGENCIA) from everything but the
    thresholds: the danger-sign rules, the model's most likely state, an orphan-disease alert (the engine run with
    unreachable thresholds). The model then adds EMERGENCIA when P(ENFERMEDAD_AGUDA) >= e_acute or P(critical
    conditions) >= e_critical, and PRIORITARIO when they reach the lower attention thresholds.

    EMERGENCIA pair (the critical threshold at most `EMERGENCY_CRITICAL_CAP`): in every group (all, each age band,
    pregnant or postpartum), recall of critical patients at
    EMERGENCIA >= 95% and share at EMERGENCIA <= 1.25 x the group's critical prevalence, both with a margin; among
    the pairs that meet them, the one with the highest worst-group recall (then the fewest emergencies). If none
    does, the pair that comes closest (largest worst-group slack), reported as not met.
    PRIORITARIO pair: recall at EMERGENCIA or PRIORITARIO >= 99% in every group, fewest patients seen early.
    """
    acute = state_p[:, STATES.index("ENFERMEDAD_AGUDA")]
    crit = cond_p[:, critical_classes].sum(axis=1)
    used = {name: m for name, m in groups.items() if int((m & truth).sum()) >= MIN_GROUP_CRITICAL}
    prevalence = {name: float(truth[m].mean()) for name, m in used.items()}
    e_target = EMERGENCY_RECALL_TARGET + VALIDATION_MARGIN["emergency_recall"]
    share_factor = EMERGENCY_SHARE_LIMIT - VALIDATION_MARGIN["share"]
    base_e = base_level >= 2

    def emergency_slack(flag: np.ndarray) -> tuple[float, float, float]:
        worst_recall, worst_slack = 1.0, np.inf
        for name, m in used.items():
            recall = float(flag[m & truth].mean())
            share_slack = (share_factor * prevalence[name] - float(flag[m].mean())) / max(prevalence[name], 1e-9)
            worst_recall = min(worst_recall, recall)
            worst_slack = min(worst_slack, recall - e_target, share_slack)
        return worst_slack, worst_recall, float(flag.mean())

    best_e: tuple[Any, ...] | None = None
    for t_crit in (t for t in GRID if t <= EMERGENCY_CRITICAL_CAP):
        crit_hit = crit >= t_crit
        for t_acute in GRID:
            flag = base_e | crit_hit | (acute >= t_acute)
            slack, worst_recall, share = emergency_slack(flag)
            key = (slack >= 0, worst_recall if slack >= 0 else slack, -share)
            if best_e is None or key > best_e[0]:
                best_e = (key, float(t_acute), float(t_crit), flag)
    assert best_e is not None
    _, e_acute, e_crit, emergency = best_e

    u_target = URGENT_RECALL_TARGET + VALIDATION_MARGIN["urgent_recall"]
    base_u = emergency | (base_level >= 1)
    best_p: tuple[Any, ...] | None = None
    for t_crit in (t for t in GRID if t <= e_crit):
        crit_hit = crit >= t_crit
        for t_acute in (t for t in GRID if t <= e_acute):
            flag = base_u | crit_hit | (acute >= t_acute)
            worst = min(float(flag[m & truth].mean()) for m in used.values())
            rank = (worst >= u_target, -float(flag.mean()) if worst >= u_target else worst)
            if best_p is None or rank > best_p[0]:
                best_p = (rank, float(t_acute), float(t_crit), flag)
    assert best_p is not None
    _, p_acute, p_crit, urgent = best_p

    by_group = {}
    for name, m in groups.items():
        crit_m = m & truth
        by_group[name] = {
            "n": int(m.sum()), "critical_n": int(crit_m.sum()),
            "critical_prevalence": round(float(truth[m].mean()), 4) if m.any() else None,
            "recall_emergency": round(float(emergency[crit_m].mean()), 4) if crit_m.any() else None,
            "recall_emergency_or_priority": round(float(urgent[crit_m].mean()), 4) if crit_m.any() else None,
            "share_emergency": round(float(emergency[m].mean()), 4) if m.any() else None,
            "share_priority": round(float((urgent & ~emergency)[m].mean()), 4) if m.any() else None,
        }
    return {
        "emergency_acute_probability": e_acute,
        "emergency_critical_condition_probability": e_crit,
        "attention_acute_probability": p_acute,
        "attention_critical_condition_probability": p_crit,
        "emergency_targets_met_on_validation": bool(best_e[0][0]),
        "priority_targets_met_on_validation": bool(best_p[0][0]),
        "validation": by_group,
        "rules_only_emergency_share": round(float(base_e.mean()), 4),
        "margins": VALIDATION_MARGIN,
    }
