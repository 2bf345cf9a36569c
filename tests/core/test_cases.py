"""`Cases.repeated(request, n)` is `Cases([request] * n)`, column for column, on simulated requests of every kind
(pregnant, postpartum, infants with signs, AVPU, no duration) and on hand-made edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.cases import Cases
from app.core.engine import DiagnosisEngine
from model_export import knowledge
from model_export.simulator import Simulator

ATTRIBUTES = ("n", "age", "female", "duration", "avpu", "pregnancy_status", "pregnant", "postpartum", "weeks",
              "days_since_delivery", "_symptoms", "_vitals", "_signs")


def _assert_same(a: Cases, b: Cases) -> None:
    for name in ATTRIBUTES:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
        else:
            assert x == y, name
    assert list(a.requests) == list(b.requests)


def test_repeated_is_the_batch_of_copies_on_simulated_requests(engine: DiagnosisEngine) -> None:
    raw = Simulator(knowledge.load()).sample(400, seed=2024).requests
    requests = [engine.validate(r) for r in raw]
    assert any(r.pregnancy is not None for r in requests) and any(r.signs for r in requests)
    assert any(r.consciousness is not None for r in requests)
    for request, n in zip(requests, [1, 2, 7, 80] * 100, strict=False):
        _assert_same(Cases.repeated(request, n), Cases([request] * n))


@pytest.mark.parametrize("raw", [
    {"age": 0.01, "sex": "F", "symptoms": {}, "signs": ["bulging_fontanelle", "grunting", "chest_indrawing"]},
    {"age": 29, "sex": "F", "symptoms": {"fiebre": 3, "dolor_abdominal": 6, "sangrado_vaginal": 4},
     "pregnancy": {"status": "postpartum", "days_since_delivery": 5}},
    {"age": 70, "sex": "M", "duration_days": 0.5, "consciousness": "V", "vitals": {"spo2": 88, "heart_rate": 120},
     "symptoms": {"confusion": 5, "fiebre": 8, "tos": 2}},
])
def test_repeated_on_edge_cases(engine: DiagnosisEngine, raw: dict) -> None:
    request = engine.validate(raw)
    _assert_same(Cases.repeated(request, 5), Cases([request] * 5))
