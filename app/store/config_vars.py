"""Every setting Vereda keeps in the clinic's encrypted database, declared once: key, type, default, who may change
it, whether it is secret, and whether it belongs to the clinic or to each user (Electrum's `ConfigVar`).

Code reads and writes settings only through these declarations (`store.settings.get(MODE)`,
`store.settings.set(LANGUAGE, "en")`), never by a key written as a string; `app/store/settings.py` checks the type,
the allowed values and the permission. `changed_by` names a permission of app/store/context.py: "maintain" is the
administrator's, "sync" whoever syncs (the sync client writes its state on behalf of a doctor), "own_preferences"
anyone, for their own value only.

A per-user setting may fall back to a clinic setting when the user has not chosen (the language the clinic was set
up in) and may be capped by one (nobody's screen stays unlocked longer than the administrator allows).

No SQLAlchemy here: the sync client and the UI import these names at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.store.messages import StoreError

CLINIC, USER = "clinic", "user"
MODES = ("offline", "hybrid", "cloud")
LANGUAGES = ("es", "en")
# Countries whose identity documents the patient form knows (app/ui/document_types.py), ISO 3166-1 alpha-2.
COUNTRIES = ("CO", "PE", "EC", "BO", "VE")


@dataclass(frozen=True, eq=False)
class ConfigVar:
    """One setting. Two declarations may share a key when their scopes differ (stored apart)."""

    key: str
    type: type
    default: Any
    changed_by: str
    scope: str = CLINIC
    secret: bool = False  # the audit log records "set", never the value
    choices: tuple[Any, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    fallback: ConfigVar | None = None  # user scope: the clinic setting read when the user has no value
    at_most: ConfigVar | None = None  # user scope: the clinic setting that caps the value
    doc: str = ""

    def storage_key(self, user_id: str) -> str:
        """The row's key in the `settings` table (per-user values are kept apart by the user's id)."""
        return self.key if self.scope == CLINIC else f"user:{user_id}:{self.key}"

    def expected(self) -> str:
        """What the setting takes, for the refusal message."""
        if self.choices:
            return ", ".join(str(c) for c in self.choices)
        if self.minimum is not None or self.maximum is not None:
            return f"{self.type.__name__} {self.minimum if self.minimum is not None else ''}–" \
                   f"{self.maximum if self.maximum is not None else ''}"
        return self.type.__name__

    def validate(self, value: Any) -> Any:
        """`value` if this setting takes it; else `invalid_setting`. None clears a setting that has no default."""
        if value is None:
            if self.default is None:
                return None
        elif isinstance(value, self.type) and not (isinstance(value, bool) and self.type is not bool):
            in_range = not isinstance(value, (int, float)) or (
                (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum))
            if (not self.choices or value in self.choices) and in_range:
                return value
        raise StoreError("invalid_setting", key=self.key, expected=self.expected())


# The clinic's ------------------------------------------------------------------------------------------------------
MODE = ConfigVar("mode", str, "offline", "maintain", choices=MODES,
                 doc="offline, hybrid (the central service when it answers) or cloud")
CENTRAL_URL = ConfigVar("central_url", str, None, "maintain", doc="the central service, https://…")
AUTO_LOCK_LIMIT = ConfigVar("auto_lock_minutes", int, 10, "maintain", minimum=1, maximum=120,
                            doc="the clinic's idle limit: every user's auto-lock is at most this")
CLINIC_LANGUAGE = ConfigVar("language", str, "es", "maintain", choices=LANGUAGES,
                            doc="the language chosen at setup: each user's until they choose their own")
COUNTRY = ConfigVar("country", str, "CO", "maintain", choices=COUNTRIES,
                    doc="where the clinic is: which identity documents the patient form offers")
# The sync state, written by whoever syncs ----------------------------------------------------------------------------
DEVICE_TOKEN = ConfigVar("device_token", str, None, "sync", secret=True, doc="this laptop's credential")
DEVICE_ID = ConfigVar("device_id", int, None, "sync")
CENTRAL_CLINIC_ID = ConfigVar("central_clinic_id", str, None, "sync")
CENTRAL_CLINIC_NAME = ConfigVar("central_clinic_name", str, None, "sync")
ENROLLMENT_CODE = ConfigVar("enrollment_code", str, None, "sync",
                            doc="a one-time code typed at setup, spent at the first sync")
LAST_SYNC = ConfigVar("last_sync", str, None, "sync", doc="UTC time of the last sync that reached the service")
LAST_SYNC_RESULT = ConfigVar("last_sync_result", dict, None, "sync")
# Each user's own ---------------------------------------------------------------------------------------------------
LANGUAGE = ConfigVar("language", str, None, "own_preferences", scope=USER, choices=LANGUAGES,
                     fallback=CLINIC_LANGUAGE)
AUTO_LOCK = ConfigVar("auto_lock_minutes", int, None, "own_preferences", scope=USER, minimum=1, maximum=120,
                      fallback=AUTO_LOCK_LIMIT, at_most=AUTO_LOCK_LIMIT)

REGISTRATION_NUMBER = ConfigVar("registration_number", str, None, "own_preferences", scope=USER,
                                doc="the professional registration number printed on this person's referral letters")

SETTINGS: tuple[ConfigVar, ...] = (MODE, CENTRAL_URL, AUTO_LOCK_LIMIT, CLINIC_LANGUAGE, COUNTRY, DEVICE_TOKEN,
                                   DEVICE_ID, CENTRAL_CLINIC_ID, CENTRAL_CLINIC_NAME, ENROLLMENT_CODE, LAST_SYNC,
                                   LAST_SYNC_RESULT, LANGUAGE, AUTO_LOCK, REGISTRATION_NUMBER)
