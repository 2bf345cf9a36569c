"""One consultation's state, without Qt: who it is for, the findings, the answer, and what saving or closing needs.

The consultation screen (app/ui/consultation.py) is a view of this object: its fields write the findings here and
read back the request, whether the answer on screen is out of date, and why closing is not possible yet. The main
window keeps the patient and the stored encounter here too. Tests drive it without widgets (tests/core).

The rules it holds, each one a defect once:
- an answer is given for exact findings; any finding changed afterwards makes it stale, and a stale answer cannot be
  closed (closing stores the findings, which must be those the answer saw);
- a new patient, a new consultation or another user clears everything: nothing of one patient stays for the next;
- a pregnancy is sent only for a woman of 10 to 60 (the contract refuses it for anyone else);
- only what was entered is sent: an unmeasured vital, AVPU not assessed or an unticked sign leave their field out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.contract import PREGNANCY_AGE

# Why closing cannot happen yet: message keys of the UI catalog (app/ui/i18n), in the order they are checked.
STALE = "consult.stale"
NEED_FINAL = "consult.need_final"
NEED_PATIENT = "main.need_patient"
DIAGNOSE_FIRST = "main.diagnose_first"


def pregnancy_applies(sex: str | None, age: float | None) -> bool:
    """The contract's rule: a pregnancy status only for a woman aged 10 to 60."""
    low, high = PREGNANCY_AGE
    return sex == "F" and age is not None and low <= age <= high


def final_code(choice: str) -> str:
    """The diagnosis code the doctor chose or typed: "Neumonía (J18)" → "J18", "ORPHA:558" as typed."""
    code = choice.strip()
    if "(" in code and code.endswith(")"):  # typed text that matches an item label
        code = code.rsplit("(", 1)[1].rstrip(")").strip()
    return code


@dataclass(frozen=True)
class Findings:
    """What the doctor entered: the input of one diagnose-contract (v2) request."""

    age: float | None = None  # years; None: unknown (the contract's "age is required" asks for it)
    sex: str = "F"
    duration_days: float | None = None
    consciousness: str | None = None  # AVPU; None: not assessed
    pregnancy: Mapping[str, Any] | None = None
    vitals: Mapping[str, float] = field(default_factory=dict)
    symptoms: Mapping[str, int] = field(default_factory=dict)  # intensity 1-10; 0 is not entered
    signs: tuple[str, ...] = ()
    hpo_terms: tuple[str, ...] = ()
    excluded_hpo_terms: tuple[str, ...] = ()  # looked for and found absent

    def entered(self) -> bool:
        """Whether anything clinical was entered (worth keeping as a draft)."""
        return bool(self.symptoms or self.signs or self.hpo_terms or self.excluded_hpo_terms)

    def request(self) -> dict[str, Any]:
        """The diagnose-contract request (validated by the engine, not here); only what was entered goes in."""
        request: dict[str, Any] = {"sex": self.sex, "symptoms": dict(self.symptoms), "vitals": dict(self.vitals)}
        if self.age is not None:
            request = {"age": self.age, **request}
        if self.hpo_terms:
            request["hpo_terms"] = list(self.hpo_terms)
        if self.excluded_hpo_terms:
            request["excluded_hpo_terms"] = list(self.excluded_hpo_terms)
        if self.duration_days is not None:
            request["duration_days"] = self.duration_days
        if self.pregnancy is not None and pregnancy_applies(self.sex, self.age):
            request["pregnancy"] = dict(self.pregnancy)
        if self.consciousness:
            request["consciousness"] = self.consciousness
        if self.signs:
            request["signs"] = list(self.signs)
        return request

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> Findings:
        """A saved request (a draft, a past encounter; contract v1 or v2) as findings."""
        age, duration = request.get("age"), request.get("duration_days")
        return cls(age=float(age) if age is not None else None, sex="M" if request.get("sex") == "M" else "F",
                   duration_days=float(duration) if duration is not None else None,
                   consciousness=request.get("consciousness") or None, pregnancy=request.get("pregnancy"),
                   vitals={k: float(v) for k, v in (request.get("vitals") or {}).items() if v is not None},
                   symptoms={k: int(v) for k, v in (request.get("symptoms") or {}).items() if int(v) > 0},
                   signs=tuple(request.get("signs") or ()), hpo_terms=tuple(request.get("hpo_terms") or ()),
                   excluded_hpo_terms=tuple(request.get("excluded_hpo_terms") or ()))


@dataclass(frozen=True)
class Answer:
    """The engine's answer and the exact request it was given for."""

    request: Mapping[str, Any]
    response: Mapping[str, Any]


class ConsultationSession:
    """The state of the consultation on screen. Plain Python: every method is cheap and may run on the GUI thread."""

    def __init__(self) -> None:
        self.clear()

    # Who and which visit ------------------------------------------------------------------------------------------
    def clear(self) -> None:
        """Another patient, another consultation or another user: nothing of this one stays."""
        self.patient: dict[str, Any] | None = None  # the registered patient (a row of app/ui/patients), or None
        self.encounter_id: str | None = None  # the stored encounter (draft or diagnosed), once there is one
        self.closed = False  # the stored encounter is closed: read-only, a new diagnosis starts a new encounter
        self.findings = Findings()
        self.answer: Answer | None = None

    def forget_findings(self) -> None:
        """The findings and the answer go; the patient and the stored encounter stay (the screen's Clear button)."""
        self.findings = Findings()
        self.answer = None

    def start(self, patient: dict[str, Any] | None, age: float | None = None, sex: str = "F") -> None:
        """A new consultation for `patient` (None: a quick one, not stored); `age` None leaves it to the doctor."""
        self.clear()
        self.patient = patient
        self.findings = Findings(age=age, sex="M" if sex == "M" else "F")

    def open_record(self, encounter: Mapping[str, Any]) -> None:
        """A stored encounter of this patient: its findings, and its answer if it was diagnosed."""
        self.encounter_id = encounter["id"]
        self.closed = encounter["status"] == "closed"
        self.findings = Findings.from_request(encounter["request"])
        response = encounter.get("response")
        self.answer = Answer(self.request(), response) if response else None

    def encounter_saved(self, encounter_id: str) -> None:
        self.encounter_id = encounter_id

    def encounter_closed(self) -> None:
        self.closed = True

    # Findings -------------------------------------------------------------------------------------------------------
    def set_findings(self, findings: Findings) -> None:
        self.findings = findings

    def update(self, **changes: Any) -> None:
        """Change some findings: `session.update(age=2.0, sex="M")`."""
        self.findings = dataclasses.replace(self.findings, **changes)

    def set_symptom(self, key: str, intensity: int) -> None:
        """An intensity 0-10 (0 takes the symptom out)."""
        symptoms = dict(self.findings.symptoms)
        if intensity > 0:
            symptoms[key] = max(1, min(10, int(intensity)))
        else:
            symptoms.pop(key, None)
        self.update(symptoms=symptoms)

    def set_vital(self, key: str, value: float | None) -> None:
        vitals = dict(self.findings.vitals)
        if value is None:
            vitals.pop(key, None)
        else:
            vitals[key] = value
        self.update(vitals=vitals)

    def set_sign(self, code: str, present: bool = True) -> None:
        signs = [s for s in self.findings.signs if s != code]
        self.update(signs=(*signs, code) if present else tuple(signs))

    def add_term(self, hpo: str) -> bool:
        """An extra finding as an HPO term; False when it is already there."""
        if hpo in self.findings.hpo_terms:
            return False
        self.update(hpo_terms=(*self.findings.hpo_terms, hpo))
        return True

    def remove_term(self, hpo: str) -> None:
        self.update(hpo_terms=tuple(t for t in self.findings.hpo_terms if t != hpo),
                    excluded_hpo_terms=tuple(t for t in self.findings.excluded_hpo_terms if t != hpo))

    def set_terms(self, terms: Iterable[str]) -> None:
        self.update(hpo_terms=tuple(dict.fromkeys(terms)))

    def pregnancy_applies(self) -> bool:
        return pregnancy_applies(self.findings.sex, self.findings.age)

    def request(self) -> dict[str, Any]:
        return self.findings.request()

    # The answer -----------------------------------------------------------------------------------------------------
    def answered(self, request: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        """The engine answered `request` (the findings as they were when "Diagnosticar" was pressed)."""
        self.answer = Answer(dict(request), response)
        if self.closed:  # a new diagnosis after closing starts a new encounter; the closed one stays as it was
            self.encounter_id, self.closed = None, False

    @property
    def stale(self) -> bool:
        """True when the findings are not those the answer was given for."""
        return self.answer is not None and self.request() != dict(self.answer.request)

    # Saving and closing ---------------------------------------------------------------------------------------------
    def draft(self) -> dict[str, Any] | None:
        """The request to keep as a draft before a lock or quitting, or None: nothing to keep (no patient, a closed
        visit, nothing clinical entered)."""
        if self.patient is None or self.closed or not self.findings.entered():
            return None
        return self.request()

    def closing_problem(self, code: str) -> str | None:
        """Why the doctor's confirmation cannot close the consultation yet (a message key), or None."""
        if self.stale:
            return STALE
        if not final_code(code):
            return NEED_FINAL
        return None

    def record_problem(self) -> str | None:
        """Why the consultation cannot be stored as closed (a message key), or None: it needs a registered patient
        and a diagnosed encounter."""
        if self.patient is None:
            return NEED_PATIENT
        if self.encounter_id is None:
            return DIAGNOSE_FIRST
        return None

    @property
    def can_close(self) -> bool:
        return self.answer is not None and not self.closed and not self.stale
