"""The DHIS2 weekly aggregate report: confirmed diagnoses per clinic (organisation unit), ISO week, condition (data
element) and age/sex (category option combo), as a `dataValueSets` JSON payload and as ADX XML, and its push to a
DHIS2 instance's Web API (`POST /api/dataValueSets`) with a personal access token.

Re-sending a week replaces it, never doubles it: the payload holds every cell of the week for every mapped clinic
(zeros included), and the import uses `importStrategy=CREATE_AND_UPDATE`, so DHIS2 overwrites each value (data
element, period, org unit, category option combo, attribute option combo) with the same or newer count. The
mapping to the instance's identifiers is data (data/dhis2.toml), edited by the ministry.

Reads the central service's feedback records only (de-identified, doctor-confirmed outcomes); no app.store,
app.sync or app.ui here. A DHIS2 client library was considered; the Web API call is one POST, so this uses
requests, which the service already has.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

DEFAULT_MAPPING = Path(__file__).resolve().parent / "data" / "dhis2.toml"
ADX_NAMESPACE = "urn:ihe:qrph:adx:2015"
IMPORT_STRATEGY = "CREATE_AND_UPDATE"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class ReportError(ValueError):
    """The operator can fix it: a bad week, mapping, URL or token (the CLI exits 2)."""


class PushError(RuntimeError):
    """DHIS2 refused the import or could not be reached (the CLI exits 1)."""


@dataclass(frozen=True, slots=True)
class AgeBand:
    option: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class DataElementRule:
    code: str
    match: str
    id: str

    def covers(self, code: str) -> bool:
        return code == self.code or (self.match == "prefix" and code.startswith(self.code + "."))


@dataclass(frozen=True)
class Mapping:
    data_set: str
    id_scheme: str
    attribute_option_combo: str
    org_units: dict[str, str]
    age_category: str
    sex_category: str
    sex_options: dict[str, str]
    age_bands: tuple[AgeBand, ...]
    category_option_combos: dict[str, str]
    data_elements: tuple[DataElementRule, ...]
    path: Path = field(default=DEFAULT_MAPPING)

    def data_element(self, code: str) -> str | None:
        matches = [r for r in self.data_elements if r.covers(code)]
        return max(matches, key=lambda r: (r.code == code, len(r.code))).id if matches else None

    def band(self, age: Any) -> AgeBand | None:
        """The band of a de-identified age: years (a number) or a band "LOW-HIGH"/"LOW+" (by its lower end)."""
        if isinstance(age, str):
            numbers = re.findall(r"\d+(?:\.\d+)?", age)
            if not numbers:
                return None
            age = float(numbers[0])
        if not isinstance(age, int | float):
            return None
        return next((b for b in self.age_bands if b.low <= age < b.high + 1), None)

    def combo(self, band: AgeBand, sex: str) -> str | None:
        return self.category_option_combos.get(f"{band.option}|{sex}")


def load_mapping(path: Path | None = None) -> Mapping:
    path = Path(path) if path is not None else DEFAULT_MAPPING
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read the DHIS2 mapping {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"the DHIS2 mapping {path} is not valid TOML: {exc}") from exc
    try:
        d2, adx = data["dhis2"], data["adx"]
        mapping = Mapping(
            data_set=str(d2["data_set"]), id_scheme=str(d2.get("id_scheme", "UID")).upper(),
            attribute_option_combo=str(d2.get("attribute_option_combo", "")),
            org_units={str(k): str(v) for k, v in (data.get("org_units") or {}).items()},
            age_category=str(adx["age_category"]), sex_category=str(adx["sex_category"]),
            sex_options={str(k): str(v) for k, v in adx["sex_options"].items()},
            age_bands=tuple(AgeBand(str(b["option"]), float(b["low"]), float(b["high"])) for b in data["age_band"]),
            category_option_combos={str(k): str(v) for k, v in data["category_option_combos"].items()},
            data_elements=tuple(DataElementRule(str(e["code"]).upper(), str(e.get("match", "exact")), str(e["id"]))
                                for e in data["data_element"]),
            path=path)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"the DHIS2 mapping {path} lacks or garbles {exc}") from exc
    if mapping.id_scheme not in ("UID", "CODE"):
        raise ReportError(f"the DHIS2 mapping {path}: id_scheme must be UID or CODE")
    missing = [f"{b.option}|{s}" for b in mapping.age_bands for s in mapping.sex_options
               if f"{b.option}|{s}" not in mapping.category_option_combos]
    if missing:
        raise ReportError(f"the DHIS2 mapping {path} has no category option combo for {', '.join(missing)}")
    return mapping


def parse_week(text: str) -> tuple[str, dt.date]:
    """"2026-W48" -> ("2026W48", its Monday): DHIS2's weekly period and ADX's start date."""
    m = _WEEK.match(text.strip())
    if not m:
        raise ReportError(f"--week {text!r}: an ISO week such as 2026-W48")
    try:
        monday = dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ReportError(f"--week {text!r} is not a week of that year") from None
    return f"{m.group(1)}W{m.group(2)}", monday


@dataclass(frozen=True, slots=True)
class Confirmed:
    """One doctor-confirmed outcome as the report needs it (from a feedback record)."""

    clinic: str  # public id
    code: str
    age: Any
    sex: str


@dataclass
class WeeklyReport:
    week: str
    period: str
    monday: dt.date
    mapping: Mapping
    cells: dict[tuple[str, str, str], int]  # (org unit, data element, category option combo) -> count
    records: int = 0
    reported: int = 0
    unmapped_codes: Counter[str] = field(default_factory=Counter)
    unmapped_clinics: Counter[str] = field(default_factory=Counter)
    no_age_or_sex: int = 0

    def data_value_set(self) -> dict[str, Any]:
        """DHIS2's dataValueSets JSON: one data value per cell, zeros included (a re-sent week replaces)."""
        values = []
        for (org_unit, element, combo), count in sorted(self.cells.items()):
            value: dict[str, Any] = {"dataElement": element, "period": self.period, "orgUnit": org_unit,
                                     "categoryOptionCombo": combo, "value": str(count)}
            if self.mapping.attribute_option_combo:
                value["attributeOptionCombo"] = self.mapping.attribute_option_combo
            values.append(value)
        return {"dataSet": self.mapping.data_set, "period": self.period, "dataValues": values}

    def adx(self, exported: dt.datetime | None = None) -> str:
        """The same counts as ADX (IHE QRPH): a group per org unit, period as start/duration, the age and sex
        category options as attributes of each value."""
        exported = exported or dt.datetime.now(dt.UTC)
        ET.register_namespace("", ADX_NAMESPACE)
        root = ET.Element(f"{{{ADX_NAMESPACE}}}adx", exported=exported.strftime("%Y-%m-%dT%H:%M:%SZ"))
        by_combo = {combo: key for key, combo in self.mapping.category_option_combos.items()}
        sex_by_key = self.mapping.sex_options
        for org_unit in sorted({ou for ou, _, _ in self.cells}):
            attrs = {"orgUnit": org_unit, "period": f"{self.monday.isoformat()}/P7D",
                     "dataSet": self.mapping.data_set}
            if self.mapping.attribute_option_combo:
                attrs["attributeOptionCombo"] = self.mapping.attribute_option_combo
            group = ET.SubElement(root, f"{{{ADX_NAMESPACE}}}group", attrs)
            for (ou, element, combo), count in sorted(self.cells.items()):
                if ou != org_unit:
                    continue
                band, sex = by_combo[combo].split("|")
                ET.SubElement(group, f"{{{ADX_NAMESPACE}}}dataValue",
                              {"dataElement": element, self.mapping.age_category: band,
                               self.mapping.sex_category: sex_by_key[sex], "value": str(count)})
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

    def summary(self) -> dict[str, Any]:
        return {
            "week": self.week, "period": self.period, "data_set": self.mapping.data_set,
            "mapping": str(self.mapping.path), "records": self.records, "reported": self.reported,
            "data_values": len(self.cells), "org_units": sorted({ou for ou, _, _ in self.cells}),
            "unmapped_codes": dict(sorted(self.unmapped_codes.items())),
            "unmapped_clinics": dict(sorted(self.unmapped_clinics.items())),
            "no_age_or_sex": self.no_age_or_sex,
        }


def build_report(week: str, confirmed: list[Confirmed], mapping: Mapping) -> WeeklyReport:
    period, monday = parse_week(week)
    elements = sorted({r.id for r in mapping.data_elements})
    combos = sorted(set(mapping.category_option_combos.values()))
    # Every mapped clinic gets the whole grid: a week re-sent after a late sync overwrites every cell it sent before.
    cells = {(ou, de, coc): 0 for ou in sorted(set(mapping.org_units.values())) for de in elements for coc in combos}
    report = WeeklyReport(week, period, monday, mapping, cells, records=len(confirmed))
    for c in confirmed:
        org_unit = mapping.org_units.get(c.clinic)
        element = mapping.data_element(c.code)
        band = mapping.band(c.age)
        combo = mapping.combo(band, c.sex) if band is not None else None
        if org_unit is None:
            report.unmapped_clinics[c.clinic] += 1
        elif element is None:
            report.unmapped_codes[c.code] += 1
        elif combo is None:
            report.no_age_or_sex += 1
        else:
            cells[(org_unit, element, combo)] += 1
            report.reported += 1
    return report


def confirmed_in_week(session: Any, week: str) -> list[Confirmed]:
    """The week's doctor-confirmed outcomes from the service's feedback records (week is the ISO week of closing)."""
    from sqlalchemy import select

    from server.db.models import Clinic, FeedbackRecord

    parse_week(week)
    rows = session.execute(
        select(Clinic.public_id, FeedbackRecord.confirmed_diagnosis, FeedbackRecord.payload)
        .join(Clinic, Clinic.id == FeedbackRecord.clinic_id)
        .where(FeedbackRecord.week == week.strip())
        .order_by(FeedbackRecord.id))
    out = []
    for clinic, code, payload in rows:
        request = (payload or {}).get("request") or {}
        out.append(Confirmed(str(clinic), str(code).upper(), request.get("age"), str(request.get("sex", ""))))
    return out


def push(report: WeeklyReport, url: str, token: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """POST the week's dataValueSets to `url` (the instance's base URL) with a personal access token; returns the
    import summary's counts. The same week sent twice leaves DHIS2 as after the first."""
    import requests

    if not url.startswith(("https://", "http://")):
        raise ReportError(f"the DHIS2 URL {url!r} must start with https:// (or http:// for a local test instance)")
    params = {"importStrategy": IMPORT_STRATEGY, "idScheme": report.mapping.id_scheme, "dryRun": "false"}
    try:
        reply = requests.post(url.rstrip("/") + "/api/dataValueSets", params=params, json=report.data_value_set(),
                              headers={"Authorization": f"ApiToken {token}", "Accept": "application/json"},
                              timeout=timeout)
    except requests.RequestException as exc:
        raise PushError(f"cannot reach DHIS2 at {url}: {exc}") from exc
    if reply.status_code in (401, 403):
        raise ReportError(f"DHIS2 at {url} refused the token (HTTP {reply.status_code}): check the personal access "
                          "token and that its user may write this data set")
    try:
        body = reply.json()
    except ValueError:
        raise PushError(f"DHIS2 at {url} answered HTTP {reply.status_code} without JSON") from None
    # 2.38+ wraps the import summary in a WebMessage ("response"); older versions return it as it is.
    summary = body.get("response", body) if isinstance(body, dict) else {}
    status = str(summary.get("status", body.get("status", "")) if isinstance(body, dict) else "")
    counts = summary.get("importCount") or {}
    conflicts = summary.get("conflicts") or []
    problems = [str(c.get("value", c)) if isinstance(c, dict) else str(c) for c in conflicts][:20]
    result = {"http_status": reply.status_code, "status": status,
              "imported": int(counts.get("imported", 0)), "updated": int(counts.get("updated", 0)),
              "ignored": int(counts.get("ignored", 0)), "deleted": int(counts.get("deleted", 0)),
              "conflicts": problems}
    if reply.status_code >= 400 or status == "ERROR":
        raise PushError(f"DHIS2 refused the import (HTTP {reply.status_code}, {status}): "
                        f"{'; '.join(problems) or body.get('message', '')}")
    return result
