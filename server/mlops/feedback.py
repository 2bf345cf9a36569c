"""Confirmed feedback as the MLOps loop reads it: the deterministic held-out split and the diagnose request of a
record. Shared by the server (drift) and `model_export` (retrain, the gate's evaluation set); standard library only.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

HOLDOUT_FRACTION = 0.3  # share of confirmed feedback kept for evaluation, by uuid hash


def is_held_out(uuid: str, fraction: float = HOLDOUT_FRACTION) -> bool:
    """Deterministic split of a feedback record: the first 8 hex digits of sha256(uuid) as a number in [0, 1)."""
    return int(hashlib.sha256(uuid.lower().encode()).hexdigest()[:8], 16) / 2**32 < fraction


def _age(value: float | str) -> float:
    """Feedback may carry an age band ("30-44", "80+") instead of years: take its middle (or LOW+5)."""
    if isinstance(value, (int, float)):
        return float(value)
    numbers = [int(n) for n in re.findall(r"\d+", value)]
    return float(numbers[0] + 5) if len(numbers) == 1 else (numbers[0] + numbers[1]) / 2


def feedback_request(record: dict[str, Any]) -> dict[str, Any]:
    """The diagnose request of a feedback record (age band folded to years; HPO terms, present and absent, dropped:
    the common-condition models do not read them, the rare-disease evidence does)."""
    req = dict(record["request"])
    req["age"] = _age(req["age"])
    req.pop("hpo_terms", None)
    req.pop("excluded_hpo_terms", None)
    if req.get("duration_days") is None:
        req.pop("duration_days", None)
    return req
