"""The patient register and the encounters of a period as spreadsheets for IT staff and the clinic: xlsx (openpyxl)
and CSV with the same columns in the same order.

Dates are dates: xlsx cells hold real dates and date-times (with a number format, so a spreadsheet sorts and filters
them), CSV writes ISO 8601. Times are UTC (the column names say so): a spreadsheet cell has no time zone.

The de-identified variant drops everything that names a person or pins them down: names, document type and number,
birth date (replaced by age in whole years, 90 and over written as 90, as HIPAA's Safe Harbor asks), village, phone,
free-text notes, and the store's own ids (replaced by pseudonyms keyed with a random salt made for that one file, so
rows of the same patient still link inside the file but two exports cannot be joined). Encounter times are cut to
the day.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from app.core.files import write_atomic
from app.core.vocabulary import Vocabulary
from app.store.records import EncounterRecord, PatientRecord

Value = str | int | float | bool | dt.date | dt.datetime | None


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    value: Callable[[Any], Value]
    identifying: bool = False  # left out of the de-identified variant
    width: int = 14


@overload
def _utc_naive(value: dt.datetime) -> dt.datetime: ...


@overload
def _utc_naive(value: None) -> None: ...


def _utc_naive(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    value = value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def age_years(birth: dt.date | None, on: dt.date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


class Pseudonyms:
    """Keyed pseudonyms for one file: the same id gives the same pseudonym within it, another file another one."""

    def __init__(self, salt: bytes | None = None) -> None:
        self._salt = salt or secrets.token_bytes(16)

    def __call__(self, kind: str, value: str) -> str:
        return kind[0].upper() + hashlib.blake2b(value.encode(), key=self._salt, digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class EncounterRow:
    """What one encounter row is made of: the encounter, its patient, and the words for its codes."""

    encounter: EncounterRecord
    patient: PatientRecord
    final_name: str
    notifiable: bool


PATIENT_COLUMNS: tuple[Column, ...] = (
    Column("patient_id", lambda p: p.id, identifying=True, width=34),
    Column("given_names", lambda p: p.given_names, identifying=True, width=22),
    Column("family_names", lambda p: p.family_names, identifying=True, width=22),
    Column("document_type", lambda p: p.document_type, identifying=True, width=8),
    Column("document_number", lambda p: p.document_number, identifying=True, width=16),
    Column("birth_date", lambda p: p.birth_date, identifying=True, width=12),
    Column("sex", lambda p: p.sex, width=5),
    Column("village", lambda p: p.village, identifying=True, width=22),
    Column("phone", lambda p: p.phone, identifying=True, width=14),
    Column("registered_utc", lambda p: _utc_naive(p.created_at), identifying=True, width=20),
)

ENCOUNTER_COLUMNS: tuple[Column, ...] = (
    Column("encounter_id", lambda r: r.encounter.id, identifying=True, width=34),
    Column("patient_id", lambda r: r.patient.id, identifying=True, width=34),
    Column("given_names", lambda r: r.patient.given_names, identifying=True, width=22),
    Column("family_names", lambda r: r.patient.family_names, identifying=True, width=22),
    Column("document_number", lambda r: r.patient.document_number, identifying=True, width=16),
    Column("started_utc", lambda r: _utc_naive(r.encounter.started_at), identifying=True, width=20),
    Column("closed_utc", lambda r: _utc_naive(r.encounter.closed_at), identifying=True, width=20),
    Column("sex", lambda r: r.patient.sex, width=5),
    Column("age_years", lambda r: (r.encounter.request or {}).get("age"), width=8),
    Column("severity", lambda r: r.encounter.severity, width=20),
    Column("requires_attention", lambda r: r.encounter.requires_attention, width=10),
    Column("triage", lambda r: ((r.encounter.response or {}).get("triage") or {}).get("level"), width=14),
    Column("model_top_code", lambda r: _top(r)[0], width=10),
    Column("model_top_probability", lambda r: _top(r)[1], width=10),
    Column("rare_disease_alert", lambda r: bool((r.encounter.response or {}).get("rare_disease_alert")), width=10),
    Column("final_code", lambda r: r.encounter.final_code, width=10),
    Column("final_code_system", lambda r: r.encounter.final_code_system, width=8),
    Column("final_name", lambda r: r.final_name, width=30),
    Column("notifiable", lambda r: r.notifiable, width=10),
    Column("model_version", lambda r: r.encounter.model_version, width=12),
    Column("notes", lambda r: r.encounter.notes, identifying=True, width=30),
)


def _top(row: EncounterRow) -> tuple[str | None, float | None]:
    top = (row.encounter.response or {}).get("top_conditions") or []
    return (top[0]["code"], round(float(top[0]["probability"]), 4)) if top else (None, None)


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    columns: tuple[Column, ...]  # as written (the de-identified variant's already applied)
    rows: list[list[Value]]


def patient_table(patients: Iterable[PatientRecord], *, deidentified: bool = False,
                  pseudonyms: Pseudonyms | None = None, today: dt.date | None = None) -> Table:
    columns = _columns(PATIENT_COLUMNS, deidentified, ("patient_pseudonym", "age_years"))
    pseudonyms = pseudonyms or Pseudonyms()
    today = today or dt.date.today()
    rows = []
    for p in patients:
        if deidentified:
            rows.append([pseudonyms("patient", p.id), _cap_age(age_years(p.birth_date, today)),
                         *(c.value(p) for c in columns[2:])])
        else:
            rows.append([c.value(p) for c in columns])
    return Table("pacientes", columns, rows)


def encounter_table(rows_in: Iterable[EncounterRow], *, deidentified: bool = False,
                    pseudonyms: Pseudonyms | None = None) -> Table:
    columns = _columns(ENCOUNTER_COLUMNS, deidentified, ("encounter_pseudonym", "patient_pseudonym", "date"))
    pseudonyms = pseudonyms or Pseudonyms()
    rows = []
    for r in rows_in:
        if deidentified:
            closed = r.encounter.closed_at or r.encounter.started_at
            age = (r.encounter.request or {}).get("age")
            values = [c.value(r) for c in columns[3:]]
            if age is not None:
                values[[c.name for c in columns[3:]].index("age_years")] = _cap_age(int(age))
            rows.append([pseudonyms("encounter", r.encounter.id), pseudonyms("patient", r.patient.id),
                         _utc_naive(closed).date() if closed else None, *values])
        else:
            rows.append([c.value(r) for c in columns])
    return Table("consultas", columns, rows)


def _cap_age(age: int | None) -> int | None:
    return None if age is None else min(int(age), 90)


def _columns(all_columns: tuple[Column, ...], deidentified: bool, replacements: Sequence[str]) -> tuple[Column, ...]:
    """All columns, or for the de-identified variant the replacement columns first, then the non-identifying ones."""
    if not deidentified:
        return all_columns
    return tuple(Column(name, lambda _: None, width=12) for name in replacements) + \
        tuple(c for c in all_columns if not c.identifying)


def column_names(table: Table) -> list[str]:
    return [c.name for c in table.columns]


# ---------------------------------------------------------------------------------------------------- writers
def _csv_cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(table: Table, target: Path) -> Path:
    """UTF-8 with a byte-order mark (so a spreadsheet opens accents right), comma-separated, one header row."""
    text = io.StringIO(newline="")
    out = csv.writer(text)
    out.writerow(column_names(table))
    out.writerows([_csv_cell(v) for v in row] for row in table.rows)
    write_atomic(target, text.getvalue().encode("utf-8-sig"))  # owner-only, never half a file
    return target


def write_xlsx(tables: Sequence[Table], target: Path) -> Path:
    """One sheet per table; write-only mode, so 10,000 rows stay a few megabytes of memory."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.title)
        for i, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = column.width
        sheet.freeze_panes = "A2"
        header = []
        for name in column_names(table):
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            cells: list[Any] = []
            for value in row:
                if isinstance(value, dt.datetime):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                    cells.append(cell)
                elif isinstance(value, dt.date):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = "yyyy-mm-dd"
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
    data = io.BytesIO()
    book.save(data)
    write_atomic(target, data.getvalue())  # owner-only, never half a file
    return target


def encounter_rows(encounters: Iterable[EncounterRecord], patients: dict[str, PatientRecord],
                   vocabulary: Vocabulary | None, lang: str = "es",
                   notifiable: Callable[[str], bool] | None = None) -> list[EncounterRow]:
    """Pair each encounter with its patient and the words for its confirmed diagnosis."""
    out = []
    for e in encounters:
        name = ""
        code = e.final_code or ""
        if e.final_code_system == "ORPHA":
            name = next((str(r.get("name")) for r in (e.response or {}).get("rare_diseases") or []
                         if r.get("orpha_code") == code), "")
        elif vocabulary is not None and code:
            try:
                name = vocabulary.condition(code).name[lang]
            except KeyError:
                name = ""
        out.append(EncounterRow(e, patients[e.patient_id], name, bool(notifiable and code and notifiable(code))))
    return out
