"""The contract v2 findings in words, for the screen and the referral letter: AVPU, pregnancy, signs, vitals.

One place for them so the consultation, the answer's explanation and the letter say the same thing. Every function
takes an optional `lang` for the letter, which is written in a chosen language on a worker thread.
"""

from __future__ import annotations

from typing import Any

from app.core.signs import signs
from app.ui.i18n import tr, translator
from app.ui.vital_fields import VitalField
from app.ui.widgets import format_number


def avpu_text(level: str | None, lang: str | None = None) -> str:
    """AVPU in words, not only its letter (a locum may not know the scale)."""
    texts = {None: tr("avpu.not_assessed", lang=lang), "A": tr("avpu.a", lang=lang), "V": tr("avpu.v", lang=lang),
             "P": tr("avpu.p", lang=lang), "U": tr("avpu.u", lang=lang)}
    return texts.get(level, str(level))


def pregnancy_status_text(status: str | None, lang: str | None = None) -> str:
    texts = {None: tr("pregnancy.not_recorded", lang=lang), "": tr("pregnancy.not_recorded", lang=lang),
             "not_pregnant": tr("pregnancy.not_pregnant", lang=lang), "pregnant": tr("pregnancy.pregnant", lang=lang),
             "postpartum": tr("pregnancy.postpartum", lang=lang), "unknown": tr("pregnancy.unknown", lang=lang)}
    return texts.get(status, str(status))


def pregnancy_text(pregnancy: dict[str, Any], lang: str | None = None) -> str:
    """'Embarazada, 34 semanas', 'Puerperio, 5 días desde el parto', 'No embarazada'."""
    status = pregnancy.get("status")
    if status == "pregnant" and pregnancy.get("weeks") is not None:
        return tr("pregnancy.summary_pregnant", lang=lang, weeks=format_number(pregnancy['weeks']))
    if status == "postpartum" and pregnancy.get("days_since_delivery") is not None:
        return tr("pregnancy.summary_postpartum", lang=lang, days=format_number(pregnancy['days_since_delivery']))
    return pregnancy_status_text(status, lang)


def sign_text(code: str, lang: str | None = None) -> str:
    vocabulary = signs()
    if code not in vocabulary.codes:
        return code
    label = vocabulary.sign(code).label
    return label.get(lang or translator().lang) or label["es"]


def vital_text(field: VitalField, value: float, lang: str | None = None) -> str:
    """'Presión arterial sistólica 168 mmHg': the value with its unit, always."""
    lang = lang or translator().lang
    label = field.label.get(lang) or field.label["es"]
    unit = field.unit.get(lang) or field.unit["es"]
    return f"{label} {format_number(value)} {unit}"
