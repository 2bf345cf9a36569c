"""/v1/predict speaks contract v2 on a real `vereda-server serve`: v2 inputs in; triage, scores and `contract: 2` out.

The model bundle is rebuilt while this project moves, so nothing here depends on a probability or on the top
condition: only on the answer's fields, on the triage that sourced danger-sign rules decide (WHO pre-eclampsia, IMCI
general danger signs, NEWS2), and on scores computed exactly as published. Bad input to the new fields is a 422 with
the contract's error object naming the field, in Spanish by default and in English on request. The answer's shape
is the typed `app.core.response.DiagnoseResponse`, which is also what /openapi.json documents.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import typing_extensions

from tests.server.helpers import CASE4, INFANT, PREECLAMPSIA, Server

TIMEOUT = 30
# 70-year-old man: RR 24 (2) + SpO2 93 (2) + SBP 105 (1) + HR 112 (2) + T 38.5 (1) + AVPU A (0) = NEWS2 8
# (RCP 2017 chart); qSOFA = RR >= 22 (1) + SBP <= 100 (0) + altered mentation (0) = 1 (Sepsis-3).
OLDER_ADULT = {"age": 70, "sex": "M", "duration_days": 2, "consciousness": "A",
               "symptoms": {"fiebre": 6, "tos": 6, "dificultad_respirar": 5},
               "vitals": {"respiratory_rate": 24, "spo2": 93, "systolic_bp": 105, "diastolic_bp": 70,
                          "heart_rate": 112, "temperature_c": 38.5}}


@pytest.fixture(scope="module")
def server(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    database = f"sqlite:///{tmp_path_factory.mktemp('predict-v2') / 'vereda-server.db'}"
    return start_server(database)  # type: ignore[no-any-return]


def predict(server: Server, body: Any, path: str = "/v1/predict", **kwargs: Any) -> requests.Response:
    return requests.post(server.url + path, json=body, timeout=TIMEOUT, **kwargs)


# --- the typed answer ---------------------------------------------------------------------------------------------


def _unknown_keys(value: Any, hint: Any, where: str = "") -> Iterator[str]:
    """Keys of `value` that its TypedDict `hint` does not declare, recursively (pydantic ignores them silently)."""
    # typing_extensions' helpers: app.core.response uses its TypedDict, which `typing.is_typeddict` does not know
    # on Python 3.11.
    if typing_extensions.is_typeddict(hint) and isinstance(value, dict):
        hints = typing_extensions.get_type_hints(hint)
        for key, item in value.items():
            if key not in hints:
                yield f"{where}.{key}"
            else:
                yield from _unknown_keys(item, hints[key], f"{where}.{key}")
        return
    for arg in typing.get_args(hint):  # list[X], X | None, NotRequired[X]
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _unknown_keys(item, arg, f"{where}[{i}]")
        else:
            yield from _unknown_keys(value, arg, where)


def test_the_typed_response_matches_the_contract_constants() -> None:
    from app.core.contract import CONTRACT_VERSION
    from app.core.red_flags import TRIAGE_LEVELS
    from app.core.response import DiagnoseResponse, RedFlagLevel, Severity, SeverityProbabilities, TriageLevel
    from app.core.vocabulary import STATES

    assert typing.get_args(Severity) == STATES
    assert tuple(typing_extensions.get_type_hints(SeverityProbabilities)) == STATES
    assert set(typing.get_args(TriageLevel)) == set(TRIAGE_LEVELS)
    assert set(typing.get_args(RedFlagLevel)) == set(TRIAGE_LEVELS) - {"NO_URGENTE"}
    assert typing.get_args(typing_extensions.get_type_hints(DiagnoseResponse)["contract"]) == (CONTRACT_VERSION,)


@pytest.mark.parametrize("case", [CASE4, PREECLAMPSIA, {**INFANT, "age": 0.5}, OLDER_ADULT],
                         ids=["v1", "pregnant", "infant", "older-adult"])
def test_the_engine_answer_has_exactly_the_typed_shape(case: dict[str, Any]) -> None:
    """/v1/predict validates its answer against DiagnoseResponse, which would silently drop a key the engine added
    and the type forgot: so the engine's own dict must have no key the type does not declare, and pass strictly."""
    from pydantic import TypeAdapter

    from app.core.engine import DiagnosisEngine
    from app.core.response import DiagnoseResponse

    answer = DiagnosisEngine.load().diagnose(case, engine="cloud")
    assert list(_unknown_keys(answer, DiagnoseResponse)) == []
    TypeAdapter(DiagnoseResponse).validate_python(answer, strict=True)


# --- contract v2 in, triage / scores / contract 2 out -------------------------------------------------------------


def test_a_v2_request_gets_triage_scores_and_contract_2(server: Server) -> None:
    from pydantic import TypeAdapter

    from app.core.response import DiagnoseResponse

    for path in ("/v1/predict", "/predict"):
        reply = predict(server, PREECLAMPSIA, path)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        TypeAdapter(DiagnoseResponse).validate_python(body)
        assert body["contract"] == 2 and body["engine"] == "cloud"
        triage = body["triage"]
        assert triage["level"] == "EMERGENCIA"
        assert triage["label"] == {"es": "EMERGENCIA", "en": "Emergency"}
        assert "PRE_ECLAMPSIA_SEVERE" in [r["code"] for r in triage["reasons"]]
        # Contract v2: the three always agree.
        assert body["requires_immediate_attention"] is True and body["severity"] == "ENFERMEDAD_AGUDA"
        assert all(f["level"] in ("EMERGENCIA", "PRIORITARIO") for f in body["red_flags"])
        assert {"code": "PRE_ECLAMPSIA_SEVERE", "level": "EMERGENCIA"}.items() <= next(
            f for f in body["red_flags"] if f["code"] == "PRE_ECLAMPSIA_SEVERE").items()
        # NEWS2 excludes pregnancy (RCP 2017); qSOFA needs the respiratory rate, not measured here.
        assert body["scores"] == {"news2": None, "qsofa": None}


def test_an_infant_with_imci_danger_signs_is_an_emergency(server: Server) -> None:
    reply = predict(server, {**INFANT, "age": 6 / 12})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["triage"]["level"] == "EMERGENCIA"
    assert "IMCI_DANGER_SIGN" in [r["code"] for r in body["triage"]["reasons"]]
    assert body["scores"] == {"news2": None, "qsofa": None}  # both are adult scores


def test_scores_are_computed_as_published(server: Server) -> None:
    body = predict(server, OLDER_ADULT).json()
    assert body["scores"] == {"news2": 8, "qsofa": 1}
    assert body["triage"]["level"] == "EMERGENCIA"  # NEWS2 >= 7: emergency response (RCP 2017)
    assert "NEWS2_HIGH" in [r["code"] for r in body["triage"]["reasons"]]


def test_a_v1_request_still_gets_a_v2_answer(server: Server) -> None:
    body = predict(server, CASE4).json()
    assert body["contract"] == 2 and set(body["scores"]) == {"news2", "qsofa"}
    assert body["triage"]["level"] in ("EMERGENCIA", "PRIORITARIO", "NO_URGENTE")
    assert (body["triage"]["level"] == "EMERGENCIA") is body["requires_immediate_attention"]


def test_the_service_answers_every_key_the_engine_built(server: Server) -> None:
    """FastAPI serialises the validated answer: nothing the engine built may be lost on the way out."""
    from app.core.engine import DiagnosisEngine

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            # Contributions and probabilities are keyed by inputs and classes of the bundle: compare their kind only.
            if value and all(isinstance(v, float | int) and not isinstance(v, bool) for v in value.values()):
                return "numbers"
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(value[0])] if value else []
        return type(value).__name__.replace("int", "float")

    local = DiagnosisEngine.load().diagnose(OLDER_ADULT, engine="cloud")
    cloud = predict(server, OLDER_ADULT).json()
    assert shape(cloud) == shape(local)


# --- bad v2 input -------------------------------------------------------------------------------------------------

BASE = {"age": 30, "sex": "F", "symptoms": {"fiebre": 6, "tos": 5, "fatiga": 4}}
BAD_V2 = [
    # (request, code, field, a piece of the Spanish message, a piece of the English one)
    pytest.param({**BASE, "sex": "M", "pregnancy": {"status": "pregnant", "weeks": 20}},
                 "pregnancy_not_applicable", "pregnancy", "solo se admite para mujeres de 10 a 60 años",
                 "only accepted for women aged 10 to 60", id="pregnancy-for-a-man"),
    pytest.param({**BASE, "age": 70, "pregnancy": {"status": "pregnant", "weeks": 20}},
                 "pregnancy_not_applicable", "pregnancy", "edad 70", "age 70", id="pregnancy-at-70"),
    pytest.param({**BASE, "pregnancy": {"status": "pregnant", "weeks": 60}},
                 "out_of_range", "pregnancy.weeks", "«pregnancy.weeks» debe estar entre 1 y 45; se recibió 60",
                 "'pregnancy.weeks' must be between 1 and 45; got 60", id="weeks-60"),
    pytest.param({**BASE, "pregnancy": {"status": "embarazada", "weeks": 20}},
                 "invalid_pregnancy_status", "pregnancy.status", "«pregnancy.status» debe ser uno de",
                 "'pregnancy.status' must be one of", id="pregnancy-status"),
    pytest.param({**BASE, "signs": ["chest_indrawing", "fiebre_alta"]},
                 "unknown_sign", "signs[1]", "Signo desconocido «fiebre_alta»", "Unknown sign 'fiebre_alta'",
                 id="unknown-sign"),
    pytest.param({**BASE, "signs": ["chest_indrawing"] * 41},
                 "too_many_signs", "signs", "Demasiados signos (máximo 40)", "Too many signs (at most 40)",
                 id="too-many-signs"),
    pytest.param({**BASE, "consciousness": "X"},
                 "invalid_consciousness", "consciousness", "«consciousness» debe ser A, V, P o U",
                 "'consciousness' must be A, V, P or U", id="avpu-x"),
    pytest.param({**BASE, "vitals": {"muac_mm": 9}},
                 "out_of_range", "vitals.muac_mm", "«vitals.muac_mm» debe estar entre 50 y 400; se recibió 9",
                 "'vitals.muac_mm' must be between 50 and 400; got 9", id="muac-9"),
]


@pytest.mark.parametrize(("body", "code", "field", "spanish", "english"), BAD_V2)
def test_bad_v2_input_is_a_422_naming_the_field_in_spanish_and_english(
        server: Server, body: dict[str, Any], code: str, field: str, spanish: str, english: str) -> None:
    from app.core.contract import MAX_SIGNS

    assert MAX_SIGNS == 40  # the messages above quote it
    answers = {"es": predict(server, body), "en": predict(server, body, params={"lang": "en"}),
               "en-header": predict(server, body, headers={"Accept-Language": "en-GB,en;q=0.9"})}
    for lang, reply in answers.items():
        assert reply.status_code == 422, (lang, reply.text)
        error = reply.json()["error"]
        assert (error["code"], error["field"]) == (code, field), lang
        assert error["request_id"] == reply.headers["x-request-id"]
        assert (spanish if lang == "es" else english) in error["message"], (lang, error["message"])
        assert "Traceback" not in reply.text


# --- the published schema -----------------------------------------------------------------------------------------


def test_the_openapi_schema_documents_the_v2_answer_and_request(server: Server) -> None:
    spec = requests.get(server.url + "/openapi.json", timeout=TIMEOUT).json()
    components = spec["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    for path in ("/v1/predict", "/predict"):
        operation = spec["paths"][path]["post"]
        answer = resolve(operation["responses"]["200"]["content"]["application/json"]["schema"])
        assert "triage" in answer["properties"] and "triage" in answer["required"]
        assert {"scores", "contract", "red_flags", "severity"} <= set(answer["required"])
        triage = resolve(answer["properties"]["triage"])
        assert resolve(triage["properties"]["level"])["enum"] == ["EMERGENCIA", "PRIORITARIO", "NO_URGENTE"]
        flag = resolve(answer["properties"]["red_flags"]["items"])
        assert "level" in flag["required"]
        assert answer["properties"]["contract"].get("const", answer["properties"]["contract"].get("enum")) in (2, [2])
        assert resolve(operation["responses"]["422"]["content"]["application/json"]["schema"])["title"] \
            == "ErrorPublic"
        request = operation["requestBody"]
        assert {"pregnancy", "consciousness", "signs"} <= set(request["content"]["application/json"]["example"])
        assert "signs.toml" in request["description"]
