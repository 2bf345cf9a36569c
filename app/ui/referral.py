"""The referral letter: one encounter as a PDF, in the current language, written with Qt's own PDF writer.

The letter puts first what the receiving hospital acts on: the WHO ETAT triage level and its reasons, NEWS2 and
qSOFA when computed; then the findings, the vitals with their units, AVPU, pregnancy and the examination signs.
Safe to run on a worker thread (QTextDocument and QPdfWriter are reentrant and touch no widget; the catalogs are
only read). The letter is
written to a temporary file beside the target and moved into place, so a half-written PDF never reaches the
referral hospital.
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
from app.ui.qt import QMarginsF, QPageLayout, QPageSize, QPdfWriter, QTextDocument
from app.ui.vital_fields import VitalField


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


def _vitals(letter: ReferralLetter, lang: str) -> str:
    """Each measured value with its unit ('Presión arterial sistólica 168 mmHg'), in the screen's order."""
    e = html.escape
    described = {v.key: v for v in letter.vitals}
    values = letter.request.get("vitals") or {}
    order = [v.key for v in letter.vitals if v.key in values] + [k for k in values if k not in described]
    parts = []
    for key in order:
        parts.append(e(vital_text(described[key], values[key], lang)) if key in described
                     else f"{e(key)} {values[key]:g}")
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
        f"{e(letter.symptom_labels.get(k, {}).get(lang, k))} {v}/10"
        for k, v in sorted(request.get("symptoms", {}).items(), key=lambda kv: -kv[1])
    )
    vitals = _vitals(letter, lang) or not_given
    examination = ""
    if request.get("consciousness"):
        examination += f"<p><b>{t('consciousness')}</b>: {e(avpu_text(request['consciousness'], lang))}</p>"
    if request.get("pregnancy"):
        examination += f"<p><b>{t('pregnancy')}</b>: {e(pregnancy_text(request['pregnancy'], lang))}</p>"
    if request.get("signs"):
        examination += (f"<p><b>{t('signs')}</b>: "
                        f"{e(', '.join(sign_text(code, lang) for code in request['signs']))}</p>")
    conditions = "".join(f"<li>{e(c['name'][lang])} ({e(c['code'])}): {100 * c['probability']:.0f} %</li>"
                         for c in r["top_conditions"])
    sex = {"F": "F", "M": "M"}.get(letter.patient_sex, "")
    duration = request.get("duration_days")
    duration_text = f" ({duration:g} d)" if duration is not None else ""
    return f"""
<h2>{t('title')}</h2>
<table cellpadding="3">
<tr><td><b>{t('clinic')}</b></td><td>{e(letter.clinic)}</td></tr>
<tr><td><b>{t('date')}</b></td><td>{letter.when:%Y-%m-%d %H:%M}</td></tr>
<tr><td><b>{t('patient')}</b></td><td>{e(letter.patient_name)}</td></tr>
<tr><td><b>{t('document')}</b></td><td>{e(letter.patient_document)}</td></tr>
<tr><td><b>{t('age_sex')}</b></td><td>{format_age(letter.patient_age, lang) or not_given} / {sex}</td></tr>
</table>
{_triage(r, lang)}
<p><b>{t('findings')}</b>{duration_text}: {findings or not_given}</p>
<p><b>{t('vitals')}</b>: {vitals}</p>
{examination}
<p><b>{t('state')}</b>: {e(r['severity_label'][lang])}</p>
{_attention(r, lang)}
<p><b>{t('conditions')}</b></p><ul>{conditions}</ul>
<p><b>{t('final')}</b>: {e(letter.final_diagnosis)}</p>
<p><b>{t('notes')}</b>: {e(letter.notes) or not_given}</p>
<p><b>{t('doctor')}</b>: {e(letter.doctor)}</p>
<hr/><p><small>{t('footer', version=e(r['model']['version']))}</small></p>
"""


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
    document = QTextDocument()
    document.setHtml(render_html(letter, lang))
    document.print_(writer)
    del writer  # flushes and closes the file
    os.replace(partial, target)
    return target
