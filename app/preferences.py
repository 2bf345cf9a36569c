"""Per-user preferences that must be known before anyone logs in: language and where the clinic's data live; and
what a doctor may keep without an administrator: the receiving facilities used in referral letters (last used
first).

A small JSON file in the platform's config folder, written atomically (temp file, fsync, rename), never pickle.
Clinic-wide settings (auto-lock minutes, central service, mode) live in the encrypted store instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app import paths
from app.core.files import write_json_atomic

log = logging.getLogger(__name__)
FILE = "preferences.json"
MAX_FACILITIES = 20


def config_dir() -> Path:
    return paths.config_dir()


def default_data_dir() -> Path:
    return paths.data_dir()


@dataclass
class Preferences:
    language: str = "es"
    data_dir: str = ""
    last_login: str = ""
    referral_facilities: list[str] = field(default_factory=list)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()

    @classmethod
    def load(cls, directory: Path | None = None) -> Preferences:
        path = (directory or config_dir()) / FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            # A damaged preferences file must not stop the clinic: start from defaults and say so in the log.
            log.warning("ignoring unreadable preferences %s: %s", path, exc)
            return cls()
        known: dict[str, Any] = {k: str(v) for k, v in raw.items()
                                 if k in ("language", "data_dir", "last_login")}
        facilities = raw.get("referral_facilities")
        if isinstance(facilities, list):
            known["referral_facilities"] = [str(f) for f in facilities if str(f).strip()][:MAX_FACILITIES]
        return cls(**known)

    def remember_facility(self, name: str) -> None:
        """Put `name` first in the list of receiving facilities."""
        name = name.strip()
        if name:
            self.referral_facilities = [name, *(f for f in self.referral_facilities if f != name)][:MAX_FACILITIES]

    def save(self, directory: Path | None = None) -> None:
        folder = directory or config_dir()
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / FILE, asdict(self))
