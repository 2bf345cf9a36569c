"""Property: whatever parsed JSON comes in, the contract validator either accepts it or raises ContractError, whose
message renders in Spanish and English and whose JSON can be written. Never another exception (issue 14.2, 14.4).

Two generators: any JSON-ish value (huge integers, NaN, lone surrogates, deep lists and objects), and requests that
are nearly right (the contract's own field, symptom and vital names with values of any kind), which reach the
checks deep inside. The number of inputs tried is printed (run with -s) for the issue's closing note.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.contract import ALLOWED_FIELDS, CONTRACT_VITALS, PREGNANCY_STATUSES, ContractError, validate_request

TEXT = st.text(st.characters(exclude_categories=()), max_size=20)  # surrogates included, as JSON can carry them
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-20, max_value=400)
           | st.integers(min_value=-(10**400), max_value=10**400) | st.floats(allow_nan=True, allow_infinity=True)
           | TEXT)
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                       | st.dictionaries(TEXT, inner, max_size=5), max_leaves=30)
SMALL_NUMBERS = st.integers(min_value=-3, max_value=130) | st.floats(min_value=-5, max_value=500) | st.just(math.nan)


def near_requests(symptoms: tuple[str, ...], vitals: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """A right request, then none to three changes (a field or a value set to anything at all, an unknown key, a
    field removed): the changes reach every check, and the unchanged ones are accepted."""
    right = st.fixed_dictionaries(
        {"age": st.integers(0, 100) | st.floats(0, 100), "sex": st.sampled_from(["F", "M", "f", " m "]),
         "symptoms": st.dictionaries(st.sampled_from(symptoms), st.integers(0, 10), min_size=3, max_size=6)},
        optional={"duration_days": st.integers(0, 60) | st.none(),
                  "vitals": st.dictionaries(st.sampled_from(vitals), st.integers(30, 120) | st.none(), max_size=3),
                  "hpo_terms": st.lists(st.from_regex(r"HP:\d{7}", fullmatch=True), max_size=2),
                  "consciousness": st.sampled_from(["A", "V", "P", "U", "C"]), "signs": st.just([])})
    change = st.one_of(
        st.tuples(st.just("set"), st.sampled_from(ALLOWED_FIELDS), JSONISH),
        st.tuples(st.just("set"), TEXT, SCALARS),
        st.tuples(st.just("symptom"), st.sampled_from(symptoms) | TEXT, JSONISH),
        st.tuples(st.just("vital"), st.sampled_from(vitals) | TEXT, SMALL_NUMBERS | SCALARS),
        st.tuples(st.just("pregnancy"), st.sampled_from(PREGNANCY_STATUSES) | TEXT, SMALL_NUMBERS | SCALARS),
        st.tuples(st.just("drop"), st.sampled_from(ALLOWED_FIELDS), st.none()),
    )

    def apply(base: dict[str, Any], changes: list[tuple[str, Any, Any]]) -> dict[str, Any]:
        raw = dict(base)
        for kind, key, value in changes:
            if kind == "set":
                raw[key] = value
            elif kind == "drop":
                raw.pop(key, None)
            elif kind == "symptom" and isinstance(raw.get("symptoms"), dict):
                raw["symptoms"] = {**raw["symptoms"], key: value}
            elif kind == "vital":
                raw["vitals"] = {**(raw["vitals"] if isinstance(raw.get("vitals"), dict) else {}), key: value}
            elif kind == "pregnancy":
                raw["pregnancy"] = {"status": key, "weeks": value}
        return raw

    return st.builds(apply, right, st.lists(change, max_size=3))


_NEAR: dict[int, st.SearchStrategy[dict[str, Any]]] = {}


TRIED = {"any_json": 0, "near_requests": 0, "accepted": 0, "refused": 0}


@pytest.fixture(scope="module", autouse=True)
def _report_the_inputs_tried() -> Iterator[None]:
    yield
    print(f"\ncontract validator, inputs tried: {TRIED}")  # for the closing note (pytest -s)


def _holds(raw: Any, vocabulary: Any) -> None:
    try:
        validate_request(raw, vocabulary)
    except ContractError as exc:
        TRIED["refused"] += 1
        for lang in ("es", "en"):
            assert exc.message(lang)
            json.dumps(exc.to_json(lang))  # the error can always be written (ASCII-escaped, surrogates too)
        field = exc.to_json()["error"]["field"]
        assert field is None or len(field) <= 200  # names are excerpts, never a client's whole string
    else:
        TRIED["accepted"] += 1


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=JSONISH)
def test_any_json_value_is_accepted_or_refused_with_a_contract_error(raw: Any, engine: Any) -> None:
    TRIED["any_json"] += 1
    _holds(raw, engine.vocabulary)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_nearly_right_requests_are_accepted_or_refused_with_a_contract_error(data: st.DataObject,
                                                                            engine: Any) -> None:
    vocabulary = engine.vocabulary
    if id(vocabulary) not in _NEAR:  # built once: the names come from the shipped bundle
        _NEAR[id(vocabulary)] = near_requests(vocabulary.symptom_keys, (*vocabulary.vital_keys, *CONTRACT_VITALS))
    raw = data.draw(_NEAR[id(vocabulary)])
    TRIED["near_requests"] += 1
    _holds(raw, vocabulary)
