"""`vereda export xlsx|csv`: the documented columns in both formats, dates as dates, and a de-identified variant
that carries no name, document number or birth date anywhere in the file's bytes."""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.interop.spreadsheets import ENCOUNTER_COLUMNS, PATIENT_COLUMNS
from tests.interop.conftest import DemoClinic

PATIENTS = ["patient_id", "given_names", "family_names", "document_type", "document_number", "birth_date", "sex",
            "village", "phone", "registered_utc"]
ENCOUNTERS = ["encounter_id", "patient_id", "given_names", "family_names", "document_number", "started_utc",
              "closed_utc", "sex", "age_years", "severity", "requires_attention", "triage", "model_top_code",
              "model_top_probability", "rare_disease_alert", "final_code", "final_code_system", "final_name",
              "notifiable", "model_version", "notes"]


def sheet_rows(path: Path, title: str) -> list[tuple]:
    book = load_workbook(path)
    return list(book[title].iter_rows(values_only=True))


@pytest.fixture(scope="module")
def exports(demo_clinic: DemoClinic, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sheets")
    files = {"xlsx": folder / "clinica.xlsx", "deid": folder / "anonima.xlsx", "patients": folder / "pacientes.csv",
             "encounters": folder / "consultas.csv", "deid_csv": folder / "consultas_anonimas.csv"}
    demo_clinic.export_ok("xlsx", "--output", str(files["xlsx"]))
    demo_clinic.export_ok("xlsx", "--output", str(files["deid"]), "--deidentified")
    demo_clinic.export_ok("csv", "--table", "patients", "--output", str(files["patients"]))
    demo_clinic.export_ok("csv", "--table", "encounters", "--output", str(files["encounters"]))
    demo_clinic.export_ok("csv", "--table", "encounters", "--output", str(files["deid_csv"]), "--deidentified")
    return files


def test_the_documented_columns_in_xlsx_and_csv(exports: dict[str, Path], demo_clinic: DemoClinic):
    assert [c.name for c in PATIENT_COLUMNS] == PATIENTS and [c.name for c in ENCOUNTER_COLUMNS] == ENCOUNTERS
    patients, encounters = sheet_rows(exports["xlsx"], "pacientes"), sheet_rows(exports["xlsx"], "consultas")
    assert list(patients[0]) == PATIENTS and list(encounters[0]) == ENCOUNTERS
    assert len(patients) == 101 and len(encounters) == demo_clinic.encounters + 1
    with exports["patients"].open(encoding="utf-8-sig", newline="") as f:
        csv_patients = list(csv.reader(f))
    with exports["encounters"].open(encoding="utf-8-sig", newline="") as f:
        csv_encounters = list(csv.reader(f))
    assert csv_patients[0] == PATIENTS and csv_encounters[0] == ENCOUNTERS
    # Same rows, same order: the CSV is the sheet written as text.
    assert [r[0] for r in csv_encounters[1:]] == [r[0] for r in encounters[1:]]
    assert [r[4] for r in csv_patients[1:]] == [r[4] for r in patients[1:]]


def test_dates_are_dates(exports: dict[str, Path]):
    book = load_workbook(exports["xlsx"])
    patient = next(book["pacientes"].iter_rows(min_row=2, max_row=2))
    birth = patient[PATIENTS.index("birth_date")]
    assert birth.is_date and isinstance(birth.value, dt.datetime) and birth.number_format == "yyyy-mm-dd"
    encounter = next(book["consultas"].iter_rows(min_row=2, max_row=2))
    closed = encounter[ENCOUNTERS.index("closed_utc")]
    assert closed.is_date and closed.value.year >= 2026
    assert isinstance(encounter[ENCOUNTERS.index("requires_attention")].value, bool)
    with exports["patients"].open(encoding="utf-8-sig", newline="") as f:
        row = next(iter(csv.DictReader(f)))
    assert dt.date.fromisoformat(row["birth_date"]) == birth.value.date()


def file_text(path: Path) -> str:
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:  # every part of the workbook, not just what a sheet shows
            return "\n".join(z.read(n).decode("utf-8", errors="replace") for n in z.namelist())
    return path.read_bytes().decode("utf-8-sig")


def excel_serial(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


def test_the_deidentified_variant_has_no_name_document_or_birth_date(exports: dict[str, Path]):
    people = sheet_rows(exports["xlsx"], "pacientes")[1:]
    assert len(people) == 100
    for key in ("deid", "deid_csv"):
        text = file_text(exports[key])
        for row in people:
            given, family, number, birth = row[1], row[2], row[4], row[5].date()
            for word in [*given.split(), *family.split()]:
                assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text), (key, word)
            assert number not in text, (key, number)
            for form in (birth.isoformat(), birth.strftime("%d/%m/%Y"), birth.strftime("%Y%m%d")):
                assert form not in text, (key, form)
            assert not re.search(rf"<v>{excel_serial(birth)}(\.0+)?</v>", text), (key, "serial", birth)
    # ... while the identified file does carry them (the check above can find what it looks for).
    identified = file_text(exports["xlsx"])
    assert people[0][4] in identified and people[0][2].split()[0] in identified
    deid = sheet_rows(exports["deid"], "consultas")
    assert deid[0][:3] == ("encounter_pseudonym", "patient_pseudonym", "date")
    assert "given_names" not in deid[0] and "notes" not in deid[0]
    assert isinstance(deid[1][2], dt.datetime)  # the day of the encounter, still a date
    # Pseudonyms link a patient's rows inside the file.
    patients = {r[0] for r in sheet_rows(exports["deid"], "pacientes")[1:]}
    assert {r[1] for r in deid[1:]} <= patients


def test_exports_are_readable_by_their_owner_only(exports: dict[str, Path]):
    """The register names patients: another account on a shared laptop must not read it (like backups, 0600)."""
    for path in exports.values():
        assert oct(path.stat().st_mode & 0o777) == oct(0o600), path.name
