"""The referral letter: one encounter as a PDF or on paper, in the current language, laid out by Qt's text document.

The letter puts first what the receiving hospital acts on: the WHO ETAT triage level and its reasons, NEWS2 and
qSOFA when computed; then the findings, the vitals with their units, AVPU, pregnancy and the examination signs.
Safe to run on a worker thread (QTextDocument and QPdfWriter are reentrant and touch no widget; the catalogs are
only read). The letter is
written to a temporary file beside the target and moved into place, so a half-written PDF never reaches the
referral hospital. A hospital accepts a letter that says who sends whom, from where, to where, and who signs: the
clinic's name and place, the visit's date and time, the patient's identifiers, the receiving facility, the doctor's
name and professional registration number, and a line to sign on.

Pagination is the letter's own, not Qt's default (which adds 2 cm inside the printer's margins and pushed the
signature of an ordinary visit onto page 2): the document is laid out on the printer's or PDF's printable area, and
the signature block (doctor, registration number, the line to sign on, the footer) is kept on one page: when it
would straddle a page end it starts the next page, after however many lines of notes came before it. A letter of
more than one page numbers its pages ("1/2") in a strip below the text.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.age import format_age
from app.ui.clinical_text import avpu_text, pregnancy_text, sign_text, vital_text
from app.ui.i18n import tr, translator
from app.ui.qt import (
    QFont,
    QMarginsF,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPrinter,
    QRectF,
    QSizeF,
    Qt,
    QTextBlockFormat,
    QTextCursor,
    QTextDocument,
)
from app.ui.vital_fields import VitalField
from app.ui.widgets import format_number

FONT_POINTS = 10
PAGE_NUMBER_STRIP_MM = 6
SIGNATURE_LINE = "_" * 38
# Qt's default paragraph spacing (a blank line's worth above and below) spends a third of a page on a letter of
# short sections: half a line between sections keeps them apart and an ordinary visit on one page.
STYLE = "p, ul { margin-top: 0px; margin-bottom: 10px; } h2 { margin-top: 0px; margin-bottom: 10px; }"


@dataclass
class ReferralLetter:
    clinic: str
    patient_name: str
    patient_document: str
    patient_age: float | None  # contract years; None when unknown
    patient_sex: str
    doctor: str
    when: dt.datetime
    request: dict[str, Any]
    response: dict[str, Any]
    final_diagnosis: str  # "Name (CODE)"
    notes: str = ""
    symptom_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    vitals: list[VitalField] = field(default_factory=list)  # names and units: the bundle's and the contract's own
    clinic_place: str = ""  # municipality
    patient_birth: dt.date | None = None
    patient_village: str = ""
    receiving_facility: str = ""
    registration: str = ""  # the doctor's professional registration number
    term_labels: dict[str, str] = field(default_factory=dict)  # extra and absent findings: HPO id -> words


def _vitals(letter: ReferralLetter, lang: str) -> str:
    """Each measured value with its unit ('Presión arterial sistólica 168 mmHg'), in the screen's order."""
    e = html.escape
    described = {v.key: v for v in letter.vitals}
    values = letter.request.get("vitals") or {}
    order = [v.key for v in letter.vitals if v.key in values] + [k for k in values if k not in described]
    parts = []
    for key in order:
        parts.append(e(vital_text(described[key], values[key], lang)) if key in described
                     else f"{e(key)} {format_number(values[key])}")
    return ", ".join(parts)


def _triage(response: dict[str, Any], lang: str) -> str:
    """The WHO ETAT level and its reasons, then NEWS2/qSOFA when computed (nothing for a pre-v2 answer)."""
    e = html.escape
    triage = response.get("triage")
    out = ""
    if triage:
        reasons = "".join(f"<li>{e(r['message'][lang])}</li>" for r in triage["reasons"])
        out += (f"<p><b>{tr('referral.triage', lang=lang)}</b>: <b>{e(triage['label'][lang])}</b></p>"
                + (f"<ul>{reasons}</ul>" if reasons else ""))
    scores = response.get("scores") or {}
    computed = [f"{name} {scores[key]}" for key, name in (("news2", "NEWS2"), ("qsofa", "qSOFA"))
                if scores.get(key) is not None]
    if computed:
        out += f"<p><b>{tr('referral.scores', lang=lang)}</b>: {' · '.join(computed)}</p>"
    return out


def _attention(response: dict[str, Any], lang: str) -> str:
    """The immediate-attention line, with the warning signs not already given as triage reasons."""
    if not response["requires_immediate_attention"]:
        return ""
    e = html.escape
    triage = response.get("triage")
    shown = {r["code"] for r in triage["reasons"]} if triage else set()
    others = [f for f in response["red_flags"] if f["code"] not in shown]
    out = f"<p><b>⚠ {tr('referral.attention', lang=lang)}</b></p>"
    if others:
        if triage:
            out += f"<p>{tr('referral.other_flags', lang=lang)}:</p>"
        out += "<ul>" + "".join(f"<li>{e(f['message'][lang])}</li>" for f in others) + "</ul>"
    return out


def render_html(letter: ReferralLetter, lang: str) -> str:
    def t(key: str, **params: object) -> str:
        return tr(f"referral.{key}", lang=lang, **params)

    e = html.escape
    r = letter.response
    request = letter.request
    not_given = t("not_given")
    findings = ", ".join(
        f"{e(letter.symptom_labels.get(k, {}).get(lang, k))} {t('intensity', value=v)}"
        for k, v in sorted(request.get("symptoms", {}).items(), key=lambda kv: -kv[1])
    )
    extra = ", ".join(f"{e(letter.term_labels.get(h, h))} ({e(h)})" for h in request.get("hpo_terms") or [])
    # What was looked for and not found narrows the receiving geneticist's differential as much as what was found.
    absent = ", ".join(f"{e(letter.term_labels.get(h, h))} ({e(h)})" for h in request.get("excluded_hpo_terms") or [])
    vitals = _vitals(letter, lang) or not_given
    examination = ""
    if request.get("consciousness"):
        examination += f"<p><b>{t('consciousness')}</b>: {e(avpu_text(request['consciousness'], lang))}</p>"
    if request.get("pregnancy"):
        examination += f"<p><b>{t('pregnancy')}</b>: {e(pregnancy_text(request['pregnancy'], lang))}</p>"
    if request.get("signs"):
        examination += (f"<p><b>{t('signs')}</b>: "
                        f"{e(', '.join(sign_text(code, lang) for code in request['signs']))}</p>")
    # One line, not a list: the differential is context for the receiving doctor, and five list lines are what
    # pushed an ordinary visit's signature off page 1.
    conditions = "; ".join(f"{e(c['name'][lang])} ({e(c['code'])}) {100 * c['probability']:.0f} %"
                           for c in r["top_conditions"])
    sex = {"F": "F", "M": "M"}.get(letter.patient_sex, "")
    duration = request.get("duration_days")
    duration_text = (f"<p><b>{t('duration')}</b>: {t('days', count=format_number(duration))}</p>"
                     if duration is not None else "")
    clinic = ", ".join(e(part) for part in (letter.clinic, letter.clinic_place) if part) or not_given
    birth = f"{letter.patient_birth:%Y-%m-%d}" if letter.patient_birth else not_given
    return f"""
<h2>{t('title')}</h2>
<table cellpadding="3">
<tr><td><b>{t('clinic')}</b></td><td>{clinic}</td></tr>
<tr><td><b>{t('receiving')}</b></td><td>{e(letter.receiving_facility) or not_given}</td></tr>
<tr><td><b>{t('date')}</b></td><td>{letter.when:%Y-%m-%d %H:%M}</td></tr>
<tr><td><b>{t('patient')}</b></td><td>{e(letter.patient_name)}</td></tr>
<tr><td><b>{t('document')}</b></td><td>{e(letter.patient_document) or not_given}</td></tr>
<tr><td><b>{t('birth')}</b></td><td>{birth}</td></tr>
<tr><td><b>{t('age_sex')}</b></td><td>{format_age(letter.patient_age, lang) or not_given} / {sex}</td></tr>
<tr><td><b>{t('village')}</b></td><td>{e(letter.patient_village) or not_given}</td></tr>
</table>
<p style="font-size: 4pt;">&#160;</p>
{_triage(r, lang)}
{duration_text}
<p><b>{t('findings')}</b>: {findings or not_given}</p>
{f"<p><b>{t('extra_findings')}</b>: {extra}</p>" if extra else ""}
{f"<p><b>{t('absent_findings')}</b>: {absent}</p>" if absent else ""}
<p><b>{t('vitals')}</b>: {vitals}</p>
{examination}
<p><b>{t('state')}</b>: {e(r['severity_label'][lang])}</p>
{_attention(r, lang)}
<p><b>{t('conditions')}</b>: {conditions}</p>
<p><b>{t('final')}</b>: {e(letter.final_diagnosis)}</p>
<p><b>{t('notes')}</b>: {e(letter.notes).replace(chr(10), "<br/>") or not_given}</p>
<p><b>{t('doctor')}</b>: {e(letter.doctor)}<br/>
<b>{t('registration')}</b>: {e(letter.registration) or not_given}<br/><br/><br/>
{SIGNATURE_LINE}<br/>{t('signature')}</p>
<hr/><p><small>{t('footer', version=e(r['model']['version']))}</small></p>
"""


def letter_document(letter: ReferralLetter, lang: str) -> QTextDocument:
    document = QTextDocument()
    font = QFont(document.defaultFont())
    font.setPointSizeF(FONT_POINTS)
    document.setDefaultFont(font)
    document.setDefaultStyleSheet(STYLE)
    document.setHtml(render_html(letter, lang))
    return document


def _signature_block(document: QTextDocument) -> Any:
    """The block of the doctor's name, registration number and signature line: the last one holding the line
    (the notes, typed by the doctor, come before it and may hold underscores too)."""
    block, found = document.firstBlock(), None
    while block.isValid():
        if SIGNATURE_LINE in block.text():
            found = block
        block = block.next()
    if found is None:
        raise ValueError("the letter has no signature line")
    return found


def paginate(document: QTextDocument, device: QPagedPaintDevice) -> float:
    """Lay the letter out on the pages of `device`, the signature block whole on one page; returns the height of
    the strip left below the text for the page number (device units)."""
    document.documentLayout().setPaintDevice(device)
    strip = device.logicalDpiY() * PAGE_NUMBER_STRIP_MM / 25.4
    document.setPageSize(QSizeF(device.width(), device.height() - strip))
    page = document.pageSize().height()
    layout = document.documentLayout()
    signature = _signature_block(document)
    top = layout.blockBoundingRect(signature).top()
    bottom = layout.blockBoundingRect(document.lastBlock()).bottom()
    if int(top // page) != int(bottom // page):
        keep = QTextBlockFormat(signature.blockFormat())
        keep.setPageBreakPolicy(QTextBlockFormat.PageBreakFlag.PageBreak_AlwaysBefore)
        QTextCursor(signature).setBlockFormat(keep)
    return strip


def paint_letter(document: QTextDocument, device: QPagedPaintDevice) -> int:
    """Print a paginated letter onto `device` page by page; returns the number of pages."""
    strip = paginate(document, device)
    width, page = document.pageSize().width(), document.pageSize().height()
    pages = document.pageCount()
    painter = QPainter()
    if not painter.begin(device):
        raise OSError("the printer or the PDF file could not be opened")
    try:
        for index in range(pages):
            if index:
                device.newPage()
            painter.save()
            painter.translate(0, -index * page)
            document.drawContents(painter, QRectF(0, index * page, width, page))
            painter.restore()
            if pages > 1:
                painter.setFont(document.defaultFont())
                painter.drawText(QRectF(0, page, width, strip),
                                 int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom),
                                 f"{index + 1}/{pages}")
    finally:
        painter.end()
    return pages


def print_letter(letter: ReferralLetter, printer: QPrinter, lang: str | None = None) -> None:
    """Send the letter to a printer the doctor chose in the system's print dialog (GUI thread)."""
    paint_letter(letter_document(letter, lang or translator().lang), printer)


def write_pdf(letter: ReferralLetter, target: Path, lang: str | None = None) -> Path:
    lang = lang or translator().lang
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    writer = QPdfWriter(str(partial))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(18, 18, 18, 18), QPageLayout.Unit.Millimeter)
    writer.setTitle(tr("referral.title", lang=lang))
    writer.setCreator("Vereda")
    paint_letter(letter_document(letter, lang), writer)
    del writer  # flushes and closes the file
    os.replace(partial, target)
    return target
