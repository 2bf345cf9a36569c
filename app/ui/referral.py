"""The referral letter: one encounter as a PDF, in the current language, written with Qt's own PDF writer.

Safe to run on a worker thread (QTextDocument and QPdfWriter are reentrant and touch no widget). The letter is
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
from app.ui.i18n import translator
from app.ui.qt import QMarginsF, QPageLayout, QPageSize, QPdfWriter, QTextDocument

TEXT: dict[str, dict[str, str]] = {
    "title": {"es": "Carta de remisión", "en": "Referral letter"},
    "clinic": {"es": "Puesto de salud", "en": "Clinic"},
    "date": {"es": "Fecha", "en": "Date"},
    "patient": {"es": "Paciente", "en": "Patient"},
    "document": {"es": "Documento", "en": "Document"},
    "age_sex": {"es": "Edad / sexo", "en": "Age / sex"},
    "findings": {"es": "Hallazgos", "en": "Findings"},
    "vitals": {"es": "Signos vitales", "en": "Vital signs"},
    "state": {"es": "Estado clínico (apoyo a la decisión)", "en": "Clinical state (decision support)"},
    "attention": {"es": "Requiere atención inmediata", "en": "Needs immediate attention"},
    "conditions": {"es": "Condiciones probables", "en": "Likely conditions"},
    "final": {"es": "Diagnóstico del médico", "en": "Doctor's diagnosis"},
    "notes": {"es": "Notas", "en": "Notes"},
    "doctor": {"es": "Médico", "en": "Doctor"},
    "footer": {"es": "Generado por Vereda {version}. Apoyo a la decisión clínica; no sustituye el juicio clínico.",
               "en": "Produced by Vereda {version}. Clinical decision support; not a substitute for clinical "
                     "judgment."},
    "not_given": {"es": "no indicado", "en": "not given"},
}


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
    vital_labels: dict[str, dict[str, str]] = field(default_factory=dict)


def render_html(letter: ReferralLetter, lang: str) -> str:
    t = {k: v[lang] for k, v in TEXT.items()}
    e = html.escape
    r = letter.response
    findings = ", ".join(
        f"{e(letter.symptom_labels.get(k, {}).get(lang, k))} {v}/10"
        for k, v in sorted(letter.request.get("symptoms", {}).items(), key=lambda kv: -kv[1])
    )
    vitals = ", ".join(f"{e(letter.vital_labels.get(k, {}).get(lang, k))} {v:g}"
                       for k, v in (letter.request.get("vitals") or {}).items()) or t["not_given"]
    conditions = "".join(f"<li>{e(c['name'][lang])} ({e(c['code'])}): {100 * c['probability']:.0f} %</li>"
                         for c in r["top_conditions"])
    flags = "".join(f"<li>{e(f['message'][lang])}</li>" for f in r["red_flags"])
    attention = f"<p><b>⚠ {t['attention']}</b></p><ul>{flags}</ul>" if r["requires_immediate_attention"] else ""
    sex = {"F": {"es": "F", "en": "F"}, "M": {"es": "M", "en": "M"}}.get(letter.patient_sex, {}).get(lang, "")
    duration = letter.request.get("duration_days")
    duration_text = f" ({duration:g} d)" if duration is not None else ""
    return f"""
<h2>{t['title']}</h2>
<table cellpadding="3">
<tr><td><b>{t['clinic']}</b></td><td>{e(letter.clinic)}</td></tr>
<tr><td><b>{t['date']}</b></td><td>{letter.when:%Y-%m-%d %H:%M}</td></tr>
<tr><td><b>{t['patient']}</b></td><td>{e(letter.patient_name)}</td></tr>
<tr><td><b>{t['document']}</b></td><td>{e(letter.patient_document)}</td></tr>
<tr><td><b>{t['age_sex']}</b></td><td>{format_age(letter.patient_age, lang) or t['not_given']} / {sex}</td></tr>
</table>
<p><b>{t['findings']}</b>{duration_text}: {findings}</p>
<p><b>{t['vitals']}</b>: {vitals}</p>
<p><b>{t['state']}</b>: {e(r['severity_label'][lang])}</p>
{attention}
<p><b>{t['conditions']}</b></p><ul>{conditions}</ul>
<p><b>{t['final']}</b>: {e(letter.final_diagnosis)}</p>
<p><b>{t['notes']}</b>: {e(letter.notes) or t['not_given']}</p>
<p><b>{t['doctor']}</b>: {e(letter.doctor)}</p>
<hr/><p><small>{t['footer'].format(version=e(r['model']['version']))}</small></p>
"""


def write_pdf(letter: ReferralLetter, target: Path, lang: str | None = None) -> Path:
    lang = lang or translator().lang
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    writer = QPdfWriter(str(partial))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(18, 18, 18, 18), QPageLayout.Unit.Millimeter)
    writer.setTitle(TEXT["title"][lang])
    writer.setCreator("Vereda")
    document = QTextDocument()
    document.setHtml(render_html(letter, lang))
    document.print_(writer)
    del writer  # flushes and closes the file
    os.replace(partial, target)
    return target
