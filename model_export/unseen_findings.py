"""A finding never seen with a class in training weighs against that class at least as the data allow.

A multinomial logistic regression learns next to nothing for a (class, finding) pair that never occurs together:
every training patient with the finding belongs to another class and already has a small probability of this one,
so the gradient that would push the weight down is tiny, and the L2 penalty holds it near zero. The additive model
then reads the finding as neutral for that class. Measured on bundle 2026.11.2: confusion weighed -0.01 for
streptococcal pharyngitis and +0.02 for acute otitis media, against the average class, so an 8-year-old with fever,
headache 3/10 and confusion 7/10 read as streptococcal pharyngitis 88 % and meningitis 2 %; at 30 years, fever,
cough and confusion gave acute otitis media 28 %.

What the data do say: a class with N_k training patients that never showed the finding shows it, at most (rule of
three, 95 % upper bound), in 3 / N_k of its patients, against a share q of the other patients. So the finding's
weight for the class, against the average class, is at most log((3 / N_k) / q). Where the fitted weight is above
that bound, the class's columns for the finding present are lowered to it; nothing else changes.

This never makes the fit to the training patients worse: the lowered columns are non-zero only on patients who
show the finding, none of whom belongs to the class, so each of them gets a smaller probability of a class that is
not theirs. It only undoes the penalty's pull where the data are one-sided. The bound applies to the examination
findings a patient reports or shows (symptoms and signs); vitals, age and the rest are read in bands that every
class reaches.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from app.core.features import FeatureSchema

BOUNDED_KINDS = ("symptom", "sign")
MIN_CLASS_PATIENTS = 100  # below this, three in N is no bound worth imposing
RULE_OF_THREE = 3.0
SYMPTOM_VALUES = tuple(range(1, 11))  # the contract's intensities of a symptom that is present


def bound_unseen_findings(model: LogisticRegression, raw: np.ndarray, y: np.ndarray,
                          schema: FeatureSchema) -> dict[str, Any]:
    """Lower, in place, `model`'s weights of findings never seen with a class (module docstring). `raw` and `y` are
    the training patients' raw inputs (`FeatureSchema.raw_matrix`) and classes. Returns what was bounded."""
    coef = model.coef_
    classes = model.classes_
    if coef.shape[0] != len(classes):
        raise ValueError("a binary model has one row of weights: nothing to bound per class")
    members = [y == c for c in classes]
    sizes = np.array([m.sum() for m in members])
    mean = coef.mean(axis=0)  # the average class, before any change (the bound is against it)
    bounded: list[dict[str, Any]] = []
    offset = 0
    for j, spec in enumerate(schema.specs):
        # A finding's first column is its band below the first cut (0.5): "absent", what "present" is weighed from.
        start, offset = offset, offset + spec.width
        if spec.kind not in BOUNDED_KINDS:
            continue
        present = np.nan_to_num(raw[:, j]) >= 0.5
        shown = present.sum()
        if not shown:
            continue
        values = SYMPTOM_VALUES if spec.kind == "symptom" else (1.0,)
        band = {v: int(np.searchsorted(spec.cuts, v, side="right")) for v in values}  # a value on a cut: upper band
        linear = start + len(spec.cuts) + 1 if spec.linear_scale is not None else None
        for k, member in enumerate(members):
            if sizes[k] < MIN_CLASS_PATIENTS or present[member].any():
                continue
            others = shown / (len(y) - sizes[k])
            limit = math.log((RULE_OF_THREE / sizes[k]) / others)
            lowered = 0.0
            for b in sorted(set(band.values())):
                column = start + b
                worst = -np.inf
                for v in (v for v in values if band[v] == b):
                    weight = (coef[k, column] - coef[k, start]) - (mean[column] - mean[start])
                    if linear is not None:
                        weight += (coef[k, linear] - mean[linear]) * v / float(spec.linear_scale or 1.0)
                    worst = max(worst, weight)
                if worst > limit:
                    coef[k, column] -= worst - limit
                    lowered = max(lowered, worst - limit)
            if lowered > 0:
                bounded.append({"class": str(classes[k]), "finding": spec.name, "limit": round(float(limit), 3),
                                "lowered_by": round(float(lowered), 3)})
    return {"pairs": len(bounded), "largest": sorted(bounded, key=lambda b: -b["lowered_by"])[:10]}
