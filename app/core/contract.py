"""The diagnose contract: one request shape for the CLI, the Python API and the central service's /v1/predict.

Validation is strict on purpose. A clinic tool that silently clips "temperatura 391" to 45 or ignores a misspelt
symptom gives a confident answer to a question nobody asked, so anything unexpected is rejected with an error that
names the field, in the doctor's language.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from app.core.age import AGE_RANGE
from app.core.messages import LocalisedError
from app.core.signs import signs
from app.core.vocabulary import Vocabulary

MIN_FINDINGS = 3  # origin document: at least three symptoms per patient
DURATION_RANGE = (0.0, 3650.0)
INTENSITY_RANGE = (0, 10)
HPO_ID = re.compile(r"^HP:\d{7}$")
MAX_HPO_TERMS = 50
MAX_SIGNS = 40
CONTRACT_VERSION = 2
ALLOWED_FIELDS = ("age", "sex", "duration_days", "symptoms", "vitals", "hpo_terms",
                  "pregnancy", "consciousness", "signs", "excluded_hpo_terms")
# Contract v2 vitals. Their ranges belong to the contract, not to a bundle, so a request that carries them is valid
# (and the danger-sign rules read them) even on a bundle whose models were trained before they existed.
CONTRACT_VITALS: dict[str, tuple[float, float]] = {
    "weight_kg": (0.3, 300.0),
    "height_cm": (20.0, 250.0),
    "muac_mm": (50.0, 400.0),
    "capillary_refill_s": (0.0, 20.0),
}
PREGNANCY_STATUSES = ("pregnant", "postpartum", "not_pregnant", "unknown")
PREGNANCY_AGE = (10.0, 60.0)
PREGNANCY_WEEKS = (1.0, 45.0)
POSTPARTUM_DAYS = (0.0, 42.0)
AVPU = ("A", "V", "P", "U")

# Error texts, es/en. Placeholders are filled from ContractError.params.
ERROR_MESSAGES: dict[str, dict[str, str]] = {
    "not_an_object": {
        "es": "La solicitud debe ser un objeto JSON.",
        "en": "The request must be a JSON object.",
    },
    "invalid_json": {
        "es": "El texto no es JSON válido: {detail}.",
        "en": "The text is not valid JSON: {detail}.",
    },
    "unknown_field": {
        "es": "Campo desconocido «{field}».",
        "en": "Unknown field '{field}'.",
    },
    "missing_field": {
        "es": "Falta el campo obligatorio «{field}».",
        "en": "The required field '{field}' is missing.",
    },
    "wrong_type": {
        "es": "«{field}» debe ser {expected}.",
        "en": "'{field}' must be {expected}.",
    },
    "out_of_range": {
        "es": "«{field}» debe estar entre {low} y {high}; se recibió {value}.",
        "en": "'{field}' must be between {low} and {high}; got {value}.",
    },
    "invalid_sex": {
        "es": "«sex» debe ser «F» o «M»; se recibió {value}.",
        "en": "'sex' must be 'F' or 'M'; got {value}.",
    },
    "unknown_symptom": {
        "es": "Síntoma desconocido «{key}». Use una clave del vocabulario (por ejemplo «fiebre», «tos»).",
        "en": "Unknown symptom '{key}'. Use a vocabulary key (for example 'fiebre', 'tos').",
    },
    "duplicate_symptom": {
        "es": "El síntoma «{key}» aparece dos veces.",
        "en": "The symptom '{key}' appears twice.",
    },
    "unknown_vital": {
        "es": "Signo vital desconocido «{key}».",
        "en": "Unknown vital sign '{key}'.",
    },
    "inconsistent_bp": {
        "es": "La presión diastólica ({diastolic}) debe ser menor que la sistólica ({systolic}).",
        "en": "Diastolic pressure ({diastolic}) must be lower than systolic ({systolic}).",
    },
    "invalid_hpo_term": {
        "es": "«{value}» no es un término HPO (formato HP:0000000).",
        "en": "'{value}' is not an HPO term (format HP:0000000).",
    },
    "unknown_hpo_term": {
        "es": "El término HPO «{value}» no está en el índice del modelo.",
        "en": "The HPO term '{value}' is not in the model's index.",
    },
    "too_many_hpo_terms": {
        "es": "Demasiados términos HPO (máximo {high}).",
        "en": "Too many HPO terms (at most {high}).",
    },
    "too_many_excluded_hpo_terms": {
        "es": "Demasiados términos HPO ausentes (máximo {high}).",
        "en": "Too many absent HPO terms (at most {high}).",
    },
    "present_and_excluded": {
        "es": "El término HPO «{value}» figura a la vez como presente y como ausente; quítelo de una de las dos "
        "listas.",
        "en": "The HPO term '{value}' is given both as present and as absent; take it out of one of the two "
        "lists.",
    },
    "too_few_findings": {
        "es": "Se necesitan al menos {minimum} hallazgos (síntomas con intensidad 1 o más, signos o términos HPO); "
        "se recibieron {count}.",
        "en": "At least {minimum} findings are needed (symptoms with intensity 1 or more, signs or HPO terms); "
        "got {count}.",
    },
    "pregnancy_not_applicable": {
        "es": "«pregnancy» solo se admite para mujeres de {low} a {high} años (sexo {sex}, edad {age}).",
        "en": "'pregnancy' is only accepted for women aged {low} to {high} (sex {sex}, age {age}).",
    },
    "invalid_pregnancy_status": {
        "es": "«pregnancy.status» debe ser uno de {allowed}; se recibió {value}.",
        "en": "'pregnancy.status' must be one of {allowed}; got {value}.",
    },
    "invalid_consciousness": {
        "es": "«consciousness» debe ser A, V, P o U (escala AVPU); se recibió {value}.",
        "en": "'consciousness' must be A, V, P or U (the AVPU scale); got {value}.",
    },
    "unknown_sign": {
        "es": "Signo desconocido «{value}». Use un código de la lista de signos (por ejemplo «chest_indrawing»).",
        "en": "Unknown sign '{value}'. Use a code from the list of signs (for example 'chest_indrawing').",
    },
    "too_many_signs": {
        "es": "Demasiados signos (máximo {high}).",
        "en": "Too many signs (at most {high}).",
    },
}

_EXPECTED: dict[str, dict[str, str]] = {
    "number": {"es": "un número", "en": "a number"},
    "integer": {"es": "un número entero de 0 a 10", "en": "a whole number from 0 to 10"},
    "object": {"es": "un objeto", "en": "an object"},
    "list": {"es": "una lista de términos HPO", "en": "a list of HPO terms"},
    "sign_list": {"es": "una lista de códigos de signos", "en": "a list of sign codes"},
    "text": {"es": "un texto", "en": "a text"},
}


EXCERPT = 40  # characters of a client-chosen key or value echoed in an error message


def excerpt(value: Any) -> str:
    """A short, printable excerpt of something the client chose (a key, a value): messages must never echo
    kilobytes of it, nor characters that cannot be written (a lone surrogate broke the error output once)."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


class ContractError(LocalisedError, ValueError):
    """A request that does not meet the diagnose contract. `field` is a dotted path such as `vitals.spo2`.

    Every contract error is the person's to fix, so the CLI exits 2 and the service answers 422. Client-chosen
    names and values are echoed only as short escaped excerpts.
    """

    MESSAGES = ERROR_MESSAGES
    KIND = "contract error"
    USER_FIXABLE = frozenset(ERROR_MESSAGES)

    def __init__(self, code: str, field: str | None, **params: Any) -> None:
        safe = {k: excerpt(v) if k in ("key", "value") else v for k, v in params.items()}
        self.field = None if field is None else excerpt(field)
        super().__init__(code, field=self.field, **safe)

    def message(self, lang: str = "es") -> str:
        params = dict(self.params)
        if "expected" in params:
            params["expected"] = _EXPECTED[params["expected"]][lang]
        return ERROR_MESSAGES[self.code][lang].format(**params)


@dataclass(frozen=True, slots=True)
class Pregnancy:
    """Contract v2 `pregnancy`: `weeks` only when pregnant, `days_since_delivery` only when postpartum."""

    status: str  # one of PREGNANCY_STATUSES
    weeks: float | None = None
    days_since_delivery: float | None = None

    @property
    def pregnant(self) -> bool:
        return self.status == "pregnant"

    @property
    def postpartum(self) -> bool:
        return self.status == "postpartum"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.weeks is not None:
            out["weeks"] = self.weeks
        if self.days_since_delivery is not None:
            out["days_since_delivery"] = self.days_since_delivery
        return out


@dataclass(frozen=True, slots=True)
class DiagnoseRequest:
    """A validated request. Symptom keys are lower case; absent vitals are simply not in `vitals`.

    The contract v2 fields default to "not given", so every v1 request is a valid v2 request.
    """

    age: float
    sex: str
    duration_days: float | None
    symptoms: dict[str, int]
    vitals: dict[str, float]
    hpo_terms: tuple[str, ...] = field(default=())
    pregnancy: Pregnancy | None = None
    consciousness: str | None = None  # AVPU; None = not assessed
    signs: tuple[str, ...] = field(default=())
    # Findings the doctor looked for and found absent ("no seizures"): evidence against the diseases that almost
    # always show them (rare-disease ranking only); they are not findings for MIN_FINDINGS.
    excluded_hpo_terms: tuple[str, ...] = field(default=())

    @property
    def pregnant(self) -> bool:
        return self.pregnancy is not None and self.pregnancy.pregnant

    @property
    def postpartum(self) -> bool:
        return self.pregnancy is not None and self.pregnancy.postpartum

    def has_sign(self, code: str) -> bool:
        return code in self.signs

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"age": self.age, "sex": self.sex}
        if self.duration_days is not None:
            out["duration_days"] = self.duration_days
        out["symptoms"] = dict(self.symptoms)
        out["vitals"] = dict(self.vitals)
        if self.hpo_terms:
            out["hpo_terms"] = list(self.hpo_terms)
        if self.pregnancy is not None:
            out["pregnancy"] = self.pregnancy.to_json()
        if self.consciousness is not None:
            out["consciousness"] = self.consciousness
        if self.signs:
            out["signs"] = list(self.signs)
        if self.excluded_hpo_terms:  # only when given: older stored requests and clients stay byte-identical
            out["excluded_hpo_terms"] = list(self.excluded_hpo_terms)
        return out


def _is_number(value: Any) -> bool:
    # bool is an int in Python, but `"age": true` is a mistake, not 1 year.
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float (JSON allows 400 digits): finite, and out of range
        return True


def _number(value: Any, name: str, low: float, high: float) -> float:
    if not _is_number(value):
        raise ContractError("wrong_type", name, expected="number")
    if not low <= value <= high:
        shown = _fmt(value) if isinstance(value, float) or abs(value) < 10**15 else f"{str(value)[:12]}…"
        raise ContractError("out_of_range", name, low=_fmt(low), high=_fmt(high), value=shown)
    return float(value)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def validate_request(
    raw: Any, vocabulary: Vocabulary, known_hpo_terms: frozenset[str] | None = None
) -> DiagnoseRequest:
    """Check `raw` (parsed JSON) against the contract and return a clean request, or raise ContractError.

    `known_hpo_terms`, when given, is the set of HPO terms the bundle's rare-disease index knows; a term outside it
    is rejected rather than silently ignored.
    """
    if not isinstance(raw, dict):
        raise ContractError("not_an_object", None)
    for key in raw:
        if key not in ALLOWED_FIELDS:
            raise ContractError("unknown_field", str(key))
    for required in ("age", "sex"):
        if required not in raw:
            raise ContractError("missing_field", required)

    age = _number(raw["age"], "age", *AGE_RANGE)

    sex = raw["sex"]
    if not isinstance(sex, str):
        raise ContractError("wrong_type", "sex", expected="text")
    if sex.strip().upper() not in ("F", "M"):
        raise ContractError("invalid_sex", "sex", value=repr(sex))
    sex = sex.strip().upper()

    duration = raw.get("duration_days")
    duration_days = None if duration is None else _number(duration, "duration_days", *DURATION_RANGE)

    symptoms: dict[str, int] = {}
    raw_symptoms = raw.get("symptoms", {})
    if raw_symptoms is None:
        raw_symptoms = {}
    if not isinstance(raw_symptoms, dict):
        raise ContractError("wrong_type", "symptoms", expected="object")
    known_symptoms = set(vocabulary.symptom_keys)
    for key, value in raw_symptoms.items():
        # The origin document writes `Tos=10`: keys are case-insensitive, nothing else is forgiven.
        norm = str(key).strip().lower()
        name = f"symptoms.{key}"
        if norm not in known_symptoms:
            raise ContractError("unknown_symptom", name, key=key)
        if norm in symptoms:
            raise ContractError("duplicate_symptom", name, key=norm)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ContractError("wrong_type", name, expected="integer")
        low, high = INTENSITY_RANGE
        if not low <= value <= high:
            raise ContractError("out_of_range", name, low=low, high=high, value=value)
        symptoms[norm] = value

    vitals: dict[str, float] = {}
    raw_vitals = raw.get("vitals", {})
    if raw_vitals is None:
        raw_vitals = {}
    if not isinstance(raw_vitals, dict):
        raise ContractError("wrong_type", "vitals", expected="object")
    known_vitals = set(vocabulary.vital_keys)
    for key, value in raw_vitals.items():
        name = f"vitals.{key}"
        if key not in known_vitals and key not in CONTRACT_VITALS:
            raise ContractError("unknown_vital", name, key=key)
        if value is None:  # explicitly "not measured"
            continue
        bounds = CONTRACT_VITALS[key] if key in CONTRACT_VITALS else vocabulary.vital(key).plausible
        vitals[key] = _number(value, name, *bounds)
    if "systolic_bp" in vitals and "diastolic_bp" in vitals and vitals["diastolic_bp"] >= vitals["systolic_bp"]:
        raise ContractError(
            "inconsistent_bp", "vitals.diastolic_bp",
            diastolic=_fmt(vitals["diastolic_bp"]), systolic=_fmt(vitals["systolic_bp"]),
        )

    terms = _hpo_list(raw.get("hpo_terms"), "hpo_terms", "too_many_hpo_terms", known_hpo_terms)
    excluded = _hpo_list(raw.get("excluded_hpo_terms"), "excluded_hpo_terms", "too_many_excluded_hpo_terms",
                         known_hpo_terms)

    pregnancy = _pregnancy(raw.get("pregnancy"), sex, age)
    consciousness = _consciousness(raw.get("consciousness"))
    signs = _signs(raw.get("signs"))

    # A symptom given both as a vocabulary key and as its own HPO term is one finding, not two.
    present = {vocabulary.symptom(k).hpo for k, v in symptoms.items() if v >= 1}
    findings = (sum(1 for v in symptoms.values() if v >= 1) + sum(1 for t in terms if t not in present)
                + len(signs))
    # A finding cannot be both present and absent, whether entered as an HPO term or as a vocabulary symptom.
    for i, term in enumerate(excluded):
        if term in terms or term in present:
            raise ContractError("present_and_excluded", f"excluded_hpo_terms[{i}]", value=term)
    if findings < MIN_FINDINGS:  # absent findings do not count: they narrow the ranking, they do not describe
        raise ContractError("too_few_findings", "symptoms", minimum=MIN_FINDINGS, count=findings)
    return DiagnoseRequest(age, sex, duration_days, symptoms, vitals, tuple(terms), pregnancy, consciousness, signs,
                           tuple(excluded))


def _hpo_list(raw: Any, field_name: str, too_many: str, known: frozenset[str] | None) -> list[str]:
    """A list of HPO ids (`hpo_terms`, `excluded_hpo_terms`): upper-cased, duplicates dropped, in the given order."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ContractError("wrong_type", field_name, expected="list")
    if len(raw) > MAX_HPO_TERMS:
        raise ContractError(too_many, field_name, high=MAX_HPO_TERMS)
    terms: list[str] = []
    for i, term in enumerate(raw):
        name = f"{field_name}[{i}]"
        if not isinstance(term, str) or not HPO_ID.match(term.strip().upper()):
            raise ContractError("invalid_hpo_term", name, value=term)
        term = term.strip().upper()
        if known is not None and term not in known:
            raise ContractError("unknown_hpo_term", name, value=term)
        if term not in terms:
            terms.append(term)
    return terms


def _pregnancy(raw: Any, sex: str, age: float) -> Pregnancy | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ContractError("wrong_type", "pregnancy", expected="object")
    low, high = PREGNANCY_AGE
    if sex != "F" or not low <= age <= high:
        raise ContractError("pregnancy_not_applicable", "pregnancy", low=_fmt(low), high=_fmt(high), sex=sex,
                            age=_fmt(age))
    for key in raw:
        if key not in ("status", "weeks", "days_since_delivery"):
            raise ContractError("unknown_field", f"pregnancy.{key}")
    if "status" not in raw:
        raise ContractError("missing_field", "pregnancy.status")
    status = raw["status"]
    if not isinstance(status, str) or status.strip().lower() not in PREGNANCY_STATUSES:
        raise ContractError("invalid_pregnancy_status", "pregnancy.status", allowed=", ".join(PREGNANCY_STATUSES),
                            value=repr(status))
    status = status.strip().lower()
    weeks = days = None
    # Weeks belong to a pregnancy and days to a puerperium: either one elsewhere is a mistake worth naming. A JSON
    # null is "not given", as for the vitals.
    given = {k: v for k, v in raw.items() if v is not None}
    if status == "pregnant":
        if "weeks" not in given:
            raise ContractError("missing_field", "pregnancy.weeks")
        weeks = _number(given["weeks"], "pregnancy.weeks", *PREGNANCY_WEEKS)
    elif "weeks" in given:
        raise ContractError("unknown_field", "pregnancy.weeks")
    if status == "postpartum":
        if "days_since_delivery" not in given:
            raise ContractError("missing_field", "pregnancy.days_since_delivery")
        days = _number(given["days_since_delivery"], "pregnancy.days_since_delivery", *POSTPARTUM_DAYS)
    elif "days_since_delivery" in given:
        raise ContractError("unknown_field", "pregnancy.days_since_delivery")
    return Pregnancy(status, weeks, days)


def _consciousness(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ContractError("wrong_type", "consciousness", expected="text")
    value = raw.strip().upper()
    if value not in AVPU:
        raise ContractError("invalid_consciousness", "consciousness", value=repr(raw))
    return value


def _signs(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ContractError("wrong_type", "signs", expected="sign_list")
    if len(raw) > MAX_SIGNS:
        raise ContractError("too_many_signs", "signs", high=MAX_SIGNS)
    known = signs().codes
    out: list[str] = []
    for i, code in enumerate(raw):
        if not isinstance(code, str) or code.strip().lower() not in known:
            raise ContractError("unknown_sign", f"signs[{i}]", value=code)
        code = code.strip().lower()
        if code not in out:
            out.append(code)
    return tuple(out)
