"""What the exports say when they cannot do what was asked, in Spanish and English (app/core/messages.py)."""

from __future__ import annotations

from app.core.messages import LocalisedError

MESSAGES: dict[str, dict[str, str]] = {
    "encounter_not_closed": {
        "es": "La consulta {encounter} no está cerrada: solo se exportan consultas con diagnóstico confirmado.",
        "en": "The encounter {encounter} is not closed: only encounters with a confirmed diagnosis are exported.",
    },
    "invalid_date": {
        "es": "{field}: «{value}» no es una fecha (use AAAA-MM-DD).",
        "en": "{field}: '{value}' is not a date (use YYYY-MM-DD).",
    },
    "invalid_period": {
        "es": "El periodo está al revés: --since {since} es posterior a --until {until}.",
        "en": "The period is backwards: --since {since} is after --until {until}.",
    },
    "referral_needs_one_encounter": {
        "es": "--referral-pdf adjunta la carta de una sola consulta: úselo con --encounter.",
        "en": "--referral-pdf attaches the letter of one encounter: use it with --encounter.",
    },
    "unreadable_file": {
        "es": "No se pudo leer {path}: {detail}",
        "en": "Could not read {path}: {detail}",
    },
    "unwritable_file": {
        "es": "No se pudo escribir {path}: {detail}",
        "en": "Could not write {path}: {detail}",
    },
    "invalid_notifiable_list": {
        "es": "La lista de enfermedades de notificación obligatoria {path} no es válida: {detail}",
        "en": "The notifiable disease list {path} is not valid: {detail}",
    },
}


class InteropError(LocalisedError):
    """A failure of an export that a person can act on."""

    MESSAGES = MESSAGES
    KIND = "export error"
    USER_FIXABLE = frozenset({"invalid_date", "invalid_period", "referral_needs_one_encounter", "unreadable_file"})
