"""The one-patient feature row (issue 16's faster path) reads the same numbers as numpy's batch arithmetic."""

from __future__ import annotations

import numpy as np

from app.core.features import FeatureSpec


def test_z_score_is_numpy_interp_to_the_bit(engine) -> None:
    specs = [s for s in engine.features.specs if s.kind == "vital_z"]
    assert specs  # the shipped bundle reads heart rate, breathing rate, pressure and weight relative to age
    rng = np.random.default_rng(16)
    for spec in specs:
        table = np.asarray(spec.reference, dtype=np.float64)
        anchors = table[:, 0]
        # Every anchor, just either side of it, outside the table at both ends, and ages at random in between.
        ages = np.concatenate([anchors, np.nextafter(anchors, -np.inf), np.nextafter(anchors, np.inf),
                               [-1.0, 0.0, anchors[-1] + 1.0, 120.0], rng.uniform(0.0, 100.0, 3000),
                               rng.uniform(0.0, 2.0, 3000)])
        for value in (0.0, 37.5, 140.0):
            expected = (value - np.interp(ages, table[:, 0], table[:, 1])) / np.interp(ages, table[:, 0], table[:, 2])
            got = np.array([spec.z_score(value, float(a)) for a in ages])
            assert np.array_equal(got, expected), spec.name


def test_z_score_of_a_spec_made_here() -> None:
    spec = FeatureSpec("heart_rate", "vital_z", (-2.0, 2.0), reference=((0.0, 140.0, 10.0), (1.0, 120.0, 12.0),
                                                                         (10.0, 80.0, 10.0)))
    assert spec.z_score(140.0, 0.0) == 0.0
    assert spec.z_score(130.0, 0.5) == (130.0 - 130.0) / 11.0
    assert spec.z_score(80.0, 50.0) == 0.0  # past the table: its last value
    assert spec.z_score(150.0, -1.0) == 1.0  # before it: its first value
