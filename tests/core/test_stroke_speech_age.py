"""A speech difficulty counts toward a possible stroke from 2 years (found by entering patients: a 9-month-old given
"Dificultad para hablar" by a slip in the symptom search was an emergency for a possible stroke, with ischaemic
stroke among her conditions). One-sided weakness still counts at every age. Both rule forms, through the engine."""

from __future__ import annotations

import pytest

from app.core import red_flags
from app.core.cases import Cases


def _stroke(engine, age: float, symptoms: dict[str, int]) -> bool:
    request = engine.validate({"age": age, "sex": "F", "duration_days": 1, "symptoms": {"fiebre": 5, **symptoms},
                               "signs": []})
    rule = next(r for r in red_flags.RULES if r.code == "STROKE_SIGNS")
    one = rule.applies(request)
    column = red_flags.CODES.index("STROKE_SIGNS")
    assert all(red_flags.evaluate_batch(Cases([request] * 40))[:, column] == one)  # the array form agrees
    return one


@pytest.mark.parametrize(("age", "symptoms", "stroke"), [
    (0.75, {"dificultad_hablar": 7, "tos": 4}, False),  # preverbal: speech cannot be judged
    (1.9, {"dificultad_hablar": 4, "debilidad_unilateral": 1}, False),
    (0.75, {"debilidad_unilateral": 5, "tos": 4}, True),  # a weak side is a weak side at any age
    (2.0, {"dificultad_hablar": 4, "tos": 4}, True),
    (60, {"dificultad_hablar": 1, "debilidad_unilateral": 1, "tos": 1}, True),
])
def test_speech_counts_from_two_years(engine, age: float, symptoms: dict[str, int], stroke: bool) -> None:
    assert _stroke(engine, age, symptoms) is stroke
