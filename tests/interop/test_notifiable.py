"""Notifiable diseases: the shipped list (each entry sourced, each code one Vereda can confirm), the message at
closing, and the weekly report written by `vereda export notifications` as JSON and as a PDF."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.interop import notifiable
from app.interop.messages import InteropError
from tests.interop.conftest import ROOT, DemoClinic

KNOWN = {c["code"] for c in json.loads((ROOT / "assets/models/knowledge.json").read_text())["conditions"]}


def test_the_shipped_list_is_sourced_and_about_conditions_vereda_knows():
    diseases = notifiable.load()
    assert len(diseases.diseases) >= 15
    for d in diseases.diseases:
        assert d.sources and d.name["es"] and d.name["en"]
        assert any(d.covers(code) for code in KNOWN), d.code
    for code in ("A97", "A97.1", "A97.2", "B54", "B50.9", "A15", "B05", "B55.1", "B57", "A92.0"):
        assert code in diseases, code
    for code in ("J06.9", "A09", "I10", "Z00.0", "A970"):
        assert code not in diseases, code
    assert diseases.find("A97.2").immediate and not diseases.find("A97.1").immediate
    assert diseases.find("A97.1").code == "A97"
    assert "notificación obligatoria" in notifiable.closing_message("B05", diseases, "es")
    assert "immediately" not in notifiable.closing_message("A15", diseases, "en")
    assert notifiable.closing_message("J06.9", diseases) is None


def test_a_broken_list_is_a_message(tmp_path: Path):
    (tmp_path / "l.toml").write_text('[[disease]]\ncode = "A97"\nname = { es = "x", en = "x" }\nsources = []\n')
    with pytest.raises(InteropError) as err:
        notifiable.load(tmp_path / "l.toml")
    assert err.value.code == "invalid_notifiable_list" and "source" in err.value.message("en")


def test_weeks_are_iso_weeks():
    assert notifiable.parse_week("2026-W48") == (dt.date(2026, 11, 23), dt.date(2026, 11, 30))
    assert notifiable.week_of(dt.date(2027, 1, 1)) == "2026-W53"
    with pytest.raises(InteropError):
        notifiable.parse_week("2026-48")


def test_the_weekly_report_lists_the_weeks_notifiable_cases(demo_clinic: DemoClinic, tmp_path: Path):
    week = notifiable.week_of(dt.datetime.now(dt.UTC).date())  # the demo clinic's encounters are all from today
    summary = demo_clinic.export_ok("notifications", "--week", week, "--output", str(tmp_path / "n.json"))
    report = json.loads((tmp_path / "n.json").read_text(encoding="utf-8"))
    # Independently: the encounters export's codes against the list.
    demo_clinic.export_ok("csv", "--table", "encounters", "--output", str(tmp_path / "e.csv"))
    with (tmp_path / "e.csv").open(encoding="utf-8-sig", newline="") as f:
        expected = [r for r in csv.DictReader(f) if r["final_code"] in notifiable.load()]
    assert expected and summary["cases"] == report["total"] == len(expected)
    assert sorted(c["encounter_id"] for c in report["cases"]) == sorted(r["encounter_id"] for r in expected)
    assert sum(c["cases"] for c in report["counts"]) == len(expected)
    assert all(r["notifiable"] == "true" for r in expected)
    demo_clinic.export_ok("notifications", "--week", week, "--output", str(tmp_path / "n.pdf"))
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(tmp_path / "n.pdf").pages).split())
    assert "Notificación semanal" in text and week in text
    assert report["cases"][0]["patient"].split()[0] in text
    # Another week: a zero report, still printable.
    demo_clinic.export_ok("notifications", "--week", "2020-W01", "--output", str(tmp_path / "z.pdf"))
    assert "notificación negativa" in " ".join(PdfReader(tmp_path / "z.pdf").pages[0].extract_text().split())


def test_the_clinics_own_list_wins(demo_clinic: DemoClinic, tmp_path: Path):
    own = tmp_path / "solo_eda.toml"
    own.write_text('[[disease]]\ncode = "A09"\nname = { es = "EDA", en = "Diarrhoea" }\n'
                   'sources = ["Prueba"]\n', encoding="utf-8")
    week = notifiable.week_of(dt.datetime.now(dt.UTC).date())
    summary = demo_clinic.export_ok("notifications", "--week", week, "--notifiable", str(own), "--output",
                                    str(tmp_path / "n.json"))
    report = json.loads((tmp_path / "n.json").read_text(encoding="utf-8"))
    assert summary["cases"] > 0 and {c["code"] for c in report["cases"]} == {"A09"}
