"""The referral letter's pages (issue 13): for an ordinary visit the doctor's name, registration number and signature
line are on page 1; long notes flow onto page 2 and the signature block follows them, whole, on one page. Read back
from the PDF the app writes (pypdf), and from a letter printed through a QPrinter as the print dialog hands it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pypdf
import pytest

pytest.importorskip("pytestqt")

from app.ui.qt import QPrinter
from app.ui.referral import ReferralLetter, print_letter, write_pdf
from app.ui.vital_fields import vital_fields

# The screenshot's child: four findings, two examination signs, six vitals, three triage reasons.
TYPICAL = {
    "age": 2.25, "sex": "M", "duration_days": 2, "consciousness": "A",
    "symptoms": {"fiebre": 7, "tos": 5, "diarrea": 4, "dolor_abdominal": 4},
    "signs": ["unable_to_drink_or_breastfeed", "sunken_eyes"],
    "vitals": {"temperature_c": 38.5, "heart_rate": 150, "respiratory_rate": 44, "weight_kg": 11.2, "muac_mm": 128,
               "capillary_refill_s": 2},
}
NOTES = ("No tolera la vía oral; sales de rehidratación rechazadas tres veces. Madre refiere seis deposiciones "
         "líquidas en 24 h, sin sangre. Se inicia hidratación y se remite para hidratación intravenosa y "
         "vigilancia; acompaña la madre con el carné de vacunas.")


def letter(engine, notes: str, lang_doctor: str = "Dra. Ana Pérez") -> ReferralLetter:
    return ReferralLetter(
        clinic="Puesto de salud La Esperanza", clinic_place="San Vicente del Caguán, Caquetá",
        patient_name="Mateo Ríos Cárdenas", patient_document="RC 1234567", patient_age=TYPICAL["age"],
        patient_sex="M", doctor=lang_doctor, when=dt.datetime(2026, 11, 30, 13, 20), request=TYPICAL,
        response=engine.diagnose(TYPICAL), final_diagnosis="Deshidratación grave (E86)", notes=notes,
        symptom_labels={s.key: s.label for s in engine.vocabulary.symptoms}, vitals=vital_fields(engine.vocabulary),
        patient_birth=dt.date(2024, 9, 1), patient_village="El Recreo",
        receiving_facility="ESE Hospital María Inmaculada, Florencia", registration="RM 18-4455")


def pages(path: Path) -> list[str]:
    return [" ".join(p.extract_text().split()).replace(" :", ":") for p in pypdf.PdfReader(path).pages]


SIGNATURE_BLOCK = ("Médico: Dra. Ana Pérez", "Registro profesional: RM 18-4455", "_" * 38, "Firma y sello del médico")


def test_an_ordinary_visit_is_signed_on_page_one(qtbot, engine, tmp_path: Path) -> None:
    text = pages(write_pdf(letter(engine, NOTES), tmp_path / "carta.pdf", "es"))
    assert len(text) == 1, text
    for expected in (*SIGNATURE_BLOCK, "Notas: No tolera", "Temperatura 38.5 °C", "Triaje (OMS ETAT)"):
        assert expected in text[0], expected
    assert text[0].index("Notas:") < text[0].index("Registro profesional: RM 18-4455")


def test_a_printed_letter_is_signed_on_page_one_too(qtbot, engine, tmp_path: Path) -> None:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "impresa.pdf"))
    print_letter(letter(engine, NOTES), printer, "es")
    text = pages(tmp_path / "impresa.pdf")
    assert len(text) == 1 and all(part in text[0] for part in SIGNATURE_BLOCK), text


def test_long_notes_flow_to_later_pages_and_the_signature_follows_them_whole(qtbot, engine, tmp_path: Path) -> None:
    # From notes that still fit on page 1 to notes that fill two pages: at some of these lengths the signature
    # block would straddle the end of a page, and must then start the next one.
    moved = 0
    for lines in [*range(6, 26, 2), *range(70, 82, 2)]:
        notes = "\n".join(f"Evolución {i:02d}: control de signos y tolerancia oral sin cambios." for i in range(lines))
        text = pages(write_pdf(letter(engine, notes), tmp_path / f"larga-{lines}.pdf", "es"))
        signed = [i for i, page in enumerate(text) if any(part in page for part in SIGNATURE_BLOCK)]
        assert len(signed) == 1, f"{lines} lines: signature block split over pages {signed}"
        page = text[signed[0]]
        assert all(part in page for part in SIGNATURE_BLOCK), (lines, page)
        last_note = f"Evolución {lines - 1:02d}"
        where = next(i for i, p in enumerate(text) if last_note in p)
        assert where < signed[0] or page.index(last_note) < page.index("Médico:"), lines  # after the notes
        if len(text) > 1:
            assert all(p.endswith(f"{i + 1}/{len(text)}") for i, p in enumerate(text)), lines  # numbered pages
        moved += page.startswith("Médico:")  # the block started a page of its own rather than be split
    assert moved, "no length exercised the rule that keeps the signature block whole"
