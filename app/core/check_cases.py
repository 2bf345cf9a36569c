"""Check cases a new model bundle must pass before it replaces the one the doctor is using.

A bundle may carry its own cases in `checks.json` (pinned in its signed manifest like every other file):

    {"format": 1, "cases": [{"name": "...", "request": {...diagnose request...},
                             "expect": {"severity_at_least": "ENFERMEDAD_AGUDA",
                                        "requires_immediate_attention": true,
                                        "top_conditions_include": ["I21"]}}]}

Without one, the five cases of the origin document are used (copied here as data: the app never imports the build
tools of model_export, whose `evaluate.ORIGIN_CASES` they mirror). A case passes when the answer is at least as
urgent as expected (the precautionary principle: escalating is allowed, lowering is not), raises the attention
flag when the case demands it, and names the expected conditions among its top conditions when the case lists any.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.engine import DiagnosisEngine
from app.core.vocabulary import STATES, urgency

CHECKS_FILE = "checks.json"


@dataclass(frozen=True)
class CheckCase:
    name: str
    request: dict[str, Any]
    severity_at_least: str
    requires_immediate_attention: bool | None = None  # None: either is fine
    top_conditions_include: tuple[str, ...] = field(default_factory=tuple)


def _origin(name: str, symptoms: dict[str, int], state: str, attention: bool) -> CheckCase:
    return CheckCase(name, {"age": 40, "sex": "F", "symptoms": symptoms}, state, True if attention else None)


# seed/seed-readme.md's five cases (age 40, female, as model_export.evaluate.origin_request builds them); cases 3, 4
# and 5 must raise the attention flag, as model_export.evaluate.ORIGIN_ATTENTION says.
ORIGIN_CASES: tuple[CheckCase, ...] = (
    _origin("origin-1", {"fatiga": 2, "dolor_muscular": 1, "mareos": 1}, "NO_ENFERMO", False),
    _origin("origin-2", {"fiebre": 3, "dolor_cabeza": 3, "dificultad_respirar": 5}, "MOLESTIAS_LEVES", False),
    _origin("origin-3", {"fiebre": 10, "dolor_pecho": 8, "dificultad_respirar": 7}, "ENFERMEDAD_LEVE", True),
    _origin("origin-4", {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}, "ENFERMEDAD_AGUDA", True),
    _origin("origin-5", {"dolor_pecho": 10, "Tos": 10, "dificultad_respirar": 10}, "ENFERMEDAD_CRONICA", True),
)


class CheckCasesError(ValueError):
    """A `checks.json` that cannot be read as check cases."""


def load_cases(bundle_dir: Path) -> tuple[CheckCase, ...]:
    """The bundle's own cases, or the origin document's when it carries none."""
    path = Path(bundle_dir) / CHECKS_FILE
    if not path.is_file():
        return ORIGIN_CASES
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != 1 or not doc.get("cases"):
            raise CheckCasesError(f"{CHECKS_FILE}: unknown format or no cases")
        cases = []
        for i, raw in enumerate(doc["cases"]):
            expect = raw["expect"]
            state = expect["severity_at_least"]
            if state not in STATES:
                raise CheckCasesError(f"{CHECKS_FILE}: case {i} expects an unknown state")
            attention = expect.get("requires_immediate_attention")
            cases.append(CheckCase(str(raw.get("name", f"case-{i + 1}")), dict(raw["request"]), state,
                                   None if attention is None else bool(attention),
                                   tuple(expect.get("top_conditions_include", ()))))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckCasesError(f"{CHECKS_FILE} is malformed ({exc})") from None
    return tuple(cases)


def failures(engine: DiagnosisEngine, cases: tuple[CheckCase, ...]) -> list[str]:
    """Names (with the reason) of the cases the engine fails; empty when all pass."""
    out = []
    for case in cases:
        try:
            answer = engine.diagnose(case.request)
        except Exception as exc:  # a case the new model cannot even answer is a failed case
            out.append(f"{case.name}: {type(exc).__name__}")
            continue
        if urgency(answer["severity"]) < urgency(case.severity_at_least):
            out.append(f"{case.name}: {answer['severity']} < {case.severity_at_least}")
        if case.requires_immediate_attention and not answer["requires_immediate_attention"]:
            out.append(f"{case.name}: no attention flag")
        top = {c["code"] for c in answer["top_conditions"]}
        missing = [c for c in case.top_conditions_include if c not in top]
        if missing:
            out.append(f"{case.name}: {', '.join(missing)} not in top conditions")
    return out
