"""Notifiable diseases: the configurable list (data/notifiable.toml, each entry with its sources), the check made when
a doctor confirms a diagnosis, and the clinic's weekly notification report (JSON and a printable PDF).

The record of a notifiable case is the doctor's confirmed diagnosis itself (the closed encounter's final code, kept
in the encrypted store and in the audit log's `encounter.close` entry): the report is computed from it for any
week, so it can be printed again, and a list edited later (a new disease under surveillance) applies to past weeks
too. The clinic's own copy of the list (`notifiable.toml` in its data folder) wins over the shipped one.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.interop.messages import InteropError
from app.store.records import ClinicRecord, EncounterRecord, PatientRecord

DEFAULT_LIST = Path(__file__).resolve().parent / "data" / "notifiable.toml"
CLINIC_LIST_NAME = "notifiable.toml"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, slots=True)
class NotifiableDisease:
    code: str
    match: str  # exact | prefix
    name: dict[str, str]
    immediate: bool
    sources: tuple[str, ...]

    def covers(self, code: str) -> bool:
        if self.match == "exact":
            return code == self.code
        return code == self.code or code.startswith(self.code + ".")


@dataclass(frozen=True, slots=True)
class NotifiableList:
    diseases: tuple[NotifiableDisease, ...]
    path: Path

    def find(self, code: str | None) -> NotifiableDisease | None:
        """The entry for a confirmed code; the most specific one when several cover it (A97.2 over A97)."""
        if not code:
            return None
        matches = [d for d in self.diseases if d.covers(code)]
        return max(matches, key=lambda d: (d.match == "exact", len(d.code))) if matches else None

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.find(code) is not None


def load(path: Path | None = None, data_dir: Path | None = None) -> NotifiableList:
    """The list at `path`; else the clinic's own copy in `data_dir`; else the shipped default."""
    if path is None and data_dir is not None and (Path(data_dir) / CLINIC_LIST_NAME).is_file():
        path = Path(data_dir) / CLINIC_LIST_NAME
    path = path or DEFAULT_LIST
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InteropError("unreadable_file", path=str(path), detail=exc.strerror or str(exc)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InteropError("invalid_notifiable_list", path=str(path), detail=str(exc)) from exc
    diseases = []
    for i, entry in enumerate(data.get("disease") or []):
        try:
            match = entry.get("match", "exact")
            if match not in ("exact", "prefix"):
                raise ValueError(f"match must be exact or prefix, not {match!r}")
            sources = tuple(str(s) for s in entry["sources"])
            if not sources:
                raise ValueError("every disease needs at least one source")
            name = {"es": str(entry["name"]["es"]), "en": str(entry["name"]["en"])}
            diseases.append(NotifiableDisease(str(entry["code"]).upper(), match, name,
                                              bool(entry.get("immediate", False)), sources))
        except (KeyError, TypeError, ValueError) as exc:
            raise InteropError("invalid_notifiable_list", path=str(path),
                               detail=f"disease {i + 1}: {exc}") from exc
    return NotifiableList(tuple(diseases), Path(path))


def parse_week(text: str) -> tuple[dt.date, dt.date]:
    """"2026-W48" -> (Monday, next Monday): ISO 8601 weeks, the weeks of epidemiological reporting."""
    m = _WEEK.match(text.strip())
    if not m:
        raise InteropError("invalid_date", field="--week", value=text)
    try:
        monday = dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError as exc:
        raise InteropError("invalid_date", field="--week", value=text) from exc
    return monday, monday + dt.timedelta(days=7)


def week_of(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class NotifiedCase:
    encounter_id: str
    patient_id: str
    confirmed_utc: dt.datetime
    code: str
    disease: NotifiableDisease
    patient_name: str
    document: str
    sex: str
    age_years: float | None
    village: str


def cases(encounters: Iterable[EncounterRecord], patients: dict[str, PatientRecord],
          diseases: NotifiableList) -> list[NotifiedCase]:
    out = []
    for e in encounters:
        disease = diseases.find(e.final_code)
        if disease is None or e.closed_at is None:
            continue
        p = patients[e.patient_id]
        out.append(NotifiedCase(
            encounter_id=e.id, patient_id=p.id, confirmed_utc=e.closed_at, code=str(e.final_code), disease=disease,
            patient_name=f"{p.given_names} {p.family_names}",
            document=f"{p.document_type} {p.document_number}" if p.document_number else p.document_type,
            sex=p.sex, age_years=(e.request or {}).get("age"), village=p.village or ""))
    return out


def weekly_report(clinic: ClinicRecord, week: str, found: list[NotifiedCase], diseases: NotifiableList
                  ) -> dict[str, Any]:
    """The week's report as JSON: each case (with the patient, for the surveillance officer) and the counts."""
    counts: dict[str, int] = {}
    for c in found:
        counts[c.disease.code] = counts.get(c.disease.code, 0) + 1
    return {
        "report": "notifiable_diseases_weekly",
        "clinic": {"id": clinic.id, "name": clinic.name, "municipality": clinic.municipality},
        "week": week,
        "list": str(diseases.path),
        "cases": [{
            "encounter_id": c.encounter_id, "confirmed_utc": c.confirmed_utc.isoformat(), "code": c.code,
            "disease": c.disease.name, "disease_code": c.disease.code, "immediate": c.disease.immediate,
            "patient": c.patient_name, "document": c.document, "sex": c.sex, "age_years": c.age_years,
            "village": c.village} for c in found],
        "counts": [{"disease_code": code, "disease": next(d.name for d in diseases.diseases if d.code == code),
                    "cases": n} for code, n in sorted(counts.items())],
        "total": len(found),
    }


TEXT = {
    "title": {"es": "Notificación semanal de eventos de interés en salud pública",
              "en": "Weekly notification of diseases under public-health surveillance"},
    "clinic": {"es": "Institución: {name} ({municipality})", "en": "Facility: {name} ({municipality})"},
    "week": {"es": "Semana epidemiológica {week}: del {start} al {end}",
             "en": "Epidemiological week {week}: {start} to {end}"},
    "none": {"es": "Sin casos confirmados de enfermedades de notificación obligatoria esta semana (notificación "
                   "negativa).",
             "en": "No confirmed cases of notifiable diseases this week (zero report)."},
    "counts": {"es": "Resumen", "en": "Summary"},
    "cases": {"es": "Casos", "en": "Cases"},
    "immediate": {"es": "NOTIFICACIÓN INMEDIATA", "en": "IMMEDIATE NOTIFICATION"},
    "case": {"es": "{when}  {code} {disease}  -  {patient}, {document}, {sex}, {age} años, {village}",
             "en": "{when}  {code} {disease}  -  {patient}, {document}, {sex}, {age} years, {village}"},
    "sources": {"es": "Fuentes de la lista ({path}):", "en": "Sources of the list ({path}):"},
}


def report_lines(report: dict[str, Any], diseases: NotifiableList, lang: str = "es") -> list[Any]:
    from app.interop.pdf import Line

    monday, sunday_next = parse_week(report["week"])
    lines = [Line(TEXT["title"][lang], "title"),
             Line(TEXT["clinic"][lang].format(**report["clinic"])),
             Line(TEXT["week"][lang].format(week=report["week"], start=monday.isoformat(),
                                            end=(sunday_next - dt.timedelta(days=1)).isoformat())),
             Line("")]
    if not report["cases"]:
        lines.append(Line(TEXT["none"][lang]))
    else:
        lines.append(Line(TEXT["counts"][lang], "heading"))
        lines += [Line(f"{c['disease_code']}  {c['disease'][lang]}: {c['cases']}") for c in report["counts"]]
        lines.append(Line(TEXT["cases"][lang], "heading"))
        for c in report["cases"]:
            age = "" if c["age_years"] is None else f"{float(c['age_years']):.0f}"
            text = TEXT["case"][lang].format(when=c["confirmed_utc"][:10], code=c["code"], disease=c["disease"][lang],
                                             patient=c["patient"], document=c["document"], sex=c["sex"], age=age,
                                             village=c["village"] or "-")
            lines.append(Line(("* " + TEXT["immediate"][lang] + ": " if c["immediate"] else "") + text))
    used = {c["disease_code"] for c in report["cases"]}
    if used:
        lines += [Line(""), Line(TEXT["sources"][lang].format(path=diseases.path.name), "heading")]
        for d in diseases.diseases:
            if d.code in used:
                lines.append(Line(f"{d.code} {d.name[lang]}: " + "; ".join(d.sources)))
    return lines


def write_report_pdf(report: dict[str, Any], diseases: NotifiableList, target: Path, lang: str = "es") -> Path:
    from app.interop.pdf import write_pdf

    return write_pdf(report_lines(report, diseases, lang), target, title=f"{report['clinic']['name']} "
                     f"{report['week']}")


def closing_message(code: str, diseases: NotifiableList, lang: str = "es") -> str | None:
    """What the app says when a doctor confirms `code`: None unless it is notifiable."""
    disease = diseases.find(code)
    if disease is None:
        return None
    if lang == "en":
        when = "at once (within 24 hours) and in" if disease.immediate else "in"
        return (f"{disease.name['en']} is a notifiable disease: report it {when} this week's notification "
                f"report ({'; '.join(disease.sources)}).")
    when = "de inmediato (en menos de 24 horas) y en" if disease.immediate else "en"
    return (f"{disease.name['es']} es de notificación obligatoria: notifíquela {when} el informe semanal de "
            f"notificación ({'; '.join(disease.sources)}).")


def closing_notice(code: str, data_dir: Path | None, lang: str = "es") -> str | None:
    """The app's words at closing: the clinic's list (or the shipped one); a broken clinic list is logged and the
    shipped one used, so a typo in a district's file never stops a doctor closing a consultation."""
    import logging

    try:
        diseases = load(data_dir=data_dir)
    except InteropError as exc:
        logging.getLogger(__name__).warning("notifiable list: %s; using the shipped one", exc)
        diseases = load()
    return closing_message(code, diseases, lang)
