"""NEWS2's temperature in a batch: its bands are read without rounding each value, against the float limits below
which Python's round(t, 1) (exact on the binary value, half-to-even) stays in the band; a batch of variants (the same
few temperatures repeated, in any order, with rows not measured in between) scores as each request alone."""

from __future__ import annotations

import random

import numpy as np

from app.core import scores
from app.core.cases import Cases

# On and beside NEWS2's temperature limits (35.0, 36.0, 38.0, 39.0 after rounding to one decimal), plus values where
# numpy's round (scale, rint, unscale) and Python's round give different decimals.
TEMPERATURES = [34.95, 35.0, 35.04, 35.05, 35.0500001, 35.1, 35.15, 35.95, 36.0, 36.05, 36.0500001, 36.1, 37.95,
                38.0, 38.04, 38.05, 38.0499999, 38.0500001, 38.1, 38.15, 38.95, 39.0, 39.05, 39.0500001, 39.1, 40.0]


def test_numpy_round_is_not_pythons_here():
    """Why the batch keeps Python's round: numpy's differs on some of these decimals."""
    assert any(round(t, 1) != float(np.round(t, 1)) for t in TEMPERATURES)


def test_rounded_limits_give_pythons_round_on_and_beside_every_limit():
    for upper in (35.0, 36.0, 38.0, 39.0):
        limit = scores.rounded_limit(upper)
        assert round(limit, 1) <= upper < round(float(np.nextafter(limit, np.inf)), 1)
        # Every float near the limit, and decimals of up to four places around it.
        near = [limit]
        for _ in range(50):
            near.append(float(np.nextafter(near[-1], -np.inf)))
        near.append(limit)
        for _ in range(50):
            near.append(float(np.nextafter(near[-1], np.inf)))
        near += [round(upper - 0.2 + k / 10_000, 4) for k in range(4_000)]
        for t in near:
            assert (t <= limit) == (round(t, 1) <= upper), t


def test_repeated_and_shuffled_temperatures_score_as_one_request_each(engine):
    rng = random.Random(19)
    vitals = {"respiratory_rate": 18, "spo2": 97, "systolic_bp": 120, "heart_rate": 80}
    raw = []
    for t in TEMPERATURES * 4 + [None] * 10:
        case = {"age": 40, "sex": "M", "symptoms": {"tos": 3, "fiebre": 2, "fatiga": 1}, "consciousness": "A",
                "vitals": dict(vitals) if t is None else {**vitals, "temperature_c": t}}
        raw.append(case)
    rng.shuffle(raw)
    requests = [engine.validate(r) for r in raw]
    batch = scores.batch_scores(Cases(requests))
    assert batch.to_json() == [scores.scores(r) for r in requests]
    assert batch.news2_floor.tolist() == [scores.news2_floor(r)[0] for r in requests]
    news2 = [s["news2"] for s in batch.to_json()]
    assert {0, 1, 2, 3} <= {n for n in news2 if n is not None}  # every temperature band was reached
    assert news2.count(None) == 10  # rows with no temperature stay unscored


def test_a_batch_without_any_temperature(engine):
    case = {"age": 40, "sex": "F", "symptoms": {"tos": 3, "fiebre": 2, "fatiga": 1}, "consciousness": "A",
            "vitals": {"spo2": 90}}
    requests = [engine.validate(case) for _ in range(3)]
    batch = scores.batch_scores(Cases(requests))
    assert batch.news2_floor.tolist() == [scores.news2_floor(r)[0] for r in requests]
